// Scalar reference kernels: activation conversion and one dot product per weight type, computed the way
// llama.cpp's generic vec_dot_*_q8_* functions compute them (integer sums per block or sub-block, then
// one float multiply-add per block). Every SIMD kernel is tested against these.
//
// Activation quantization follows what llama.cpp runs on CPUs, which is not always its reference
// quantizer: for q8_0 and q8_1 its x86 code uses 127 / amax as the inverse scale and rounds ties to even
// (quantize_row_q8_0_ref uses 1 / (amax / 127) and rounds ties away from zero), so the int8 values may
// differ in the last unit for a few inputs. q8_K is its reference quantizer on every CPU.
#include <cmath>
#include <cstring>

#include "tensor/act_format.h"
#include "tensor/blocks.h"
#include "tensor/kernels.h"
#include "tensor/quant_math.h"

namespace locus::tensor::kernels {
namespace {

// ---- Activation conversion --------------------------------------------------------------------------

float block_abs_max(const float* x, int n) {
  float amax = 0;
  for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}

template <bool kWithS, ActOrder kOrder = ActOrder::kNatural>
void quantize_q8_0_like(const float* x, uint8_t* dst, int64_t n, GgmlType type) {
  const ActLayout l = act_layout(type, n);
  auto* const row = reinterpret_cast<int8_t*>(dst);
  int8_t* qs = row;
  auto* d = reinterpret_cast<float*>(dst + l.d_offset);
  auto* nsum = reinterpret_cast<int32_t*>(dst + l.sum_offset);
  auto* s = reinterpret_cast<float*>(dst + l.s_offset);
  for (int64_t b = 0; b < n / 32; ++b, x += 32, qs += 32) {
    const float amax = block_abs_max(x, 32);
    const float scale = amax / 127.0f;
    d[b] = half_to_float(float_to_half(scale));
    const float inv = amax != 0.0f ? 127.0f / amax : 0.0f;
    int total = 0;
    for (int j = 0; j < 32; ++j) {
      const int q = round_nearest_even(x[j] * inv);
      row[act_position(kOrder, 32 * b + j, n)] = static_cast<int8_t>(q);
      total += q;
    }
    nsum[b] = -total;
    if constexpr (kWithS) s[b] = half_to_float(float_to_half(scale * static_cast<float>(total)));
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
    // The first value of largest magnitude decides the sign of the scale, as in llama.cpp.
    float amax = 0, max = 0;
    for (int j = 0; j < 256; ++j) {
      if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), max = x[j];
    }
    if (amax == 0.0f) {
      d[b] = 0;
      std::memset(qs, 0, 256);
      std::memset(bsums, 0, 32);
      std::memset(sum32, 0, 16);
      continue;
    }
    const float iscale = -127.0f / max;
    int8_t q[256];
    for (int j = 0; j < 256; ++j) q[j] = static_cast<int8_t>(std::min(127, round_nearest_even(iscale * x[j])));
    for (int g = 0; g < 16; ++g) {
      int total = 0;
      for (int j = 0; j < 16; ++j) total += q[16 * g + j];
      bsums[g] = static_cast<int16_t>(total);
    }
    for (int g = 0; g < 8; ++g) sum32[g] = static_cast<int16_t>(bsums[2 * g] + bsums[2 * g + 1]);
    for (int j = 0; j < 256; ++j) qs[act_position(kOrder, j, 256)] = q[j];
    d[b] = 1 / iscale;
  }
}

void quantize_act_f16(const float* x, uint8_t* dst, int64_t n) {
  auto* h = reinterpret_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = float_to_half(x[i]);
}

void quantize_act_bf16(const float* x, uint8_t* dst, int64_t n) {
  auto* h = reinterpret_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = float_to_bf16_bits(x[i]);
}

void quantize_act_f32(const float* x, uint8_t* dst, int64_t n) { std::memcpy(dst, x, static_cast<size_t>(n) * 4); }

// ---- Dot products -----------------------------------------------------------------------------------

struct Q8Row {  // one activation row of a q8_0 / q8_1 layout
  const int8_t* qs;
  const float* d;
  const int32_t* nsum;
  const float* s;
  int64_t n;
  ActOrder order;
  Q8Row(const uint8_t* act, int64_t n_, GgmlType type, ActOrder order_ = ActOrder::kNatural) : n(n_), order(order_) {
    const ActLayout l = act_layout(type, n);
    qs = reinterpret_cast<const int8_t*>(act);
    d = reinterpret_cast<const float*>(act + l.d_offset);
    nsum = reinterpret_cast<const int32_t*>(act + l.sum_offset);
    s = reinterpret_cast<const float*>(act + l.s_offset);
  }
  int q(int64_t i) const { return qs[act_position(order, i, n)]; }
};

float dot_f32(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* a = reinterpret_cast<const float*>(w);
  const auto* b = reinterpret_cast<const float*>(act);
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += double{a[i]} * b[i];
  return static_cast<float>(acc);
}

float dot_f16(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* a = reinterpret_cast<const uint16_t*>(w);
  const auto* b = reinterpret_cast<const uint16_t*>(act);
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += double{half_to_float(a[i])} * half_to_float(b[i]);
  return static_cast<float>(acc);
}

float dot_bf16(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* a = reinterpret_cast<const uint16_t*>(w);
  const auto* b = reinterpret_cast<const uint16_t*>(act);
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += double{bf16_bits_to_float(a[i])} * bf16_bits_to_float(b[i]);
  return static_cast<float>(acc);
}

// Low 4 bits of a legacy block's element j (j < 32): j < 16 in the low nibble of qs[j], else the high
// nibble of qs[j - 16].
inline int nibble(const uint8_t* qs, int j) { return j < 16 ? qs[j] & 15 : qs[j - 16] >> 4; }

inline int q5_high_bit(const uint8_t (&qh)[4], int j) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  return static_cast<int>((bits >> j) & 1u) << 4;
}

