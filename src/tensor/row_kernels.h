// Scalar reference row kernels, one pair per weight format, reached through quantize.h's
// dispatch. Each takes n weights (a multiple of the format's block size; checked by the caller)
// and a block array as laid out in blocks.h. SIMD versions added later are tested against these.
#pragma once

#include <cstdint>

namespace locus::tensor::kernels {

using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n);

// Plain float formats (fp16.cpp).
void dequantize_f32(const void* src, float* dst, int64_t n);
void quantize_f32(const float* src, void* dst, int64_t n);
void dequantize_f16(const void* src, float* dst, int64_t n);
void quantize_f16(const float* src, void* dst, int64_t n);
void dequantize_bf16(const void* src, float* dst, int64_t n);
void quantize_bf16(const float* src, void* dst, int64_t n);

// 32-weight legacy formats (quants_legacy.cpp).
void dequantize_q4_0(const void* src, float* dst, int64_t n);
void quantize_q4_0(const float* src, void* dst, int64_t n);
void dequantize_q4_1(const void* src, float* dst, int64_t n);
void quantize_q4_1(const float* src, void* dst, int64_t n);
void dequantize_q5_0(const void* src, float* dst, int64_t n);
void quantize_q5_0(const float* src, void* dst, int64_t n);
void dequantize_q5_1(const void* src, float* dst, int64_t n);
void quantize_q5_1(const float* src, void* dst, int64_t n);
void dequantize_q8_0(const void* src, float* dst, int64_t n);
void quantize_q8_0(const float* src, void* dst, int64_t n);
void dequantize_q8_1(const void* src, float* dst, int64_t n);
void quantize_q8_1(const float* src, void* dst, int64_t n);

// K-quants (quants_k_low.cpp: Q2_K, Q3_K; quants_k.cpp: Q4_K, Q5_K, Q6_K, Q8_K).
void dequantize_q2_k(const void* src, float* dst, int64_t n);
void quantize_q2_k(const float* src, void* dst, int64_t n);
void dequantize_q3_k(const void* src, float* dst, int64_t n);
void quantize_q3_k(const float* src, void* dst, int64_t n);
void dequantize_q4_k(const void* src, float* dst, int64_t n);
void quantize_q4_k(const float* src, void* dst, int64_t n);
void dequantize_q5_k(const void* src, float* dst, int64_t n);
void quantize_q5_k(const float* src, void* dst, int64_t n);
void dequantize_q6_k(const void* src, float* dst, int64_t n);
void quantize_q6_k(const float* src, void* dst, int64_t n);
void dequantize_q8_k(const void* src, float* dst, int64_t n);
void quantize_q8_k(const float* src, void* dst, int64_t n);

// Non-linear and FP4 formats (quants_iq.cpp).
void dequantize_iq4_nl(const void* src, float* dst, int64_t n);
void quantize_iq4_nl(const float* src, void* dst, int64_t n);
void dequantize_iq4_xs(const void* src, float* dst, int64_t n);
void quantize_iq4_xs(const float* src, void* dst, int64_t n);
void dequantize_mxfp4(const void* src, float* dst, int64_t n);
void quantize_mxfp4(const float* src, void* dst, int64_t n);
void dequantize_nvfp4(const void* src, float* dst, int64_t n);
void quantize_nvfp4(const float* src, void* dst, int64_t n);

// Ternary and sub-2-bit formats (quants_lowbit.cpp).
void dequantize_tq1_0(const void* src, float* dst, int64_t n);
void quantize_tq1_0(const float* src, void* dst, int64_t n);
void dequantize_tq2_0(const void* src, float* dst, int64_t n);
void quantize_tq2_0(const float* src, void* dst, int64_t n);
void dequantize_q1_0(const void* src, float* dst, int64_t n);
void quantize_q1_0(const float* src, void* dst, int64_t n);
void dequantize_q2_0(const void* src, float* dst, int64_t n);
void quantize_q2_0(const float* src, void* dst, int64_t n);

}  // namespace locus::tensor::kernels
