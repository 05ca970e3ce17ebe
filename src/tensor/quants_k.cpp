// K-quants Q4_K, Q5_K, Q6_K and the activation format Q8_K (Q2_K and Q3_K are in
// quants_k_low.cpp). Quantizers reproduce llama.cpp's quantize_row_*_ref bit for bit: per
// sub-block scale search (quant_search.h), six- or eight-bit quantization of the sub-block scales
// against an fp16 super-scale, then a final pass that requantizes every weight against the
// scales as they will be decoded.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/quant_math.h"
#include "tensor/quant_search.h"
#include "tensor/row_kernels.h"

namespace locus::tensor::kernels {
namespace {

struct ScaleMin {
  uint8_t scale;
  uint8_t min;
};

// Unpacks sub-block s's six-bit scale and min from the 12-byte field of Q4_K / Q5_K.
ScaleMin unpack_scale_min(const uint8_t (&packed)[12], int s) {
  if (s < 4) return {static_cast<uint8_t>(packed[s] & 63), static_cast<uint8_t>(packed[s + 4] & 63)};
  return {static_cast<uint8_t>((packed[s + 4] & 0xf) | ((packed[s - 4] >> 6) << 4)),
          static_cast<uint8_t>((packed[s + 4] >> 4) | ((packed[s] >> 6) << 4))};
}

// Super-blocks whose sub-block searches run side by side (8 or 16 sub-blocks each, so 32 or 64
// lanes: enough for the compiler to vectorize the lane loops well).
constexpr int kBatch = 4;

// Q4_K and Q5_K share everything but the quant width and the search grid. Quantizes `count`
// (<= kBatch) consecutive super-blocks; L receives each one's levels.
template <int kNmax, int kSteps, typename Block>
void quantize_scale_min_blocks(const float* x, int count, float rmin, Block* y, uint8_t (&L)[kBatch][kSuperBlock]) {
  constexpr int kLanes = 8 * kBatch;
  float xt[32][kLanes];
  load_groups(x, 8 * count, xt);
  // Weight errors by |x| plus the sub-block's RMS, so small weights still count.
  float sum_x2[kLanes] = {};
  for (int i = 0; i < 32; ++i) {
    for (int g = 0; g < kLanes; ++g) sum_x2[g] += xt[i][g] * xt[i][g];
  }
  float av_x[kLanes];
  for (int g = 0; g < kLanes; ++g) av_x[g] = std::sqrt(sum_x2[g] / 32);
  float weights[32][kLanes];
  for (int i = 0; i < 32; ++i) {
    for (int g = 0; g < kLanes; ++g) weights[i][g] = av_x[g] + std::fabs(xt[i][g]);
  }
  uint8_t levels[32][kLanes];
  float lane_scale[kLanes];
  float lane_min[kLanes];
  fit_affine<32, kLanes, kSteps, false>(xt, weights, kNmax, rmin, 0.1f, levels, lane_scale, lane_min);

  for (int k = 0; k < count; ++k) {
    const float* xb = x + kSuperBlock * k;
    const float* scales = lane_scale + 8 * k;
    const float* mins = lane_min + 8 * k;
    float max_scale = 0;
    float max_min = 0;
    for (int s = 0; s < 8; ++s) {
      for (int i = 0; i < 32; ++i) L[k][32 * s + i] = levels[i][8 * k + s];
      if (scales[s] > max_scale) max_scale = scales[s];
      if (mins[s] > max_min) max_min = mins[s];
    }

    // Six-bit sub-scales and sub-mins against two fp16 super-scales.
    uint8_t (&packed)[12] = y[k].scales;
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int s = 0; s < 8; ++s) {
      const uint8_t ls = std::min<uint8_t>(63, static_cast<uint8_t>(round_nearest_even(inv_scale * scales[s])));
      const uint8_t lm = std::min<uint8_t>(63, static_cast<uint8_t>(round_nearest_even(inv_min * mins[s])));
      if (s < 4) {
        packed[s] = ls;
        packed[s + 4] = lm;
      } else {
        packed[s + 4] = static_cast<uint8_t>((ls & 0xf) | ((lm & 0xf) << 4));
        packed[s - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
        packed[s] |= static_cast<uint8_t>((lm >> 4) << 6);
      }
    }
    y[k].d = float_to_half(max_scale / 63.f);
    y[k].dmin = float_to_half(max_min / 63.f);

    // Requantize against the scales as decoded; a sub-block whose scale rounded to zero keeps the
    // search's levels.
    const float d_all = half_to_float(y[k].d);
    const float dmin_all = half_to_float(y[k].dmin);
    for (int s = 0; s < 8; ++s) {
      const ScaleMin sm = unpack_scale_min(packed, s);
      const float d = d_all * sm.scale;
      if (d == 0.0f) continue;
      const float dm = dmin_all * sm.min;
      for (int i = 0; i < 32; ++i) {
        L[k][32 * s + i] = static_cast<uint8_t>(std::clamp(round_nearest_even((xb[32 * s + i] + dm) / d), 0, kNmax));
      }
    }
  }
}

// Finishes a Q6_K super-block from its sub-block search: eight-bit sub-scales against one fp16
// scale, then every weight requantized against the decoded sub-scales.
void finish_q6_k_block(const float* x, const float (&scales)[16], int8_t (&L)[kSuperBlock], BlockQ6_K& y) {
  float max_scale = 0;
  float max_abs_scale = 0;
  for (int s = 0; s < 16; ++s) {
    if (std::fabs(scales[s]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[s]);
      max_scale = scales[s];
    }
  }
  if (max_abs_scale < kGroupMaxEps) {
    std::memset(&y, 0, sizeof(y));
    return;
  }

  // The largest sub-scale maps to -128, so its sign is folded into d.
  const float iscale = -128.f / max_scale;
  y.d = float_to_half(1 / iscale);
  for (int s = 0; s < 16; ++s) {
    y.scales[s] = static_cast<int8_t>(std::min(127, round_nearest_even(iscale * scales[s])));
  }
  const float d_all = half_to_float(y.d);
  for (int s = 0; s < 16; ++s) {
    const float d = d_all * y.scales[s];
    if (d == 0.0f) continue;
    for (int i = 0; i < 16; ++i) {
      L[16 * s + i] = static_cast<int8_t>(std::clamp(round_nearest_even(x[16 * s + i] / d), -32, 31) + 32);
    }
  }

  for (int half = 0; half < 2; ++half) {
    const int8_t* Lh = L + 128 * half;
    uint8_t* ql = y.ql + 64 * half;
    uint8_t* qh = y.qh + 32 * half;
    for (int l = 0; l < 32; ++l) {
      const int q1 = Lh[l];
      const int q2 = Lh[l + 32];
      const int q3 = Lh[l + 64];
      const int q4 = Lh[l + 96];
      ql[l] = static_cast<uint8_t>((q1 & 0xf) | ((q3 & 0xf) << 4));
      ql[l + 32] = static_cast<uint8_t>((q2 & 0xf) | ((q4 & 0xf) << 4));
      qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
}

}  // namespace

void quantize_q4_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_K*>(dst);
  const int64_t n_blocks = n / kSuperBlock;
  for (int64_t b = 0; b < n_blocks; b += kBatch) {
    const int count = static_cast<int>(std::min<int64_t>(kBatch, n_blocks - b));
    uint8_t L[kBatch][kSuperBlock];
    quantize_scale_min_blocks<15, 20>(src + b * kSuperBlock, count, -1.0f, blocks + b, L);
    for (int k = 0; k < count; ++k) {
      BlockQ4_K& y = blocks[b + k];
      for (int c = 0; c < 4; ++c) {
        for (int l = 0; l < 32; ++l) {
          y.qs[32 * c + l] = static_cast<uint8_t>(L[k][64 * c + l] | (L[k][64 * c + l + 32] << 4));
        }
      }
    }
  }
}

void dequantize_q4_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_K*>(src);
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const BlockQ4_K& x = blocks[b];
    const float d = half_to_float(x.d);
    const float dmin = half_to_float(x.dmin);
    for (int c = 0; c < 4; ++c) {
      const ScaleMin lo = unpack_scale_min(x.scales, 2 * c);
      const ScaleMin hi = unpack_scale_min(x.scales, 2 * c + 1);
      const float d_lo = d * lo.scale;
      const float m_lo = dmin * lo.min;
      const float d_hi = d * hi.scale;
      const float m_hi = dmin * hi.min;
      const uint8_t* q = x.qs + 32 * c;
      for (int l = 0; l < 32; ++l) *dst++ = d_lo * static_cast<float>(q[l] & 0xf) - m_lo;
      for (int l = 0; l < 32; ++l) *dst++ = d_hi * static_cast<float>(q[l] >> 4) - m_hi;
    }
  }
}

