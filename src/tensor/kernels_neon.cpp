// AArch64 NEON kernels: activation converters (byte-identical to kernels_scalar.cpp) and dot products
// for Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, F32 and F16, one token at a time. Integer products use the SDOT
// instruction (vdotq_s32) when the build targets it (__ARM_FEATURE_DOTPROD: Armv8.2-A with the dot-product
// extension, e.g. -march=armv8.2-a+dotprod or -mcpu=native on such a CPU), else widening multiplies.
// Every AArch64 CPU has NEON, so the level is chosen at compile time. This file is not built on x86; the
// project's x86 CI machines can only compile it (clang --target=aarch64), not run it.
#if defined(__ARM_NEON) && defined(__aarch64__)

#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/act_format.h"
#include "tensor/blocks.h"
#include "tensor/kernels.h"
#include "tensor/quant_math.h"

namespace locus::tensor::kernels {
namespace {

// acc + sum of products of four int8 pairs per int32 lane.
inline int32x4_t dot4(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(acc, a, b);
#else
  const int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
  const int16x8_t hi = vmull_high_s8(a, b);
  return vpadalq_s16(vpadalq_s16(acc, lo), hi);
#endif
}

inline int dot16(int8x16_t a, int8x16_t b) { return vaddvq_s32(dot4(vdupq_n_s32(0), a, b)); }

inline float fp16_round_trip(float v) { return half_to_float(float_to_half(v)); }

// ---- Activation conversion ----------------------------------------------------------------------------

// 16 floats times inv, rounded to nearest even, narrowed to int8 (values within int8 range).
inline int8x16_t quantize16(const float* x, float inv, int32x4_t& sum) {
  int32x4_t q[4];
  for (int i = 0; i < 4; ++i) q[i] = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 4 * i), inv));
  sum = vaddq_s32(sum, vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3])));
  const int16x8_t h0 = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
  const int16x8_t h1 = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
  return vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1));
}

inline float abs_max(const float* x, int n) {
  float32x4_t m = vdupq_n_f32(0);
  for (int i = 0; i < n; i += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + i)));
  return vmaxvq_f32(m);
}

template <bool kWithS, ActOrder kOrder = ActOrder::kNatural>
void quantize_q8_0_like(const float* x, uint8_t* dst, int64_t n, GgmlType type) {
  const ActLayout l = act_layout(type, n);
  auto* const row = reinterpret_cast<int8_t*>(dst);
  auto* d = reinterpret_cast<float*>(dst + l.d_offset);
  auto* nsum = reinterpret_cast<int32_t*>(dst + l.sum_offset);
  auto* s = reinterpret_cast<float*>(dst + l.s_offset);
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    const float amax = abs_max(x, 32);
    const float scale = amax / 127.0f;
    d[b] = fp16_round_trip(scale);
    const float inv = amax != 0.0f ? 127.0f / amax : 0.0f;  // as llama.cpp's x86 code (see kernels_scalar.cpp)
    int32x4_t sum = vdupq_n_s32(0);
    vst1q_s8(row + act_position(kOrder, 32 * b, n), quantize16(x, inv, sum));
    vst1q_s8(row + act_position(kOrder, 32 * b + 16, n), quantize16(x + 16, inv, sum));
    const int total = vaddvq_s32(sum);
    nsum[b] = -total;
    if constexpr (kWithS) s[b] = fp16_round_trip(scale * static_cast<float>(total));
  }
}

void quantize_act_q8_0(const float* x, uint8_t* dst, int64_t n) { quantize_q8_0_like<false>(x, dst, n, GgmlType::Q8_0); }
void quantize_act_q8_0_quad(const float* x, uint8_t* dst, int64_t n) {
  quantize_q8_0_like<false, ActOrder::kQuad>(x, dst, n, GgmlType::Q8_0);
}
void quantize_act_q8_1(const float* x, uint8_t* dst, int64_t n) { quantize_q8_0_like<true>(x, dst, n, GgmlType::Q8_1); }

