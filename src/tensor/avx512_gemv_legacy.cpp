// AVX-512 (BW + VL + VNNI) dot products of the 32-weight formats Q4_0, Q5_0, Q8_0 and IQ4_NL with q8_0
// activations, for up to kMaxGemvTokens tokens at once. Each block becomes 32 unsigned bytes u = w + o
// (o = 8, 16, 128, 128); vpdpbusd multiplies them with the signed activations, and o * (minus the
// activations' block sum, stored with them) corrects the result, exactly in integers or once per eight
// blocks in f32. Each block's sum is scaled by d_w * d_a with one f32 multiply-add.
//
// Q4_0 and IQ4_NL take eight blocks (144 bytes) at a time: three plain loads, then vpermt2w gathers the
// eight fp16 scales and the four-block runs of packed nibbles (all at even offsets), whose two nibble
// planes line up with the activations stored in ActOrder::kQuad. The other formats and leftover blocks
// go one block at a time with in-lane operations only.
#include "tensor/blocks.h"
#include "tensor/kernels_x86.h"

namespace locus::tensor::kernels {
namespace {

// Per format: the block type, the unsigned weights of one block in element order, and the log2 of o / 8.
// A Q4_0-style block's 32 nibbles as bytes in element order (low nibbles, then high ones).
inline __m256i q4_nibbles(const BlockQ4_0& b, __m256i shift, __m256i m4) {
  const __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)));
  return _mm256_and_si256(_mm256_srlv_epi16(q, shift), m4);
}

struct Q5_0Fmt {
  using Block = BlockQ5_0;
  static constexpr int kSeedShift = 1;
  static __m256i load(const Block& b, __m256i shift, __m256i m4) {
    const __m256i q = _mm256_and_si256(
        _mm256_srlv_epi16(_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs))), shift), m4);
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    return _mm256_mask_add_epi8(q, static_cast<__mmask32>(qh), q, _mm256_set1_epi8(16));
  }
};

struct Q8_0Fmt {
  using Block = BlockQ8_0;
  static constexpr int kSeedShift = 4;
  static __m256i load(const Block& b, __m256i, __m256i) {
    return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)), _mm256_set1_epi8(-128));
  }
};

// kIq4nlValues + 128, as unsigned bytes.
alignas(16) constexpr uint8_t kIq4nlBiased[16] = {1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241};


// The fp16 scales of blocks x[0..7] as f32.
template <typename Block>
inline __m256 scales8(const Block* x) {
  uint64_t lo = 0, hi = 0;
  for (int i = 0; i < 4; ++i) {
    lo |= uint64_t{load_u16(&x[i].d)} << (16 * i);
    hi |= uint64_t{load_u16(&x[i + 4].d)} << (16 * i);
  }
  return _mm256_cvtph_ps(_mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo)));
}

template <typename F, int NT>
void gemv_legacy_nt(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                    size_t act_row_bytes, float* y, int64_t y_stride) {
  using Block = typename F::Block;
  const int64_t nb = n / 32;
  Q8Act a[NT];
  for (int t = 0; t < NT; ++t) a[t] = q8_act(act + t * act_row_bytes, n, GgmlType::Q8_0);
  const __m256i shift = _mm256_set_epi64x(0x0004000400040004LL, 0x0004000400040004LL, 0, 0);
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto* x = reinterpret_cast<const Block*>(w + r * w_row_bytes);
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b += 8) {
      const int64_t m = nb - b < 8 ? nb - b : 8;
      prefetch_ahead(x + b, 8 * sizeof(Block));
      __m256 dw;
      if (m == 8) {
        dw = scales8(x + b);
      } else {
        alignas(16) uint16_t h[8] = {};
        for (int64_t i = 0; i < m; ++i) h[i] = load_u16(&x[b + i].d);
        dw = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h)));
      }
      __m256 scale[NT];
      for (int t = 0; t < NT; ++t) {
        const __m256 da = _mm256_maskz_loadu_ps(static_cast<__mmask8>((1u << m) - 1), a[t].d + b);
        scale[t] = _mm256_mul_ps(dw, da);
      }
      for (int64_t i = 0; i < m; ++i) {
        const __m256i q = F::load(x[b + i], shift, m4);
        const __m256i sel = _mm256_set1_epi32(static_cast<int>(i));
        for (int t = 0; t < NT; ++t) {
          const __m256i seed = _mm256_slli_epi32(_mm256_set1_epi32(a[t].sum[b + i]), F::kSeedShift);
          const __m256i dot = _mm256_dpbusd_epi32(seed, q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t].qs + 32 * (b + i))));
          acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_permutevar8x32_ps(scale[t], sel), acc[t]);
        }
      }
    }
    for (int t = 0; t < NT; ++t) {
      const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[t]), _mm256_extractf128_ps(acc[t], 1));
      const __m128 s = _mm_add_ps(h, _mm_movehl_ps(h, h));
      y[t * y_stride + r] = _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
    }
  }
}

