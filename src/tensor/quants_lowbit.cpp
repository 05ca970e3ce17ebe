// Formats below 2.1 bits per weight: the ternary TQ1_0 / TQ2_0 ({-1, 0, 1} times one scale per
// 256) and the sign / 2-bit formats Q1_0 and Q2_0. Bit-exact with llama.cpp's quantize_row_*_ref
// and dequantize_row_*.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/quant_math.h"
#include "tensor/row_kernels.h"

namespace locus::tensor::kernels {
namespace {

float abs_max(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
  return amax;
}

// Ternary digit 0..2 (value + 1) of x at inverse scale id, as lroundf(x * id) + 1 narrowed to int.
// When id is infinite (the block's largest magnitude is subnormal) glibc's lroundf returns
// LONG_MIN, and LONG_MIN + 1 narrows to 1: the digit for 0, which this reproduces.
int trit_of(float x, float id) {
  const float v = x * id;
  if (!std::isfinite(v)) return 1;
  return round_half_away(v) + 1;
}

// count trits (most significant first) as a fixed-point fraction of 256 rounded up, so that
// decoding needs only multiplications (see BlockTq1_0). Fewer than 5 trits are shifted up to 5.
uint8_t pack_trits(const float* x, int stride, int count, float id) {
  int value = 0;
  for (int n = 0; n < count; ++n) value = value * 3 + trit_of(x[n * stride], id);
  for (int n = count; n < 5; ++n) value *= 3;
  return static_cast<uint8_t>((value * 256 + 242) / 243);
}

// Trit n (0 = most significant) of a packed byte, minus 1.
int unpack_trit(uint8_t byte, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const auto shifted = static_cast<uint8_t>(byte * kPow3[n]);
  return ((shifted * 3) >> 8) - 1;
}

}  // namespace

void quantize_tq1_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockTq1_0*>(dst);
  for (int64_t b = 0; b < n / kSuperBlock; ++b, src += kSuperBlock) {
    BlockTq1_0& y = blocks[b];
    const float d = abs_max(src, kSuperBlock);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y.d = float_to_half(d);
    for (int m = 0; m < 32; ++m) y.qs[m] = pack_trits(src + m, 32, 5, id);
    for (int m = 0; m < 16; ++m) y.qs[32 + m] = pack_trits(src + 160 + m, 16, 5, id);
    for (int j = 0; j < 4; ++j) y.qh[j] = pack_trits(src + 240 + j, 4, 4, id);
  }
}

void dequantize_tq1_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockTq1_0*>(src);
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const BlockTq1_0& x = blocks[b];
    const float d = half_to_float(x.d);
    for (int t = 0; t < 5; ++t) {
      for (int m = 0; m < 32; ++m) *dst++ = static_cast<float>(unpack_trit(x.qs[m], t)) * d;
    }
    for (int t = 0; t < 5; ++t) {
      for (int m = 0; m < 16; ++m) *dst++ = static_cast<float>(unpack_trit(x.qs[32 + m], t)) * d;
    }
    for (int t = 0; t < 4; ++t) {
      for (int j = 0; j < 4; ++j) *dst++ = static_cast<float>(unpack_trit(x.qh[j], t)) * d;
    }
  }
}

void quantize_tq2_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockTq2_0*>(dst);
  for (int64_t b = 0; b < n / kSuperBlock; ++b, src += kSuperBlock) {
    BlockTq2_0& y = blocks[b];
    const float d = abs_max(src, kSuperBlock);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y.d = float_to_half(d);
    for (int group = 0; group < 2; ++group) {
      const float* x = src + 128 * group;
      for (int m = 0; m < 32; ++m) {
        int byte = 0;
        for (int k = 0; k < 4; ++k) byte |= (trit_of(x[m + 32 * k], id) & 3) << (2 * k);
        y.qs[32 * group + m] = static_cast<uint8_t>(byte);
      }
    }
  }
}

void dequantize_tq2_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockTq2_0*>(src);
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const BlockTq2_0& x = blocks[b];
    const float d = half_to_float(x.d);
    for (int group = 0; group < 2; ++group) {
      for (int k = 0; k < 4; ++k) {
        for (int m = 0; m < 32; ++m) {
          const int q = (x.qs[32 * group + m] >> (2 * k)) & 3;
          *dst++ = static_cast<float>(q - 1) * d;
        }
      }
    }
  }
}

void quantize_q1_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ1_0*>(dst);
  for (int64_t b = 0; b < n / 128; ++b, src += 128) {
    BlockQ1_0& y = blocks[b];
    // The mean magnitude is the least-squares scale for sign-only codes.
    float sum_abs = 0.0f;
    for (int j = 0; j < 128; ++j) sum_abs += std::fabs(src[j]);
    y.d = float_to_half(sum_abs / 128.0f);
    std::memset(y.qs, 0, sizeof(y.qs));
    for (int j = 0; j < 128; ++j) {
      if (src[j] >= 0.0f) y.qs[j / 8] |= static_cast<uint8_t>(1u << (j % 8));
    }
  }
}

void dequantize_q1_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ1_0*>(src);
  for (int64_t b = 0; b < n / 128; ++b, dst += 128) {
    const BlockQ1_0& x = blocks[b];
    const float d = half_to_float(x.d);
    for (int j = 0; j < 128; ++j) dst[j] = ((x.qs[j / 8] >> (j % 8)) & 1) ? d : -d;
  }
}

void quantize_q2_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ2_0*>(dst);
  for (int64_t b = 0; b < n / 64; ++b, src += 64) {
    BlockQ2_0& y = blocks[b];
    float amax = 0.0f;
    for (int j = 0; j < 64; ++j) {
      if (std::fabs(src[j]) > amax) amax = std::fabs(src[j]);
    }
    const float id = amax > 0.0f ? 1.0f / amax : 0.0f;
    y.d = float_to_half(amax);
    std::memset(y.qs, 0, sizeof(y.qs));
    for (int j = 0; j < 64; ++j) {
      const int code = std::clamp(round_half_away(src[j] * id) + 1, 0, 3);
      y.qs[j / 4] |= static_cast<uint8_t>(code << (2 * (j % 4)));
    }
  }
}

void dequantize_q2_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ2_0*>(src);
  for (int64_t b = 0; b < n / 64; ++b, dst += 64) {
    const BlockQ2_0& x = blocks[b];
    const float d = half_to_float(x.d);
    for (int j = 0; j < 64; ++j) dst[j] = static_cast<float>(((x.qs[j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
  }
}

}  // namespace locus::tensor::kernels