template <ActOrder kOrder>
void quantize_act_q8_k(const float* x, uint8_t* dst, int64_t n) {
  auto [qs, d, bsums, sum32] = q8k_act_out(dst, n);
  for (int64_t b = 0; b < n / 256; ++b, x += 256, qs += 256, bsums += 16, sum32 += 8) {
    const float amax = abs_max(x, 256);
    if (amax == 0.0f) {
      d[b] = 0;
      std::memset(qs, 0, 256);
      std::memset(bsums, 0, 32);
      std::memset(sum32, 0, 16);
      continue;
    }
    int first = 0;  // the first value of that magnitude gives the sign of the scale
    while (std::fabs(x[first]) != amax) ++first;
    const float iscale = -127.0f / x[first];
    for (int g = 0; g < 16; ++g) {
      int32x4_t sum = vdupq_n_s32(0);
      // min(127, q): only +127.5 and up could exceed it, which |iscale * x| <= 127 rules out except for
      // rounding of the scale itself; the saturating narrowing gives the same 127.
      vst1q_s8(qs + act_position(kOrder, 16 * g, 256), quantize16(x + 16 * g, iscale, sum));
      bsums[g] = static_cast<int16_t>(vaddvq_s32(sum));
    }
    for (int g = 0; g < 8; ++g) sum32[g] = static_cast<int16_t>(bsums[2 * g] + bsums[2 * g + 1]);
    d[b] = 1 / iscale;
  }
}

// ---- Dot products --------------------------------------------------------------------------------------

struct Q8Row {
  const int8_t* qs;
  const float* d;
  Q8Row(const uint8_t* act, int64_t n) {
    const ActLayout l = act_layout(GgmlType::Q8_0, n);
    qs = reinterpret_cast<const int8_t*>(act);
    d = reinterpret_cast<const float*>(act + l.d_offset);
  }
};

// Activations in ActOrder::kQuad.
float dot_q4_0(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* x = reinterpret_cast<const BlockQ4_0*>(w);
  const Q8Row y(act, n);
  const uint8x16_t m4 = vdupq_n_u8(15);
  const int8x16_t eight = vdupq_n_s8(8);
  float32x4_t acc = vdupq_n_f32(0);
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8x16_t q = vld1q_u8(x[b].qs);
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, m4)), eight);
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
    const int32x4_t s = dot4(dot4(vdupq_n_s32(0), lo, vld1q_s8(y.qs + act_position(ActOrder::kQuad, 32 * b, n))), hi,
                             vld1q_s8(y.qs + act_position(ActOrder::kQuad, 32 * b + 16, n)));
    acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), half_to_float(x[b].d) * y.d[b]);
  }
  return vaddvq_f32(acc);
}

float dot_q8_0(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* x = reinterpret_cast<const BlockQ8_0*>(w);
  const Q8Row y(act, n);
  float32x4_t acc = vdupq_n_f32(0);
  for (int64_t b = 0; b < n / 32; ++b) {
    const int32x4_t s = dot4(dot4(vdupq_n_s32(0), vld1q_s8(x[b].qs), vld1q_s8(y.qs + 32 * b)), vld1q_s8(x[b].qs + 16),
                             vld1q_s8(y.qs + 32 * b + 16));
    acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), half_to_float(x[b].d) * y.d[b]);
  }
  return vaddvq_f32(acc);
}

// Q4_K / Q5_K; activations in ActOrder::kK4 (sub-block s stored contiguously at act_position(32 s)).
template <bool kFive>
float dot_q45_k(int64_t n, const uint8_t* w, const uint8_t* act) {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;
  const auto* x = reinterpret_cast<const Block*>(w);
  const Q8KAct y = q8k_act(act, n);
  const uint8x16_t m4 = vdupq_n_u8(15);
  float sumf = 0;
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    const Block& blk = x[sb];
    uint8_t sc[8], mn[8];
    for (int s = 0; s < 8; ++s) {
      if (s < 4) {
        sc[s] = blk.scales[s] & 63, mn[s] = blk.scales[s + 4] & 63;
      } else {
        sc[s] = static_cast<uint8_t>((blk.scales[s + 4] & 0xf) | ((blk.scales[s - 4] >> 6) << 4));
        mn[s] = static_cast<uint8_t>((blk.scales[s + 4] >> 4) | ((blk.scales[s] >> 6) << 4));
      }
    }
    int sumi = 0, summ = 0;
    for (int s = 0; s < 8; ++s) {
      const int c = s / 2;
      const int8_t* a = y.qs + act_position(ActOrder::kK4, 256 * sb + 32 * s, n);
      int32x4_t acc = vdupq_n_s32(0);
      for (int h = 0; h < 2; ++h) {
        const uint8x16_t raw = vld1q_u8(blk.qs + 32 * c + 16 * h);
        uint8x16_t q = s % 2 == 0 ? vandq_u8(raw, m4) : vshrq_n_u8(raw, 4);
        if constexpr (kFive) {
          const uint8x16_t bits = vtstq_u8(vld1q_u8(blk.qh + 16 * h), vdupq_n_u8(static_cast<uint8_t>(1 << s)));
          q = vorrq_u8(q, vandq_u8(bits, vdupq_n_u8(16)));
        }
        acc = dot4(acc, vreinterpretq_s8_u8(q), vld1q_s8(a + 16 * h));
      }
      sumi += sc[s] * vaddvq_s32(acc);
      summ += mn[s] * y.sum32[8 * sb + s];
    }
    sumf += half_to_float(blk.d) * y.d[sb] * static_cast<float>(sumi) -
            half_to_float(blk.dmin) * y.d[sb] * static_cast<float>(summ);
  }
  return sumf;
}