// vpermt2w selectors over two vectors (words 0-63) covering blocks of 18 bytes (9 words): the scale of
// block k is word 9k, its packed nibbles words 9k + 1 .. 9k + 8.
inline __m512i q4_scale_selector() {
  alignas(64) int16_t idx[32] = {};
  for (int k = 0; k < 8; ++k) idx[k] = static_cast<int16_t>(9 * k);
  return _mm512_load_si512(idx);
}
// Nibbles of blocks first .. first + 3, given that the two vectors start at word `base`.
inline __m512i q4_nibble_selector(int first, int base) {
  alignas(64) int16_t idx[32];
  for (int k = 0; k < 4; ++k) {
    for (int j = 0; j < 8; ++j) idx[8 * k + j] = static_cast<int16_t>(9 * (first + k) + 1 + j - base);
  }
  return _mm512_load_si512(idx);
}

// Q4_0 (kIq4 false: u = q, o = 8) or IQ4_NL (u = value + 128, o = 128); activations in ActOrder::kQuad.
template <bool kIq4, int NT>
void gemv_q4_quad_nt(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                     size_t act_row_bytes, float* y, int64_t y_stride) {
  static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockIq4Nl) == 18);
  const int64_t nb = n / 32;
  const int64_t nb_quad = n / 128 * 4;  // blocks whose activations are in quad order
  constexpr float kOffset = kIq4 ? 128.0f : 8.0f;
  Q8Act a[NT];
  for (int t = 0; t < NT; ++t) a[t] = q8_act(act + t * act_row_bytes, n, GgmlType::Q8_0);
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  const __m512i table = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(kIq4nlBiased)));
  const __m512i sel_d = q4_scale_selector();
  const __m512i sel_q0 = q4_nibble_selector(0, 0), sel_q1 = q4_nibble_selector(4, 32);
  // Lane groups of four take the scale of block i (low half of the 8 scales) or i + 4.
  const __m512i sel_s0 = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  const __m512i sel_s1 = _mm512_add_epi32(sel_s0, _mm512_set1_epi32(4));
  const __m256i shift = _mm256_set_epi64x(0x0004000400040004LL, 0x0004000400040004LL, 0, 0);
  const __m256i m4y = _mm256_set1_epi8(0x0f);
  auto plane = [&](__m512i v) { return kIq4 ? _mm512_shuffle_epi8(table, v) : v; };
  // Four blocks' nibbles (words of q) against the 128 activations at `as`.
  auto quad_dot = [&](__m512i q, const int8_t* as) {
    const __m512i lo = plane(_mm512_and_si512(q, m4)), hi = plane(_mm512_and_si512(_mm512_srli_epi16(q, 4), m4));
    return _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512(as)),
                                                   hi, _mm512_loadu_si512(as + 64)));
  };
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + r * w_row_bytes;
    __m512 acc[NT];
    __m256 corr[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps(), corr[t] = _mm256_setzero_ps();
    int64_t b = 0;
    // Eight blocks (144 bytes) at a time: z0, z1 and the first 16 bytes of z2.
    for (; b + 8 <= nb_quad; b += 8) {
      const uint8_t* base = row + 18 * b;
      prefetch_ahead(base, 8 * 18);
      const __m512i z0 = _mm512_loadu_si512(base);
      const __m512i z1 = _mm512_loadu_si512(base + 64);
      const __m512i z2 = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(base + 128)));
      const __m256 dw = _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(z0, sel_d, z1)));
      const __m512i q0 = _mm512_permutex2var_epi16(z0, sel_q0, z1);
      const __m512i q1 = _mm512_permutex2var_epi16(z1, sel_q1, z2);
      for (int t = 0; t < NT; ++t) {
        const __m256 s = _mm256_mul_ps(dw, _mm256_loadu_ps(a[t].d + b));
        const __m256 ns = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t].sum + b)));
        corr[t] = _mm256_fmadd_ps(ns, s, corr[t]);
        const __m512 s16 = _mm512_castps256_ps512(s);
        acc[t] = _mm512_fmadd_ps(quad_dot(q0, a[t].qs + 32 * b), _mm512_permutexvar_ps(sel_s0, s16), acc[t]);
        acc[t] = _mm512_fmadd_ps(quad_dot(q1, a[t].qs + 32 * b + 128), _mm512_permutexvar_ps(sel_s1, s16), acc[t]);
      }
    }
    // Four blocks left (72 bytes; the loads stay inside them: the row may end the mapped file).
    if (b + 4 <= nb_quad) {
      const uint8_t* base = row + 18 * b;
      const __m512i z0 = _mm512_loadu_si512(base);
      const __m512i z1 = _mm512_maskz_loadu_epi8(0xff, base + 64);
      const __m256 dw = _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(z0, sel_d, z1)));
      const __m512i q0 = _mm512_permutex2var_epi16(z0, sel_q0, z1);
      for (int t = 0; t < NT; ++t) {
        const __m256 s = _mm256_mul_ps(dw, _mm256_maskz_loadu_ps(0x0f, a[t].d + b));
        const __m256 ns = _mm256_cvtepi32_ps(_mm256_maskz_loadu_epi32(0x0f, a[t].sum + b));
        corr[t] = _mm256_fmadd_ps(ns, s, corr[t]);
        acc[t] = _mm512_fmadd_ps(quad_dot(q0, a[t].qs + 32 * b), _mm512_permutexvar_ps(sel_s0, _mm512_castps256_ps512(s)), acc[t]);
      }
      b += 4;
    }
    // Blocks past the last whole 128 activations: in element order, one at a time.
    const auto* blocks = reinterpret_cast<const BlockQ4_0*>(row);
    for (; b < nb; ++b) {
      const __m256i nib = q4_nibbles(blocks[b], shift, m4y);
      const __m256i q = kIq4 ? _mm256_shuffle_epi8(_mm512_castsi512_si256(table), nib) : nib;
      const float dw = _cvtsh_ss(load_u16(&blocks[b].d));
      for (int t = 0; t < NT; ++t) {
        const __m256i seed = _mm256_slli_epi32(_mm256_set1_epi32(a[t].sum[b]), kIq4 ? 4 : 0);
        const __m256i dot = _mm256_dpbusd_epi32(seed, q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t].qs + 32 * b)));
        corr[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(dw * a[t].d[b] / kOffset), corr[t]);
      }
    }
    for (int t = 0; t < NT; ++t) {
      const __m256 c = _mm256_mul_ps(corr[t], _mm256_set1_ps(kOffset));
      const __m256 v = _mm256_add_ps(_mm256_add_ps(_mm512_castps512_ps256(acc[t]), _mm512_extractf32x8_ps(acc[t], 1)), c);
      const __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
      const __m128 s = _mm_add_ps(h, _mm_movehl_ps(h, h));
      y[t * y_stride + r] = _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
    }
  }
}

template <int NT> struct Q4_0Dot { static constexpr auto run = gemv_q4_quad_nt<false, NT>; };
template <int NT> struct IQ4_NLDot { static constexpr auto run = gemv_q4_quad_nt<true, NT>; };
template <int NT> struct Q5_0Dot { static constexpr auto run = gemv_legacy_nt<Q5_0Fmt, NT>; };
template <int NT> struct Q8_0Dot { static constexpr auto run = gemv_legacy_nt<Q8_0Fmt, NT>; };

}  // namespace

void register_avx512_gemv_legacy(KernelSet& set) {
  slot(set, GgmlType::Q4_0).gemv = dispatch_nt<Q4_0Dot>;
  slot(set, GgmlType::Q5_0).gemv = dispatch_nt<Q5_0Dot>;
  slot(set, GgmlType::Q8_0).gemv = dispatch_nt<Q8_0Dot>;
  slot(set, GgmlType::IQ4_NL).gemv = dispatch_nt<IQ4_NLDot>;
}

}  // namespace locus::tensor::kernels
