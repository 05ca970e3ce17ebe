// The low-bit K-quants Q2_K (affine, 2 bits) and Q3_K (symmetric, 3 bits), bit-exact with
// llama.cpp's quantize_row_q2_K_ref / quantize_row_q3_K_ref and dequantize_row_*.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/quant_math.h"
#include "tensor/quant_search.h"
#include "tensor/row_kernels.h"

namespace locus::tensor::kernels {
namespace {

// Symmetric 3-bit fit of 16 weights, L - 4 in [-4, 3]: start from the largest magnitude mapped to
// -4, then coordinate descent (up to 5 sweeps) moving single levels while the x^2-weighted
// least-squares objective sumlx^2 / suml2 improves. Returns the scale; L gets level + 4.
float fit_q3_levels(const float* x, int8_t* L) {
  constexpr int kN = 16;
  constexpr int kNmax = 4;
  float amax = 0;
  float max = 0;
  for (int i = 0; i < kN; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < kN; ++i) L[i] = 0;
    return 0.0f;
  }
  const float iscale = static_cast<float>(-kNmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < kN; ++i) {
    const int l = std::clamp(round_nearest_even(iscale * x[i]), -kNmax, kNmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int sweep = 0; sweep < 5; ++sweep) {
    int changed = 0;
    for (int i = 0; i < kN; ++i) {
      const float w = x[i] * x[i];
      const float li = L[i];
      float slx = sumlx - w * x[i] * li;
      if (slx > 0) {
        float sl2 = suml2 - w * li * li;
        const int new_l = std::clamp(round_nearest_even(x[i] * sl2 / slx), -kNmax, kNmax - 1);
        if (new_l != L[i]) {
          const float nl = static_cast<float>(new_l);
          slx += w * x[i] * nl;
          sl2 += w * nl * nl;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<int8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  for (int i = 0; i < kN; ++i) L[i] = static_cast<int8_t>(L[i] + kNmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Sub-block s's six-bit Q3_K scale (still offset by 32).
int unpack_q3_scale(const uint8_t (&packed)[12], int s) {
  const int low = s < 8 ? packed[s] & 0xf : packed[s - 8] >> 4;
  const int high = (packed[8 + s % 4] >> (2 * (s / 4))) & 3;
  return low | (high << 4);
}

// Packs 2-bit values as Q2_K / Q3_K do: per 128-weight half, byte l holds l, l+32, l+64, l+96.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int half = 0; half < 2; ++half) {
    const uint8_t* Lh = L + 128 * half;
    for (int l = 0; l < 32; ++l) {
      qs[32 * half + l] = static_cast<uint8_t>(Lh[l] | (Lh[l + 32] << 2) | (Lh[l + 64] << 4) | (Lh[l + 96] << 6));
    }
  }
}

// Finishes a Q2_K super-block from its sub-block search: four-bit sub-scales and sub-mins against
// two fp16 super-scales, then every weight requantized against them as decoded.
void finish_q2_k_block(const float* x, const float (&scales)[16], const float (&mins)[16], uint8_t (&L)[kSuperBlock],
                       BlockQ2_K& y) {
  float max_scale = 0;
  float max_min = 0;
  for (int s = 0; s < 16; ++s) {
    if (scales[s] > max_scale) max_scale = scales[s];
    if (mins[s] > max_min) max_min = mins[s];
  }
  // Four-bit sub-scales and sub-mins against two fp16 super-scales.
  if (max_scale > 0) {
    const float iscale = 15.f / max_scale;
    for (int s = 0; s < 16; ++s) y.scales[s] = static_cast<uint8_t>(round_nearest_even(iscale * scales[s]));
    y.d = float_to_half(max_scale / 15.f);
  } else {
    std::memset(y.scales, 0, sizeof(y.scales));
    y.d = float_to_half(0.f);
  }
  if (max_min > 0) {
    const float iscale = 15.f / max_min;
    for (int s = 0; s < 16; ++s) {
      y.scales[s] |= static_cast<uint8_t>(round_nearest_even(iscale * mins[s]) << 4);
    }
    y.dmin = float_to_half(max_min / 15.f);
  } else {
    y.dmin = float_to_half(0.f);
  }

  const float d_all = half_to_float(y.d);
  const float dmin_all = half_to_float(y.dmin);
  for (int s = 0; s < 16; ++s) {
    const float d = d_all * (y.scales[s] & 0xf);
    if (d == 0.0f) continue;
    const float dm = dmin_all * (y.scales[s] >> 4);
    for (int i = 0; i < 16; ++i) {
      L[16 * s + i] = static_cast<uint8_t>(std::clamp(round_nearest_even((x[16 * s + i] + dm) / d), 0, 3));
    }
  }
  pack_2bit(L, y.qs);
}

}  // namespace

void quantize_q2_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ2_K*>(dst);
  const int64_t n_blocks = n / kSuperBlock;
  // Four super-blocks' sub-block searches run side by side (64 lanes); errors are weighted by |x|
  // and taken as absolute values.
  constexpr int kBatch = 4;
  constexpr int kLanes = 16 * kBatch;
  for (int64_t b = 0; b < n_blocks; b += kBatch) {
    const int count = static_cast<int>(std::min<int64_t>(kBatch, n_blocks - b));
    const float* x = src + b * kSuperBlock;
    float xt[16][kLanes];
    load_groups(x, 16 * count, xt);
    float weights[16][kLanes];
    for (int i = 0; i < 16; ++i) {
      for (int g = 0; g < kLanes; ++g) weights[i][g] = std::fabs(xt[i][g]);
    }
    uint8_t levels[16][kLanes];
    float lane_scale[kLanes];
    float lane_min[kLanes];
    fit_affine<16, kLanes, 15, true>(xt, weights, 3, -0.5f, 0.1f, levels, lane_scale, lane_min);
    for (int k = 0; k < count; ++k) {
      float scales[16];
      float mins[16];
      uint8_t L[kSuperBlock];
      for (int s = 0; s < 16; ++s) {
        scales[s] = lane_scale[16 * k + s];
        mins[s] = lane_min[16 * k + s];
        for (int i = 0; i < 16; ++i) L[16 * s + i] = levels[i][16 * k + s];
      }
      finish_q2_k_block(x + kSuperBlock * k, scales, mins, L, blocks[b + k]);
    }
  }
}

void dequantize_q2_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ2_K*>(src);
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const BlockQ2_K& x = blocks[b];
    const float d = half_to_float(x.d);
    const float dmin = half_to_float(x.dmin);
    int s = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = x.qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part, ++s) {
          const float dl = d * (x.scales[s] & 0xf);
          const float ml = dmin * (x.scales[s] >> 4);
          for (int l = 0; l < 16; ++l) {
            *dst++ = dl * static_cast<float>((q[16 * part + l] >> shift) & 3) - ml;
          }
        }
      }
    }
  }
}

