// Non-linear 4-bit formats (IQ4_NL, IQ4_XS: indices into a fixed 16-level grid) and the FP4
// formats (MXFP4, NVFP4: E2M1 values with power-of-two or E4M3 scales). Both families quantize by
// picking, per weight, the nearest grid level after scaling; bit-exact with llama.cpp's
// quantize_row_*_ref and dequantize_row_*.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/quant_math.h"
#include "tensor/quant_search.h"
#include "tensor/row_kernels.h"

namespace locus::tensor::kernels {
namespace {

// Index of the grid level nearest to x (the lower one on an exact tie), for a strictly
// increasing 16-level grid. The bisection and the float comparison are llama.cpp's, so levels
// chosen for values that fall exactly between two grid points agree with it (and NaN goes to the
// top level, as there).
constexpr int nearest_level(const int8_t (&levels)[16], float x) {
  if (x <= levels[0]) return 0;
  if (x >= levels[15]) return 15;
  int lo = 0;
  int hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < levels[mid]) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return x - levels[hi - 1] < levels[hi] - x ? hi - 1 : hi;
}

// The level nearest to 0, which is what a scale of zero maps every weight to.
constexpr int kIq4nlZeroLevel = nearest_level(kIq4nlValues, 0.0f);

struct Iq4Fit {
  float scale;
  bool empty;  // all weights below kGroupMaxEps; scale is 0 and no levels were chosen
};

// Scale search for one 32-weight group on the IQ4_NL grid, errors weighted by x^2. The first
// guess maps the largest magnitude to the grid's end (-127); with extra_trials > 0, scales mapping
// it to k - 127 (|k| <= extra_trials) are tried too. The levels of the first guess are left in L.
Iq4Fit fit_iq4_group(const float* x, int extra_trials, uint8_t* L) {
  float weight[32];
  for (int j = 0; j < 32; ++j) weight[j] = x[j] * x[j];
  float amax = 0;
  float max = 0;
  for (int j = 0; j < 32; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  if (amax < kGroupMaxEps) return {0.0f, true};

  const float first = static_cast<float>(kIq4nlValues[0]);
  float d = extra_trials > 0 ? -max / first : max / first;
  float id = 1 / d;
  float sumqx = 0;
  float sumq2 = 0;
  for (int j = 0; j < 32; ++j) {
    const int l = nearest_level(kIq4nlValues, id * x[j]);
    L[j] = static_cast<uint8_t>(l);
    const float q = kIq4nlValues[l];
    sumqx += weight[j] * q * x[j];
    sumq2 += weight[j] * q * q;
  }
  d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
  float best = d * sumqx;
  for (int k = -extra_trials; extra_trials > 0 && k <= extra_trials; ++k) {
    id = static_cast<float>(k + kIq4nlValues[0]) / max;
    sumqx = 0;
    sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
      const float q = kIq4nlValues[nearest_level(kIq4nlValues, id * x[j])];
      sumqx += weight[j] * q * x[j];
      sumq2 += weight[j] * q * q;
    }
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return {d, false};
}

void pack_nibbles_32(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
}

// 2^(e - 128): the E8M0 scale halved, to pair with the doubled E2M1 values.
float e8m0_half_to_float(uint8_t e) {
  return bits_float(e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23);
}

// The value of an unsigned E4M3 byte (bias 7, subnormals at exponent 0), halved like the E8M0 one.
// As in llama.cpp the top bit is ignored except that 0x7f (the NaN code) decodes as 0.
constexpr float ue4m3_half_value(unsigned x) {
  if (x == 0 || x == 0x7f) return 0.0f;
  const int exponent = static_cast<int>((x >> 3) & 0xf);
  const int mantissa = static_cast<int>(x & 7);
  if (exponent == 0) return static_cast<float>(mantissa) / 512.0f * 0.5f;
  float value = 1.0f + static_cast<float>(mantissa) / 8.0f;
  for (int e = exponent; e > 7; --e) value *= 2.0f;
  for (int e = exponent; e < 7; ++e) value *= 0.5f;
  return value * 0.5f;
}

constexpr auto kUe4m3HalfValues = [] {
  std::array<float, 256> table{};
  for (unsigned x = 0; x < 256; ++x) table[x] = ue4m3_half_value(x);
  return table;
}();

// Positive f32 to unsigned E4M3, the way llama.cpp rounds it: clamp to 448, round the mantissa
// half up, and saturate to 0x7e; subnormals round half up on the 2^-9 grid.
uint8_t float_to_ue4m3(float x) {
  if (!(x > 0.0f)) return 0;
  if (x > 448.0f) x = 448.0f;
  const uint32_t bits = float_bits(x);
  int exponent = static_cast<int>((bits >> 23) & 0xff) - 127 + 7;
  if (exponent <= 0) {
    const int mantissa = std::min(7, static_cast<int>(x * 512.0f + 0.5f));
    return mantissa < 1 ? 0 : static_cast<uint8_t>(mantissa);
  }
  if (exponent >= 15) return 0x7e;
  int mantissa = static_cast<int>((bits >> 20) & 7) + static_cast<int>((bits >> 19) & 1);
  if (mantissa > 7) {
    mantissa = 0;
    if (++exponent >= 15) return 0x7e;
  }
  return static_cast<uint8_t>((exponent << 3) | mantissa);
}

// Nearest doubled-E2M1 code to x at scale d (the first one on ties, so +0 beats -0).
uint8_t nearest_e2m1(float x, float d) {
  int best = 0;
  float best_error = std::fabs(kE2m1DoubledValues[0] * d - x);
  for (int i = 1; i < 16; ++i) {
    const float error = std::fabs(kE2m1DoubledValues[i] * d - x);
    if (error < best_error) {
      best = i;
      best_error = error;
    }
  }
  return static_cast<uint8_t>(best);
}

}  // namespace

// llama.cpp's reference leaves the codes of an all-zero block as whatever its scratch array held
// (its scale is 0, so any codes decode to zero); this writes the level nearest zero instead.
void quantize_iq4_nl(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockIq4Nl*>(dst);
  for (int64_t b = 0; b < n / 32; ++b, src += 32) {
    BlockIq4Nl& y = blocks[b];
    uint8_t L[32];
    const Iq4Fit fit = fit_iq4_group(src, 0, L);
    if (fit.empty) std::memset(L, kIq4nlZeroLevel, sizeof(L));
    y.d = float_to_half(fit.scale);
    pack_nibbles_32(L, y.qs);
  }
}

void dequantize_iq4_nl(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockIq4Nl*>(src);
  for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
    const BlockIq4Nl& x = blocks[b];
    const float d = half_to_float(x.d);
    for (int j = 0; j < 16; ++j) {
      dst[j] = d * static_cast<float>(kIq4nlValues[x.qs[j] & 0xf]);
      dst[j + 16] = d * static_cast<float>(kIq4nlValues[x.qs[j] >> 4]);
    }
  }
}