float dot_q4_0(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* x = reinterpret_cast<const BlockQ4_0*>(w);
  const Q8Row y(act, n, GgmlType::Q8_0, ActOrder::kQuad);
  float sumf = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += (nibble(x[b].qs, j) - 8) * y.q(32 * b + j);
    sumf += static_cast<float>(sumi) * (half_to_float(x[b].d) * y.d[b]);
  }
  return sumf;
}

float dot_q4_1(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* x = reinterpret_cast<const BlockQ4_1*>(w);
  const Q8Row y(act, n, GgmlType::Q8_1);
  float sumf = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += nibble(x[b].qs, j) * y.qs[32 * b + j];
    sumf += static_cast<float>(sumi) * (half_to_float(x[b].d) * y.d[b]) + half_to_float(x[b].m) * y.s[b];
  }
  return sumf;
}

float dot_q5_0(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* x = reinterpret_cast<const BlockQ5_0*>(w);
  const Q8Row y(act, n, GgmlType::Q8_0);
  float sumf = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += ((nibble(x[b].qs, j) | q5_high_bit(x[b].qh, j)) - 16) * y.qs[32 * b + j];
    sumf += static_cast<float>(sumi) * (half_to_float(x[b].d) * y.d[b]);
  }
  return sumf;
}

float dot_q5_1(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* x = reinterpret_cast<const BlockQ5_1*>(w);
  const Q8Row y(act, n, GgmlType::Q8_1);
  float sumf = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += (nibble(x[b].qs, j) | q5_high_bit(x[b].qh, j)) * y.qs[32 * b + j];
    sumf += static_cast<float>(sumi) * (half_to_float(x[b].d) * y.d[b]) + half_to_float(x[b].m) * y.s[b];
  }
  return sumf;
}

