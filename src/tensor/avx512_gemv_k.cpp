// AVX-512 (BW + VNNI) dot products of Q4_K, Q5_K and Q6_K weights with q8_K activations, for up to
// kMaxGemvTokens tokens at once. Each super-block is unpacked to one unsigned byte per weight in element
// order (so activations are read as stored), once for all tokens. Per token, vpdpbusd sums products in
// groups of four; two such vectors pack (vpackssdw, exact: the sums fit 16 bits) into one whose 128-bit
// lanes each hold two sub-blocks, so a single vpmaddwd / vpdpwssd applies the sub-block scales to 128
// weights. One f32 multiply-add per super-block scales the exact integer sum by d. Results therefore
// differ from the scalar kernel only in the order of the per-super-block float additions.
#include <type_traits>

#include "tensor/blocks.h"
#include "tensor/kernels_x86.h"

namespace locus::tensor::kernels {
namespace {

inline float hsum128(__m128 v) {
  v = _mm_add_ps(v, _mm_movehl_ps(v, v));
  v = _mm_add_ss(v, _mm_movehdup_ps(v));
  return _mm_cvtss_f32(v);
}

// unpack_k4_scales in one xmm: the twelve packed bytes (and four bytes after them, ignored; they are
// inside the block) to sc[0..7] then m[0..7].
inline __m128i unpack_k4_scales_sse(const uint8_t* packed) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));  // dwords u0 u1 u2 -
  const __m128i p = _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 1, 2, 0));              // u0 u2 u1 u2
  const __m128i q = _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 1, 0, 0));              // u0 u0 u1 u1
  const __m128i lo = _mm_and_si128(_mm_srlv_epi32(p, _mm_set_epi32(4, 0, 0, 0)),
                                   _mm_set_epi32(0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f));
  const __m128i hi = _mm_and_si128(_mm_srli_epi32(q, 2), _mm_set_epi32(0x30303030, 0, 0x30303030, 0));
  return _mm_or_si128(lo, hi);
}

// vpsrlvw counts: 0 in the low 256 bits, `hi` in the high ones.
inline __m512i split_shift(short hi) { return _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(hi), 1); }

// vpermw selector filling 128-bit lane j with four copies of word lo[j] then four of word hi[j]: the
// scales matching vpackssdw(P, Q) where P's lane j holds sub-block lo[j] and Q's sub-block hi[j].
inline __m512i scale_selector(const int (&lo)[4], const int (&hi)[4]) {
  alignas(64) int16_t idx[32];
  for (int j = 0; j < 4; ++j) {
    for (int i = 0; i < 4; ++i) idx[8 * j + i] = static_cast<int16_t>(lo[j]), idx[8 * j + 4 + i] = static_cast<int16_t>(hi[j]);
  }
  return _mm512_load_si512(idx);
}

// vpshufb selector (the same bytes in every 128-bit lane as input) making lane j of words: four copies
// of byte lo[j] then four of byte hi[j], zero-extended: the scales as bytes 0-7 of each lane.
inline __m512i byte_scale_selector(const int (&lo)[4], const int (&hi)[4]) {
  alignas(64) uint8_t idx[64];
  for (int j = 0; j < 4; ++j) {
    for (int i = 0; i < 4; ++i) {
      idx[16 * j + 2 * i] = static_cast<uint8_t>(lo[j]), idx[16 * j + 2 * i + 1] = 0x80;
      idx[16 * j + 8 + 2 * i] = static_cast<uint8_t>(hi[j]), idx[16 * j + 8 + 2 * i + 1] = 0x80;
    }
  }
  return _mm512_load_si512(idx);
}

inline __m512i dpbusd0(__m512i u8, const int8_t* s8) {
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), u8, _mm512_loadu_si512(s8));
}