float dot_q6_k(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* x = reinterpret_cast<const BlockQ6_K*>(w);
  const Q8KAct y = q8k_act(act, n);
  const uint8x16_t m4 = vdupq_n_u8(15), m3 = vdupq_n_u8(3);
  const int8x16_t m32 = vdupq_n_s8(32);
  float sumf = 0;
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    const BlockQ6_K& blk = x[sb];
    const int8_t* a = y.qs + 256 * sb;
    int sumi = 0;
    for (int h = 0; h < 2; ++h) {
      for (int half = 0; half < 2; ++half) {
        const int l = 16 * half;
        const uint8x16_t ql0 = vld1q_u8(blk.ql + 64 * h + l), ql1 = vld1q_u8(blk.ql + 64 * h + 32 + l);
        const uint8x16_t qh = vld1q_u8(blk.qh + 32 * h + l);
        const uint8x16_t q[4] = {
            vorrq_u8(vandq_u8(ql0, m4), vshlq_n_u8(vandq_u8(qh, m3), 4)),
            vorrq_u8(vandq_u8(ql1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 2), m3), 4)),
            vorrq_u8(vshrq_n_u8(ql0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 4), m3), 4)),
            vorrq_u8(vshrq_n_u8(ql1, 4), vshlq_n_u8(vshrq_n_u8(qh, 6), 4)),
        };
        for (int i = 0; i < 4; ++i) {
          const int e = 128 * h + 32 * i + l;  // first element; sub-block e / 16
          sumi += blk.scales[e / 16] * dot16(vsubq_s8(vreinterpretq_s8_u8(q[i]), m32), vld1q_s8(a + e));
        }
      }
    }
    sumf += half_to_float(blk.d) * y.d[sb] * static_cast<float>(sumi);
  }
  return sumf;
}

float dot_f32(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* a = reinterpret_cast<const float*>(w);
  const auto* b = reinterpret_cast<const float*>(act);
  float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 4; ++k) acc[k] = vfmaq_f32(acc[k], vld1q_f32(a + i + 4 * k), vld1q_f32(b + i + 4 * k));
  }
  float s = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

float dot_f16(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* a = reinterpret_cast<const uint16_t*>(w);
  const auto* b = reinterpret_cast<const uint16_t*>(act);
  float32x4_t acc[2] = {vdupq_n_f32(0), vdupq_n_f32(0)};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 2; ++k) {
      const float32x4_t fa = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(a + i + 4 * k)));
      const float32x4_t fb = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(b + i + 4 * k)));
      acc[k] = vfmaq_f32(acc[k], fa, fb);
    }
  }
  float s = vaddvq_f32(vaddq_f32(acc[0], acc[1]));
  for (; i < n; ++i) s += half_to_float(a[i]) * half_to_float(b[i]);
  return s;
}

template <float (*kDot)(int64_t, const uint8_t*, const uint8_t*)>
void gemv_by_dot(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                 size_t act_row_bytes, int n_tok, float* y, int64_t y_stride) {
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int t = 0; t < n_tok; ++t) y[t * y_stride + r] = kDot(n, w + r * w_row_bytes, act + t * act_row_bytes);
  }
}

}  // namespace

void register_neon(KernelSet& set) {
  set.act.q8_0 = quantize_act_q8_0;
  set.act.q8_0_quad = quantize_act_q8_0_quad;
  set.act.q8_1 = quantize_act_q8_1;
  set.act.q8_k = quantize_act_q8_k<ActOrder::kNatural>;
  set.act.q8_k_k4 = quantize_act_q8_k<ActOrder::kK4>;
  set[GgmlType::Q4_0].gemv = gemv_by_dot<dot_q4_0>;
  set[GgmlType::Q8_0].gemv = gemv_by_dot<dot_q8_0>;
  set[GgmlType::Q4_K].gemv = gemv_by_dot<dot_q45_k<false>>;
  set[GgmlType::Q5_K].gemv = gemv_by_dot<dot_q45_k<true>>;
  set[GgmlType::Q6_K].gemv = gemv_by_dot<dot_q6_k>;
  set[GgmlType::F32].gemv = gemv_by_dot<dot_f32>;
  set[GgmlType::F16].gemv = gemv_by_dot<dot_f16>;
}

}  // namespace locus::tensor::kernels

#endif  // __ARM_NEON && __aarch64__