float dot_q8_0(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* x = reinterpret_cast<const BlockQ8_0*>(w);
  const Q8Row y(act, n, GgmlType::Q8_0);
  float sumf = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += x[b].qs[j] * y.qs[32 * b + j];
    sumf += static_cast<float>(sumi) * (half_to_float(x[b].d) * y.d[b]);
  }
  return sumf;
}

float dot_iq4_nl(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* x = reinterpret_cast<const BlockIq4Nl*>(w);
  const Q8Row y(act, n, GgmlType::Q8_0, ActOrder::kQuad);
  float sumf = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += kIq4nlValues[nibble(x[b].qs, j)] * y.q(32 * b + j);
    sumf += static_cast<float>(sumi) * (half_to_float(x[b].d) * y.d[b]);
  }
  return sumf;
}

// Q4_K / Q5_K sub-block s's six-bit scale and min (layout in blocks.h).
inline void scale_min_k4(const uint8_t* packed, int s, int& sc, int& mn) {
  if (s < 4) {
    sc = packed[s] & 63, mn = packed[s + 4] & 63;
  } else {
    sc = (packed[s + 4] & 0xf) | ((packed[s - 4] >> 6) << 4);
    mn = (packed[s + 4] >> 4) | ((packed[s] >> 6) << 4);
  }
}

template <bool kFive>
float dot_q45_k(int64_t n, const uint8_t* w, const uint8_t* act) {
  const Q8KAct y = q8k_act(act, n);
  float sumf = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* scales;
    const uint8_t* qs;
    const uint8_t* qh = nullptr;
    uint16_t d16, dmin16;
    if constexpr (kFive) {
      const auto& x = reinterpret_cast<const BlockQ5_K*>(w)[b];
      scales = x.scales, qs = x.qs, qh = x.qh, d16 = x.d, dmin16 = x.dmin;
    } else {
      const auto& x = reinterpret_cast<const BlockQ4_K*>(w)[b];
      scales = x.scales, qs = x.qs, d16 = x.d, dmin16 = x.dmin;
    }
    int sumi = 0, summ = 0;
    for (int s = 0; s < 8; ++s) {
      const int8_t* a = y.qs + act_position(ActOrder::kK4, 256 * b + 32 * s, n);  // sub-block s, stored contiguously
      int sc, mn;
      scale_min_k4(scales, s, sc, mn);
      const int c = s / 2;
      const int shift = (s % 2) * 4;
      int dot = 0;
      for (int j = 0; j < 32; ++j) {
        int q = (qs[32 * c + j] >> shift) & 15;
        if constexpr (kFive) q |= ((qh[j] >> s) & 1) << 4;
        dot += q * a[j];
      }
      sumi += sc * dot;
      summ += mn * y.sum32[8 * b + s];
    }
    const float d = half_to_float(d16) * y.d[b];
    const float dmin = half_to_float(dmin16) * y.d[b];
    sumf += d * static_cast<float>(sumi) - dmin * static_cast<float>(summ);
  }
  return sumf;
}

float dot_q6_k(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* x = reinterpret_cast<const BlockQ6_K*>(w);
  const Q8KAct y = q8k_act(act, n);
  float sumf = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    const int8_t* a = y.qs + 256 * b;
    int q[256];
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[b].ql + 64 * h;
      const uint8_t* qh = x[b].qh + 32 * h;
      for (int l = 0; l < 32; ++l) {
        q[128 * h + l] = (ql[l] & 15) | ((qh[l] & 3) << 4);
        q[128 * h + l + 32] = (ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4);
        q[128 * h + l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
        q[128 * h + l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
      }
    }
    int sumi = 0;
    for (int s = 0; s < 16; ++s) {
      int dot = 0;
      for (int j = 0; j < 16; ++j) dot += (q[16 * s + j] - 32) * a[16 * s + j];
      sumi += x[b].scales[s] * dot;
    }
    sumf += half_to_float(x[b].d) * y.d[b] * static_cast<float>(sumi);
  }
  return sumf;
}

