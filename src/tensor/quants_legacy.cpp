// The 32-weight legacy formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q8_1.
// Quantizers follow llama.cpp's quantize_row_*_ref step for step: the scale is taken from the
// block's extreme value in f32, stored as fp16, and the quants are computed with the f32 inverse
// of the unrounded scale, with the same truncating conversions. Any reordering of these float
// operations would change some quants, and files would no longer match llama.cpp's.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/quant_math.h"
#include "tensor/row_kernels.h"

namespace locus::tensor::kernels {
namespace {

// The value of largest magnitude (the first one on ties), which symmetric formats map to the
// most negative quant so its sign picks the scale's sign.
float signed_abs_max(const float* x, int n) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

float abs_max(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
  return amax;
}

struct Range {
  float min;
  float max;
};

Range value_range(const float* x, int n) {
  Range r{FLT_MAX, -FLT_MAX};
  for (int j = 0; j < n; ++j) {
    if (x[j] < r.min) r.min = x[j];
    if (x[j] > r.max) r.max = x[j];
  }
  return r;
}

// Bit 4 of each of 32 five-bit quants, gathered into the qh word (little-endian).
void store_high_bits(const uint8_t (&q)[32], uint8_t (&qh)[4]) {
  uint32_t bits = 0;
  for (int j = 0; j < 32; ++j) bits |= uint32_t{(q[j] >> 4) & 1u} << j;
  std::memcpy(qh, &bits, sizeof(bits));
}

uint32_t load_high_bits(const uint8_t (&qh)[4]) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof(bits));
  return bits;
}

}  // namespace

void quantize_q4_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_0*>(dst);
  for (int64_t b = 0; b < n / 32; ++b, src += 32) {
    BlockQ4_0& y = blocks[b];
    const float d = signed_abs_max(src, 32) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y.d = float_to_half(d);
    for (int j = 0; j < 16; ++j) {
      const int lo = std::min(15, int{truncate_to_int8(src[j] * id + 8.5f)});
      const int hi = std::min(15, int{truncate_to_int8(src[j + 16] * id + 8.5f)});
      y.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void dequantize_q4_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_0*>(src);
  for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
    const BlockQ4_0& x = blocks[b];
    const float d = half_to_float(x.d);
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>((x.qs[j] & 0xf) - 8) * d;
      dst[j + 16] = static_cast<float>((x.qs[j] >> 4) - 8) * d;
    }
  }
}

void quantize_q4_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_1*>(dst);
  for (int64_t b = 0; b < n / 32; ++b, src += 32) {
    BlockQ4_1& y = blocks[b];
    const Range r = value_range(src, 32);
    const float d = (r.max - r.min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y.d = float_to_half(d);
    y.m = float_to_half(r.min);
    for (int j = 0; j < 16; ++j) {
      const int lo = std::min(15, int{truncate_to_int8((src[j] - r.min) * id + 0.5f)});
      const int hi = std::min(15, int{truncate_to_int8((src[j + 16] - r.min) * id + 0.5f)});
      y.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void dequantize_q4_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_1*>(src);
  for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
    const BlockQ4_1& x = blocks[b];
    const float d = half_to_float(x.d);
    const float m = half_to_float(x.m);
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>(x.qs[j] & 0xf) * d + m;
      dst[j + 16] = static_cast<float>(x.qs[j] >> 4) * d + m;
    }
  }
}

void quantize_q5_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_0*>(dst);
  for (int64_t b = 0; b < n / 32; ++b, src += 32) {
    BlockQ5_0& y = blocks[b];
    const float d = signed_abs_max(src, 32) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y.d = float_to_half(d);
    uint8_t q[32];
    for (int j = 0; j < 32; ++j) {
      q[j] = static_cast<uint8_t>(std::min(31, int{truncate_to_int8(src[j] * id + 16.5f)}));
    }
    for (int j = 0; j < 16; ++j) y.qs[j] = static_cast<uint8_t>((q[j] & 0xf) | ((q[j + 16] & 0xf) << 4));
    store_high_bits(q, y.qh);
  }
}

void dequantize_q5_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_0*>(src);
  for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
    const BlockQ5_0& x = blocks[b];
    const float d = half_to_float(x.d);
    const uint32_t high = load_high_bits(x.qh);
    for (int j = 0; j < 16; ++j) {
      const int lo = static_cast<int>((x.qs[j] & 0xfu) | (((high >> j) & 1u) << 4));
      const int hi = static_cast<int>((x.qs[j] >> 4) | (((high >> (j + 16)) & 1u) << 4));
      dst[j] = static_cast<float>(lo - 16) * d;
      dst[j + 16] = static_cast<float>(hi - 16) * d;
    }
  }
}

void quantize_q5_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_1*>(dst);
  for (int64_t b = 0; b < n / 32; ++b, src += 32) {
    BlockQ5_1& y = blocks[b];
    const Range r = value_range(src, 32);
    const float d = (r.max - r.min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y.d = float_to_half(d);
    y.m = float_to_half(r.min);
    uint8_t q[32];
    for (int j = 0; j < 32; ++j) q[j] = truncate_to_uint8((src[j] - r.min) * id + 0.5f);
    for (int j = 0; j < 16; ++j) y.qs[j] = static_cast<uint8_t>((q[j] & 0xf) | ((q[j + 16] & 0xf) << 4));
    store_high_bits(q, y.qh);
  }
}

void dequantize_q5_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_1*>(src);
  for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
    const BlockQ5_1& x = blocks[b];
    const float d = half_to_float(x.d);
    const float m = half_to_float(x.m);
    const uint32_t high = load_high_bits(x.qh);
    for (int j = 0; j < 16; ++j) {
      const uint32_t lo = (x.qs[j] & 0xfu) | (((high >> j) & 1u) << 4);
      const uint32_t hi = (x.qs[j] >> 4) | (((high >> (j + 16)) & 1u) << 4);
      dst[j] = static_cast<float>(lo) * d + m;
      dst[j + 16] = static_cast<float>(hi) * d + m;
    }
  }
}

void quantize_q8_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / 32; ++b, src += 32) {
    BlockQ8_0& y = blocks[b];
    const float d = abs_max(src, 32) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y.d = float_to_half(d);
    for (int j = 0; j < 32; ++j) y.qs[j] = static_cast<int8_t>(round_half_away(src[j] * id));
  }
}

void dequantize_q8_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8_0*>(src);
  for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
    const BlockQ8_0& x = blocks[b];
    const float d = half_to_float(x.d);
    for (int j = 0; j < 32; ++j) dst[j] = static_cast<float>(x.qs[j]) * d;
  }
}

void quantize_q8_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_1*>(dst);
  for (int64_t b = 0; b < n / 32; ++b, src += 32) {
    BlockQ8_1& y = blocks[b];
    const float d = abs_max(src, 32) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y.d = float_to_half(d);
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      y.qs[j] = static_cast<int8_t>(round_half_away(src[j] * id));
      sum += y.qs[j];
    }
    // The sum uses the unrounded f32 scale, not the stored fp16 one.
    y.s = float_to_half(static_cast<float>(sum) * d);
  }
}

// ggml has no Q8_1 to f32 conversion (the format only feeds dot products); s is redundant here.
void dequantize_q8_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8_1*>(src);
  for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
    const BlockQ8_1& x = blocks[b];
    const float d = half_to_float(x.d);
    for (int j = 0; j < 32; ++j) dst[j] = static_cast<float>(x.qs[j]) * d;
  }
}

}  // namespace locus::tensor::kernels