void quantize_iq4_xs(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockIq4Xs*>(dst);
  for (int64_t b = 0; b < n / kSuperBlock; ++b, src += kSuperBlock) {
    BlockIq4Xs& y = blocks[b];
    uint8_t L[kSuperBlock];
    float scales[8];
    float max_scale = 0;
    float amax_scale = 0;
    for (int s = 0; s < 8; ++s) {
      scales[s] = fit_iq4_group(src + 32 * s, 7, L + 32 * s).scale;
      if (std::fabs(scales[s]) > amax_scale) {
        amax_scale = std::fabs(scales[s]);
        max_scale = scales[s];
      }
    }

    // Six-bit sub-scales; the levels are chosen again against each rounded sub-scale (times the
    // unrounded super-scale, as llama.cpp does).
    const float d = -max_scale / 32;
    y.d = float_to_half(d);
    y.scales_h = 0;
    std::memset(y.scales_l, 0, sizeof(y.scales_l));
    const float id = d != 0.0f ? 1 / d : 0.f;
    for (int s = 0; s < 8; ++s) {
      const int l = std::clamp(round_nearest_even(id * scales[s]), -32, 31);
      const float dl = d * static_cast<float>(l);
      const float idl = dl != 0.0f ? 1 / dl : 0.f;
      for (int j = 0; j < 32; ++j) L[32 * s + j] = static_cast<uint8_t>(nearest_level(kIq4nlValues, idl * src[32 * s + j]));
      const int stored = l + 32;
      y.scales_l[s / 2] |= static_cast<uint8_t>((stored & 0xf) << (4 * (s % 2)));
      y.scales_h |= static_cast<uint16_t>((stored >> 4) << (2 * s));
    }
    for (int s = 0; s < 8; ++s) pack_nibbles_32(L + 32 * s, y.qs + 16 * s);
  }
}