float dot_iq4_xs(int64_t n, const uint8_t* w, const uint8_t* act) {
  const auto* x = reinterpret_cast<const BlockIq4Xs*>(w);
  const Q8KAct y = q8k_act(act, n);
  float sumf = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    const int8_t* a = y.qs + 256 * b;
    int sumi = 0;
    for (int s = 0; s < 8; ++s) {
      const int ls = ((x[b].scales_l[s / 2] >> (4 * (s % 2))) & 15) | (((x[b].scales_h >> (2 * s)) & 3) << 4);
      int dot = 0;
      for (int j = 0; j < 32; ++j) dot += kIq4nlValues[nibble(x[b].qs + 16 * s, j)] * a[32 * s + j];
      sumi += (ls - 32) * dot;
    }
    sumf += half_to_float(x[b].d) * y.d[b] * static_cast<float>(sumi);
  }
  return sumf;
}

template <float (*kDot)(int64_t, const uint8_t*, const uint8_t*)>
void gemv_by_dot(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                 size_t act_row_bytes, int n_tok, float* y, int64_t y_stride) {
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int t = 0; t < n_tok; ++t) y[t * y_stride + r] = kDot(n, w + r * w_row_bytes, act + t * act_row_bytes);
  }
}

}  // namespace

void dequantize_act(GgmlType act_type, ActOrder order, const uint8_t* act, int64_t n, float* out) {
  const ActLayout l = act_layout(act_type, n);
  const auto* qs = reinterpret_cast<const int8_t*>(act);
  const auto* d = reinterpret_cast<const float*>(act + l.d_offset);
  switch (act_type) {
    case GgmlType::Q8_0:
    case GgmlType::Q8_1:
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(qs[act_position(order, i, n)]) * d[i / 32];
      break;
    case GgmlType::Q8_K:
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(qs[act_position(order, i, n)]) * d[i / 256];
      break;
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) out[i] = half_to_float(reinterpret_cast<const uint16_t*>(act)[i]);
      break;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_bits_to_float(reinterpret_cast<const uint16_t*>(act)[i]);
      break;
    default: std::memcpy(out, act, static_cast<size_t>(n) * 4); break;
  }
}

void register_scalar(KernelSet& set) {
  set.act.q8_0 = quantize_act_q8_0;
  set.act.q8_0_quad = quantize_act_q8_0_quad;
  set.act.q8_1 = quantize_act_q8_1;
  set.act.q8_k = quantize_act_q8_k<ActOrder::kNatural>;
  set.act.q8_k_k4 = quantize_act_q8_k<ActOrder::kK4>;
  set.act.f16 = quantize_act_f16;
  set.act.bf16 = quantize_act_bf16;
  set.act.f32 = quantize_act_f32;
  set[GgmlType::F32].gemv = gemv_by_dot<dot_f32>;
  set[GgmlType::F16].gemv = gemv_by_dot<dot_f16>;
  set[GgmlType::BF16].gemv = gemv_by_dot<dot_bf16>;
  set[GgmlType::Q4_0].gemv = gemv_by_dot<dot_q4_0>;
  set[GgmlType::Q4_1].gemv = gemv_by_dot<dot_q4_1>;
  set[GgmlType::Q5_0].gemv = gemv_by_dot<dot_q5_0>;
  set[GgmlType::Q5_1].gemv = gemv_by_dot<dot_q5_1>;
  set[GgmlType::Q8_0].gemv = gemv_by_dot<dot_q8_0>;
  set[GgmlType::IQ4_NL].gemv = gemv_by_dot<dot_iq4_nl>;
  set[GgmlType::Q4_K].gemv = gemv_by_dot<dot_q45_k<false>>;
  set[GgmlType::Q5_K].gemv = gemv_by_dot<dot_q45_k<true>>;
  set[GgmlType::Q6_K].gemv = gemv_by_dot<dot_q6_k>;
  set[GgmlType::IQ4_XS].gemv = gemv_by_dot<dot_iq4_xs>;
}

}  // namespace locus::tensor::kernels
