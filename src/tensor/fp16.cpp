// Plain float formats: f32 (a copy), IEEE half and bfloat16, converted element by element.
#include <cstring>

#include "tensor/quant_math.h"
#include "tensor/quantize.h"
#include "tensor/row_kernels.h"

namespace locus::tensor {

float fp16_to_fp32(uint16_t h) { return half_to_float(h); }
uint16_t fp32_to_fp16(float f) { return float_to_half(f); }
float bf16_to_fp32(uint16_t h) { return bf16_bits_to_float(h); }
uint16_t fp32_to_bf16(float f) { return float_to_bf16_bits(f); }

namespace kernels {

void dequantize_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void quantize_f32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void dequantize_f16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = half_to_float(h[i]);
}

void quantize_f16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = float_to_half(src[i]);
}

void dequantize_bf16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_bits_to_float(h[i]);
}

void quantize_bf16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = float_to_bf16_bits(src[i]);
}

}  // namespace kernels
}  // namespace locus::tensor