void quantize_q3_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ3_K*>(dst);
  for (int64_t b = 0; b < n / kSuperBlock; ++b, src += kSuperBlock) {
    BlockQ3_K& y = blocks[b];
    int8_t L[kSuperBlock];
    float scales[16];
    float max_scale = 0;
    float amax = 0;
    for (int s = 0; s < 16; ++s) {
      scales[s] = fit_q3_levels(src + 16 * s, L + 16 * s);
      if (std::fabs(scales[s]) > amax) {
        amax = std::fabs(scales[s]);
        max_scale = scales[s];
      }
    }

    // Six-bit signed sub-scales, the largest mapped to -32 (its sign goes into d).
    std::memset(y.scales, 0, sizeof(y.scales));
    if (max_scale != 0.0f) {
      const float iscale = -32.f / max_scale;
      for (int s = 0; s < 16; ++s) {
        int8_t l = static_cast<int8_t>(round_nearest_even(iscale * scales[s]));
        l = static_cast<int8_t>(std::clamp<int>(l, -32, 31) + 32);
        if (s < 8) {
          y.scales[s] = static_cast<uint8_t>(l & 0xf);
        } else {
          y.scales[s - 8] |= static_cast<uint8_t>((l & 0xf) << 4);
        }
        y.scales[8 + s % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (s / 4)));
      }
      y.d = float_to_half(1 / iscale);
    } else {
      y.d = float_to_half(0.f);
    }

    const float d_all = half_to_float(y.d);
    for (int s = 0; s < 16; ++s) {
      const float d = d_all * static_cast<float>(unpack_q3_scale(y.scales, s) - 32);
      if (d == 0.0f) continue;
      for (int i = 0; i < 16; ++i) {
        L[16 * s + i] = static_cast<int8_t>(std::clamp(round_nearest_even(src[16 * s + i] / d), -4, 3) + 4);
      }
    }

    // Bit 2 of each level goes to hmask, the low two bits to qs.
    std::memset(y.hmask, 0, sizeof(y.hmask));
    uint8_t low[kSuperBlock];
    for (int j = 0; j < kSuperBlock; ++j) {
      if (L[j] > 3) y.hmask[j % 32] |= static_cast<uint8_t>(1u << (j / 32));
      low[j] = static_cast<uint8_t>(L[j] & 3);
    }
    pack_2bit(low, y.qs);
  }
}

void dequantize_q3_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ3_K*>(src);
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const BlockQ3_K& x = blocks[b];
    const float d_all = half_to_float(x.d);
    int s = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = x.qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2) {
        const int bit = 4 * half + shift / 2;
        for (int part = 0; part < 2; ++part, ++s) {
          const float dl = d_all * static_cast<float>(unpack_q3_scale(x.scales, s) - 32);
          for (int l = 0; l < 16; ++l) {
            const int low = (q[16 * part + l] >> shift) & 3;
            const int high = (x.hmask[16 * part + l] >> bit) & 1;
            *dst++ = dl * static_cast<float>(low - (high ? 0 : 4));
          }
        }
      }
    }
  }
}

}  // namespace locus::tensor::kernels
