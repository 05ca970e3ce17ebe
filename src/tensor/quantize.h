// Conversion between f32 and the stored ggml weight formats (block layouts in blocks.h).
// Dequantization matches llama.cpp's dequantize_row_* bit for bit; quantization matches its
// reference quantizers (quantize_row_*_ref) bit for bit where it is offered.
#pragma once

#include <cstdint>

#include "gguf/tensor_type.h"

namespace locus::tensor {

using gguf::GgmlType;

bool can_dequantize(GgmlType type);
bool can_quantize(GgmlType type);

// n must be a multiple of the type's block size. Return false (and write nothing) for a type
// this build cannot convert, or a partial block; that is the caller's error to report.
// Blocks are read and written in place, so the block pointer must be aligned like the block's
// widest field (2 bytes for fp16 scales, 4 for Q8_K and F32): true of GGUF tensor data (32-byte
// aligned) and of whole rows within it.
bool dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);
bool quantize_row(GgmlType type, const float* src, void* dst, int64_t n);

// Scalar IEEE half / bfloat16 conversions (round to nearest even, as ggml does).
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);

}  // namespace locus::tensor