void dequantize_iq4_xs(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockIq4Xs*>(src);
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const BlockIq4Xs& x = blocks[b];
    const float d = half_to_float(x.d);
    for (int s = 0; s < 8; ++s, dst += 32) {
      const int ls = ((x.scales_l[s / 2] >> (4 * (s % 2))) & 0xf) | (((x.scales_h >> (2 * s)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      const uint8_t* qs = x.qs + 16 * s;
      for (int j = 0; j < 16; ++j) {
        dst[j] = dl * static_cast<float>(kIq4nlValues[qs[j] & 0xf]);
        dst[j + 16] = dl * static_cast<float>(kIq4nlValues[qs[j] >> 4]);
      }
    }
  }
}

void quantize_mxfp4(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockMxfp4*>(dst);
  for (int64_t b = 0; b < n / 32; ++b, src += 32) {
    BlockMxfp4& y = blocks[b];
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) {
      if (amax < std::fabs(src[j])) amax = std::fabs(src[j]);
    }
    // The scale puts the largest magnitude in [4, 8), the top binade of E2M1 (max 6). log2f is
    // what llama.cpp uses: near powers of two its rounding decides the exponent, so no exact
    // frexp here.
    y.e = amax > 0.0f ? truncate_to_uint8(std::floor(std::log2(amax)) - 2 + 127) : 0;
    const float d = e8m0_half_to_float(y.e);
    for (int j = 0; j < 16; ++j) {
      y.qs[j] = static_cast<uint8_t>(nearest_e2m1(src[j], d) | (nearest_e2m1(src[j + 16], d) << 4));
    }
  }
}

void dequantize_mxfp4(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockMxfp4*>(src);
  for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
    const BlockMxfp4& x = blocks[b];
    const float d = e8m0_half_to_float(x.e);
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>(kE2m1DoubledValues[x.qs[j] & 0xf]) * d;
      dst[j + 16] = static_cast<float>(kE2m1DoubledValues[x.qs[j] >> 4]) * d;
    }
  }
}

void quantize_nvfp4(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockNvfp4*>(dst);
  for (int64_t b = 0; b < n / 64; ++b) {
    BlockNvfp4& y = blocks[b];
    for (int s = 0; s < 4; ++s, src += 16) {
      float amax = 0.0f;
      for (int j = 0; j < 16; ++j) {
        if (amax < std::fabs(src[j])) amax = std::fabs(src[j]);
      }
      // 6 is the largest E2M1 magnitude.
      y.d[s] = float_to_ue4m3(amax / 6.0f);
      const float d = kUe4m3HalfValues[y.d[s]];
      for (int j = 0; j < 8; ++j) {
        y.qs[8 * s + j] = static_cast<uint8_t>(nearest_e2m1(src[j], d) | (nearest_e2m1(src[j + 8], d) << 4));
      }
    }
  }
}

void dequantize_nvfp4(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockNvfp4*>(src);
  for (int64_t b = 0; b < n / 64; ++b) {
    const BlockNvfp4& x = blocks[b];
    for (int s = 0; s < 4; ++s, dst += 16) {
      const float d = kUe4m3HalfValues[x.d[s]];
      for (int j = 0; j < 8; ++j) {
        const uint8_t byte = x.qs[8 * s + j];
        dst[j] = static_cast<float>(kE2m1DoubledValues[byte & 0xf]) * d;
        dst[j + 8] = static_cast<float>(kE2m1DoubledValues[byte >> 4]) * d;
      }
    }
  }
}

}  // namespace locus::tensor::kernels