// Activations in ActOrder::kK4: the low nibbles of qs[64h .. 64h + 63] pair with stored activations
// 128h .. 128h + 63 (sub-blocks 4h and 4h + 2), the high nibbles with the next 64 (4h + 1 and 4h + 3).
template <bool kFive, int NT>
void gemv_q45_k_nt(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                   size_t act_row_bytes, float* y, int64_t y_stride) {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;
  const int64_t nsb = n / kSuperBlock;
  Q8KAct a[NT];
  for (int t = 0; t < NT; ++t) a[t] = q8k_act(act + t * act_row_bytes, n);
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  // Vector v (0..3) holds sub-blocks s_lo(v) in its low 256 bits and s_lo(v) + 2 in its high ones, with
  // s_lo = 0, 1, 4, 5; vpackssdw(v0, v1) and vpackssdw(v2, v3) then hold these sub-blocks per lane:
  const __m512i sel01 = byte_scale_selector({0, 0, 2, 2}, {1, 1, 3, 3});
  const __m512i sel23 = byte_scale_selector({4, 4, 6, 6}, {5, 5, 7, 7});
  // Q5_K: bit 4 of sub-block s's weights is bit s of qh[j].
  [[maybe_unused]] __m512i hbit[4];
  if constexpr (kFive) {
    constexpr int kLo[4] = {0, 1, 4, 5};
    for (int v = 0; v < 4; ++v) {
      hbit[v] = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << kLo[v])),
                                   _mm256_set1_epi8(static_cast<char>(1 << (kLo[v] + 2))), 1);
    }
  }
  [[maybe_unused]] const __m512i v16 = _mm512_set1_epi8(16);
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto* x = reinterpret_cast<const Block*>(w + r * w_row_bytes);
    __m512 acc[NT];
    __m128 accm[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps(), accm[t] = _mm_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
      const Block& blk = x[sb];
      prefetch_ahead(&blk, sizeof(Block));
      const __m128i scm8 = unpack_k4_scales_sse(blk.scales);
      const __m512i scb = _mm512_broadcast_i32x4(scm8);
      const __m512i sc01 = _mm512_shuffle_epi8(scb, sel01);
      const __m512i sc23 = _mm512_shuffle_epi8(scb, sel23);
      const __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(scm8, 8));
      const __m512i z0 = _mm512_loadu_si512(blk.qs), z1 = _mm512_loadu_si512(blk.qs + 64);
      __m512i q[4] = {_mm512_and_si512(z0, m4), _mm512_and_si512(_mm512_srli_epi16(z0, 4), m4),
                      _mm512_and_si512(z1, m4), _mm512_and_si512(_mm512_srli_epi16(z1, 4), m4)};
      if constexpr (kFive) {
        const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh)));
        for (int v = 0; v < 4; ++v) q[v] = _mm512_mask_add_epi8(q[v], _mm512_test_epi8_mask(qh, hbit[v]), q[v], v16);
      }
      const __m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(load_u16(&blk.d) | uint32_t{load_u16(&blk.dmin)} << 16)));
      for (int t = 0; t < NT; ++t) {
        const int8_t* as = a[t].qs + sb * kSuperBlock;
        const __m512i p01 = _mm512_packs_epi32(dpbusd0(q[0], as), dpbusd0(q[1], as + 64));
        const __m512i p23 = _mm512_packs_epi32(dpbusd0(q[2], as + 128), dpbusd0(q[3], as + 192));
        const __m512i isum = _mm512_dpwssd_epi32(_mm512_madd_epi16(p01, sc01), p23, sc23);
        const __m128 s = _mm_mul_ps(dd, _mm_set1_ps(a[t].d[sb]));  // d * da, dmin * da
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_broadcastss_ps(s), acc[t]);
        const __m128i s32 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[t].sum32 + 8 * sb));
        accm[t] = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_madd_epi16(mins, s32)), _mm_permute_ps(s, 0x55), accm[t]);
      }
    }
    for (int t = 0; t < NT; ++t) y[t * y_stride + r] = _mm512_reduce_add_ps(acc[t]) - hsum128(accm[t]);
  }
}

template <int NT>
void gemv_q6_k_nt(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                  size_t act_row_bytes, float* y, int64_t y_stride) {
  const int64_t nsb = n / kSuperBlock;
  Q8KAct a[NT];
  for (int t = 0; t < NT; ++t) a[t] = q8k_act(act + t * act_row_bytes, n);
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  const __m512i m30 = _mm512_set1_epi8(0x30);
  const __m512i shift = split_shift(2);
  // Weights 128h + 64k + 16j (k = 0, 1) belong to sub-block 8h + 4k + j: lane j of vector 2h + k.
  const __m512i sel0 = scale_selector({0, 1, 2, 3}, {4, 5, 6, 7});
  const __m512i sel1 = scale_selector({8, 9, 10, 11}, {12, 13, 14, 15});
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto* x = reinterpret_cast<const BlockQ6_K*>(w + r * w_row_bytes);
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < nsb; ++sb) {
      const BlockQ6_K& blk = x[sb];
      prefetch_ahead(&blk, sizeof(BlockQ6_K));
      const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales)));
      const __m512i sc0 = _mm512_permutexvar_epi16(sel0, _mm512_castsi256_si512(sc16));
      const __m512i sc1 = _mm512_permutexvar_epi16(sel1, _mm512_castsi256_si512(sc16));
      __m512i q[4];
      for (int h = 0; h < 2; ++h) {
        const __m512i ql = _mm512_loadu_si512(blk.ql + 64 * h);
        const __m512i qh = _mm512_srlv_epi16(
            _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh + 32 * h))), shift);
        // (ql & 15) | (qh bits 0-1 at 4-5); (ql >> 4) | (qh bits 4-5): imm 0xEA is (A & B) | C.
        q[2 * h] = _mm512_ternarylogic_epi32(ql, m4, _mm512_and_si512(_mm512_slli_epi16(qh, 4), m30), 0xEA);
        q[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), m4, _mm512_and_si512(qh, m30), 0xEA);
      }
      const float dw = _cvtsh_ss(blk.d);
      for (int t = 0; t < NT; ++t) {
        const int8_t* as = a[t].qs + sb * kSuperBlock;
        const __m512i p0 = _mm512_packs_epi32(dpbusd0(q[0], as), dpbusd0(q[1], as + 64));
        const __m512i p1 = _mm512_packs_epi32(dpbusd0(q[2], as + 128), dpbusd0(q[3], as + 192));
        __m512i isum = _mm512_dpwssd_epi32(_mm512_madd_epi16(p0, sc0), p1, sc1);
        // The quants are stored + 32: subtract 32 * sum over sub-blocks of scale * (sum of activations).
        const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t].bsums + 16 * sb));
        const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bs), 5);
        isum = _mm512_sub_epi32(isum, _mm512_inserti64x4(_mm512_setzero_si512(), corr, 0));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(dw * a[t].d[sb]), acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) y[t * y_stride + r] = _mm512_reduce_add_ps(acc[t]);
  }
}

template <int NT> struct Q4K { static constexpr auto run = gemv_q45_k_nt<false, NT>; };
template <int NT> struct Q5K { static constexpr auto run = gemv_q45_k_nt<true, NT>; };
template <int NT> struct Q6K { static constexpr auto run = gemv_q6_k_nt<NT>; };

}  // namespace

void register_avx512_gemv_k(KernelSet& set) {
  slot(set, GgmlType::Q4_K).gemv = dispatch_nt<Q4K>;
  slot(set, GgmlType::Q5_K).gemv = dispatch_nt<Q5K>;
  slot(set, GgmlType::Q6_K).gemv = dispatch_nt<Q6K>;
}

}  // namespace locus::tensor::kernels