void quantize_q5_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_K*>(dst);
  const int64_t n_blocks = n / kSuperBlock;
  for (int64_t b = 0; b < n_blocks; b += kBatch) {
    const int count = static_cast<int>(std::min<int64_t>(kBatch, n_blocks - b));
    uint8_t L[kBatch][kSuperBlock];
    quantize_scale_min_blocks<31, 15>(src + b * kSuperBlock, count, -0.5f, blocks + b, L);
    for (int k = 0; k < count; ++k) {
      BlockQ5_K& y = blocks[b + k];
      std::memset(y.qh, 0, sizeof(y.qh));
      for (int c = 0; c < 4; ++c) {
        for (int j = 0; j < 32; ++j) {
          const int lo = L[k][64 * c + j];
          const int hi = L[k][64 * c + j + 32];
          y.qh[j] |= static_cast<uint8_t>(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
          y.qs[32 * c + j] = static_cast<uint8_t>((lo & 0xf) | ((hi & 0xf) << 4));
        }
      }
    }
  }
}

void dequantize_q5_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_K*>(src);
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const BlockQ5_K& x = blocks[b];
    const float d = half_to_float(x.d);
    const float dmin = half_to_float(x.dmin);
    for (int c = 0; c < 4; ++c) {
      const ScaleMin lo = unpack_scale_min(x.scales, 2 * c);
      const ScaleMin hi = unpack_scale_min(x.scales, 2 * c + 1);
      const float d_lo = d * lo.scale;
      const float m_lo = dmin * lo.min;
      const float d_hi = d * hi.scale;
      const float m_hi = dmin * hi.min;
      const uint8_t* q = x.qs + 32 * c;
      for (int l = 0; l < 32; ++l) {
        const int high = (x.qh[l] >> (2 * c)) & 1;
        *dst++ = d_lo * static_cast<float>((q[l] & 0xf) + 16 * high) - m_lo;
      }
      for (int l = 0; l < 32; ++l) {
        const int high = (x.qh[l] >> (2 * c + 1)) & 1;
        *dst++ = d_hi * static_cast<float>((q[l] >> 4) + 16 * high) - m_hi;
      }
    }
  }
}

