// Dispatch from a ggml type to its row kernels.
#include "tensor/quantize.h"

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>

#include "tensor/blocks.h"
#include "tensor/row_kernels.h"

namespace locus::tensor {
namespace {

struct RowCodec {
  GgmlType type;
  kernels::DequantizeRowFn dequantize;
  kernels::QuantizeRowFn quantize;  // nullptr: no reference quantizer (f32 in, this type out)
  size_t alignment;                 // of the block struct, which kernels access in place
};

// IQ1_*/IQ2_*/IQ3_* (lattice-grid formats) and the integer types have no entry: this build
// cannot convert them.
constexpr std::array kCodecs = {
    RowCodec{GgmlType::F32, kernels::dequantize_f32, kernels::quantize_f32, alignof(float)},
    RowCodec{GgmlType::F16, kernels::dequantize_f16, kernels::quantize_f16, alignof(uint16_t)},
    RowCodec{GgmlType::BF16, kernels::dequantize_bf16, kernels::quantize_bf16, alignof(uint16_t)},
    RowCodec{GgmlType::Q4_0, kernels::dequantize_q4_0, kernels::quantize_q4_0, alignof(BlockQ4_0)},
    RowCodec{GgmlType::Q4_1, kernels::dequantize_q4_1, kernels::quantize_q4_1, alignof(BlockQ4_1)},
    RowCodec{GgmlType::Q5_0, kernels::dequantize_q5_0, kernels::quantize_q5_0, alignof(BlockQ5_0)},
    RowCodec{GgmlType::Q5_1, kernels::dequantize_q5_1, kernels::quantize_q5_1, alignof(BlockQ5_1)},
    RowCodec{GgmlType::Q8_0, kernels::dequantize_q8_0, kernels::quantize_q8_0, alignof(BlockQ8_0)},
    RowCodec{GgmlType::Q8_1, kernels::dequantize_q8_1, kernels::quantize_q8_1, alignof(BlockQ8_1)},
    RowCodec{GgmlType::Q2_K, kernels::dequantize_q2_k, kernels::quantize_q2_k, alignof(BlockQ2_K)},
    RowCodec{GgmlType::Q3_K, kernels::dequantize_q3_k, kernels::quantize_q3_k, alignof(BlockQ3_K)},
    RowCodec{GgmlType::Q4_K, kernels::dequantize_q4_k, kernels::quantize_q4_k, alignof(BlockQ4_K)},
    RowCodec{GgmlType::Q5_K, kernels::dequantize_q5_k, kernels::quantize_q5_k, alignof(BlockQ5_K)},
    RowCodec{GgmlType::Q6_K, kernels::dequantize_q6_k, kernels::quantize_q6_k, alignof(BlockQ6_K)},
    RowCodec{GgmlType::Q8_K, kernels::dequantize_q8_k, kernels::quantize_q8_k, alignof(BlockQ8_K)},
    RowCodec{GgmlType::IQ4_NL, kernels::dequantize_iq4_nl, kernels::quantize_iq4_nl, alignof(BlockIq4Nl)},
    RowCodec{GgmlType::IQ4_XS, kernels::dequantize_iq4_xs, kernels::quantize_iq4_xs, alignof(BlockIq4Xs)},
    RowCodec{GgmlType::MXFP4, kernels::dequantize_mxfp4, kernels::quantize_mxfp4, alignof(BlockMxfp4)},
    RowCodec{GgmlType::NVFP4, kernels::dequantize_nvfp4, kernels::quantize_nvfp4, alignof(BlockNvfp4)},
    RowCodec{GgmlType::TQ1_0, kernels::dequantize_tq1_0, kernels::quantize_tq1_0, alignof(BlockTq1_0)},
    RowCodec{GgmlType::TQ2_0, kernels::dequantize_tq2_0, kernels::quantize_tq2_0, alignof(BlockTq2_0)},
    RowCodec{GgmlType::Q1_0, kernels::dequantize_q1_0, kernels::quantize_q1_0, alignof(BlockQ1_0)},
    RowCodec{GgmlType::Q2_0, kernels::dequantize_q2_0, kernels::quantize_q2_0, alignof(BlockQ2_0)},
};

const RowCodec* find_codec(GgmlType type) {
  for (const auto& codec : kCodecs) {
    if (codec.type == type) return &codec;
  }
  return nullptr;
}

bool whole_blocks(GgmlType type, int64_t n) {
  return n >= 0 && n % gguf::ggml_type_info(type).block_elements == 0;
}

}  // namespace

bool can_dequantize(GgmlType type) {
  const RowCodec* codec = find_codec(type);
  return codec != nullptr && codec->dequantize != nullptr;
}

bool can_quantize(GgmlType type) {
  const RowCodec* codec = find_codec(type);
  return codec != nullptr && codec->quantize != nullptr;
}

bool dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  const RowCodec* codec = find_codec(type);
  if (codec == nullptr || codec->dequantize == nullptr || !whole_blocks(type, n)) return false;
  assert(reinterpret_cast<uintptr_t>(src) % codec->alignment == 0);
  codec->dequantize(src, dst, n);
  return true;
}

bool quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
  const RowCodec* codec = find_codec(type);
  if (codec == nullptr || codec->quantize == nullptr || !whole_blocks(type, n)) return false;
  assert(reinterpret_cast<uintptr_t>(dst) % codec->alignment == 0);
  codec->quantize(src, dst, n);
  return true;
}

}  // namespace locus::tensor