void quantize_q6_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ6_K*>(dst);
  const int64_t n_blocks = n / kSuperBlock;
  constexpr int kLanes = 16 * kBatch;
  for (int64_t b = 0; b < n_blocks; b += kBatch) {
    const int count = static_cast<int>(std::min<int64_t>(kBatch, n_blocks - b));
    const float* x = src + b * kSuperBlock;
    float xt[16][kLanes];
    load_groups(x, 16 * count, xt);
    int8_t levels[16][kLanes];
    float lane_scale[kLanes];
    fit_symmetric<16, kLanes>(xt, 32, levels, lane_scale);
    for (int k = 0; k < count; ++k) {
      float scales[16];
      int8_t L[kSuperBlock];
      for (int s = 0; s < 16; ++s) {
        scales[s] = lane_scale[16 * k + s];
        for (int i = 0; i < 16; ++i) L[16 * s + i] = levels[i][16 * k + s];
      }
      finish_q6_k_block(x + kSuperBlock * k, scales, L, blocks[b + k]);
    }
  }
}

void dequantize_q6_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ6_K*>(src);
  for (int64_t b = 0; b < n / kSuperBlock; ++b, dst += kSuperBlock) {
    const BlockQ6_K& x = blocks[b];
    const float d = half_to_float(x.d);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = x.ql + 64 * half;
      const uint8_t* qh = x.qh + 32 * half;
      const int8_t* sc = x.scales + 8 * half;
      float* y = dst + 128 * half;
      for (int l = 0; l < 32; ++l) {
        const int s = l / 16;
        const int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[s] * static_cast<float>(q1);
        y[l + 32] = d * sc[s + 2] * static_cast<float>(q2);
        y[l + 64] = d * sc[s + 4] * static_cast<float>(q3);
        y[l + 96] = d * sc[s + 6] * static_cast<float>(q4);
      }
    }
  }
}

void quantize_q8_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / kSuperBlock; ++b, src += kSuperBlock) {
    BlockQ8_K& y = blocks[b];
    float amax = 0;
    float max = 0;
    for (int j = 0; j < kSuperBlock; ++j) {
      if (std::fabs(src[j]) > amax) {
        amax = std::fabs(src[j]);
        max = src[j];
      }
    }
    if (amax == 0.0f) {
      // llama.cpp leaves bsums unwritten here; zero is their only sensible value.
      std::memset(&y, 0, sizeof(y));
      continue;
    }
    // -127 rather than -128 keeps every quant's negation in range, which int8 dot-product
    // kernels rely on.
    const float iscale = -127.f / max;
    for (int j = 0; j < kSuperBlock; ++j) {
      y.qs[j] = static_cast<int8_t>(std::min(127, round_nearest_even(iscale * src[j])));
    }
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += y.qs[16 * g + i];
      y.bsums[g] = static_cast<int16_t>(sum);
    }
    y.d = 1 / iscale;
  }
}

void dequantize_q8_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8_K*>(src);
  for (int64_t b = 0; b < n / kSuperBlock; ++b, dst += kSuperBlock) {
    const BlockQ8_K& x = blocks[b];
    for (int j = 0; j < kSuperBlock; ++j) dst[j] = x.d * static_cast<float>(x.qs[j]);
  }
}

}  // namespace locus::tensor::kernels
