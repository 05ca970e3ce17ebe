// AVX2 (+ FMA, F16C) dot products for CPUs without AVX-512, for up to kMaxGemvTokens tokens at once.
// Without VNNI, products go through vpmaddubsw (unsigned weight byte x signed activation, adjacent pairs
// summed to 16 bits, which cannot saturate for these formats: |pair| <= 2 * 128 * 127) and vpmaddwd
// (pairs times 16-bit scales or ones, to 32 bits). Q8_0 moves the weights' signs onto the activations
// (vpsignb) so that magnitudes can be the unsigned operand. Sums are exact up to one f32 multiply-add
// per block or super-block, as in the scalar kernels.
#include "tensor/blocks.h"
#include "tensor/kernels_x86.h"

namespace locus::tensor::kernels {
namespace {

inline float hsum(__m256 v) {
  const __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s = _mm_add_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

inline float hsum128(__m128 v) {
  v = _mm_add_ps(v, _mm_movehl_ps(v, v));
  return _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Sum of u8 x s8 products of 32 bytes as 8 int32 lanes.
inline __m256i dot_u8s8(__m256i u, __m256i s) { return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)); }

template <int NT, typename RowFn>
inline void for_rows(int64_t n_rows, float* y, int64_t y_stride, RowFn row_fn) {
  for (int64_t r = 0; r < n_rows; ++r) {
    float out[NT];
    row_fn(r, out);
    for (int t = 0; t < NT; ++t) y[t * y_stride + r] = out[t];
  }
}

// ---- Q4_K / Q5_K (activations in ActOrder::kK4) ---------------------------------------------------------

template <bool kFive, int NT>
void gemv_q45_k_nt(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                   size_t act_row_bytes, float* y, int64_t y_stride) {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;
  Q8KAct a[NT];
  for (int t = 0; t < NT; ++t) a[t] = q8k_act(act + t * act_row_bytes, n);
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  for_rows<NT>(n_rows, y, y_stride, [&](int64_t r, float* out) {
    const auto* x = reinterpret_cast<const Block*>(w + r * w_row_bytes);
    __m256 acc[NT];
    __m128 accm[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps(), accm[t] = _mm_setzero_ps();
    for (int64_t sb = 0; sb < n / 256; ++sb) {
      const Block& blk = x[sb];
      uint32_t u[4];
      unpack_k4_scales(blk.scales, u);
      uint8_t sc[8];
      std::memcpy(sc, u, 8);
      const __m128i mins = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, static_cast<int>(u[3]), static_cast<int>(u[2])));
      [[maybe_unused]] __m256i qh;
      if constexpr (kFive) qh = load256(blk.qh);
      // Vector v = 2 * half + plane holds sub-block 4 * (v / 4) + ...: low nibbles of the two 32-byte chunks
      // of a 64-byte half are sub-blocks 2c, high nibbles 2c + 1; stored activations follow kK4.
      __m256i isum[NT];
      for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        const __m256i raw = load256(blk.qs + 32 * c);
        __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
        if constexpr (kFive) {
          const __m256i bl = _mm256_set1_epi8(static_cast<char>(1 << (2 * c))), bh = _mm256_set1_epi8(static_cast<char>(2 << (2 * c)));
          lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bl), bl), _mm256_set1_epi8(16)));
          hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bh), bh), _mm256_set1_epi8(16)));
        }
        const __m256i sc_lo = _mm256_set1_epi16(sc[2 * c]), sc_hi = _mm256_set1_epi16(sc[2 * c + 1]);
        // Element 64c + j (low) is stored at kK4 position; so is 64c + 32 + j (high).
        const int64_t pos_lo = act_position(ActOrder::kK4, 256 * sb + 64 * c, n) - 256 * sb;
        const int64_t pos_hi = act_position(ActOrder::kK4, 256 * sb + 64 * c + 32, n) - 256 * sb;
        for (int t = 0; t < NT; ++t) {
          const int8_t* as = a[t].qs + 256 * sb;
          isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load256(as + pos_lo)), sc_lo));
          isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load256(as + pos_hi)), sc_hi));
        }
      }
      const float dw = _cvtsh_ss(load_u16(&blk.d)), dmw = _cvtsh_ss(load_u16(&blk.dmin));
      for (int t = 0; t < NT; ++t) {
        const float da = a[t].d[sb];
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(dw * da), acc[t]);
        const __m128i s32 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[t].sum32 + 8 * sb));
        accm[t] = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_madd_epi16(mins, s32)), _mm_set1_ps(dmw * da), accm[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]) - hsum128(accm[t]);
  });
}

// ---- Q6_K ---------------------------------------------------------------------------------------------

template <int NT>
void gemv_q6_k_nt(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                  size_t act_row_bytes, float* y, int64_t y_stride) {
  Q8KAct a[NT];
  for (int t = 0; t < NT; ++t) a[t] = q8k_act(act + t * act_row_bytes, n);
  const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3);
  for_rows<NT>(n_rows, y, y_stride, [&](int64_t r, float* out) {
    const auto* x = reinterpret_cast<const BlockQ6_K*>(w + r * w_row_bytes);
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < n / 256; ++sb) {
      const BlockQ6_K& blk = x[sb];
      const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales)));
      __m256i isum[NT];
      for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        const __m256i ql0 = load256(blk.ql + 64 * h), ql1 = load256(blk.ql + 64 * h + 32);
        const __m256i qh = load256(blk.qh + 32 * h);
        const __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4)),
            _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4)),
        };
        for (int k = 0; k < 4; ++k) {
          const int s = 8 * h + 2 * k;  // sub-blocks s (low 16 bytes) and s + 1
          const __m256i scv = _mm256_set_m128i(_mm_set1_epi16(blk.scales[s + 1]), _mm_set1_epi16(blk.scales[s]));
          for (int t = 0; t < NT; ++t) {
            const __m256i p = _mm256_maddubs_epi16(q[k], load256(a[t].qs + 256 * sb + 128 * h + 32 * k));
            isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, scv));
          }
        }
      }
      const float dw = _cvtsh_ss(load_u16(&blk.d));
      for (int t = 0; t < NT; ++t) {
        // Quants are stored + 32: subtract 32 * sum of scale * (sum of the sub-block's activations).
        const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, load256(a[t].bsums + 16 * sb)), 5);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(isum[t], corr)), _mm256_set1_ps(dw * a[t].d[sb]), acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]);
  });
}

// ---- Q4_0 (activations in ActOrder::kQuad) and Q8_0 -------------------------------------------------------

template <int NT>
void gemv_q4_0_nt(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                  size_t act_row_bytes, float* y, int64_t y_stride) {
  const int64_t nb = n / 32, nb_quad = n / 128 * 4;
  Q8Act a[NT];
  for (int t = 0; t < NT; ++t) a[t] = q8_act(act + t * act_row_bytes, n, GgmlType::Q8_0);
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  for_rows<NT>(n_rows, y, y_stride, [&](int64_t r, float* out) {
    const auto* x = reinterpret_cast<const BlockQ4_0*>(w + r * w_row_bytes);
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    // Pairs of blocks: low nibbles of A and B against stored activations p .. p + 31, high nibbles
    // against p + 64 .. p + 95 (the next pair of the quad at p + 32 and p + 96).
    for (int64_t b = 0; b < nb_quad; b += 2) {
      const __m256i raw = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b + 1].qs)),
                                           _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs)));
      const __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
      const float d0 = _cvtsh_ss(load_u16(&x[b].d)), d1 = _cvtsh_ss(load_u16(&x[b + 1].d));
      const int64_t p = (b & ~int64_t{3}) * 32 + (b & 2) * 16;
      for (int t = 0; t < NT; ++t) {
        const __m256i sum = _mm256_add_epi32(dot_u8s8(lo, load256(a[t].qs + p)), dot_u8s8(hi, load256(a[t].qs + p + 64)));
        // q - 8: add 8 * (minus each block sum), spread over its four lanes (0-3 block b, 4-7 block b + 1).
        const __m256i corr = _mm256_set_m128i(_mm_set1_epi32(2 * a[t].sum[b + 1]), _mm_set1_epi32(2 * a[t].sum[b]));
        const __m256 scale = _mm256_set_m128(_mm_set1_ps(d1 * a[t].d[b + 1]), _mm_set1_ps(d0 * a[t].d[b]));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(sum, corr)), scale, acc[t]);
      }
    }
    for (int64_t b = nb_quad; b < nb; ++b) {  // in element order
      const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs));
      const __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), m4);
      const float dw = _cvtsh_ss(load_u16(&x[b].d));
      for (int t = 0; t < NT; ++t) {
        const __m256i sum = _mm256_add_epi32(dot_u8s8(q, load256(a[t].qs + 32 * b)), _mm256_set1_epi32(a[t].sum[b]));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(dw * a[t].d[b]), acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]);
  });
}

template <int NT>
void gemv_q8_0_nt(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                  size_t act_row_bytes, float* y, int64_t y_stride) {
  Q8Act a[NT];
  for (int t = 0; t < NT; ++t) a[t] = q8_act(act + t * act_row_bytes, n, GgmlType::Q8_0);
  for_rows<NT>(n_rows, y, y_stride, [&](int64_t r, float* out) {
    const auto* x = reinterpret_cast<const BlockQ8_0*>(w + r * w_row_bytes);
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; ++b) {
      const __m256i q = load256(x[b].qs);
      const __m256i mag = _mm256_sign_epi8(q, q);
      const float dw = _cvtsh_ss(load_u16(&x[b].d));
      for (int t = 0; t < NT; ++t) {
        const __m256i sum = dot_u8s8(mag, _mm256_sign_epi8(load256(a[t].qs + 32 * b), q));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(dw * a[t].d[b]), acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]);
  });
}

// ---- F32, F16, BF16 -----------------------------------------------------------------------------------

struct F32Load {
  static __m256 load(const uint8_t* p, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p) + i); }
  static float one(const uint8_t* p, int64_t i) { return reinterpret_cast<const float*>(p)[i]; }
};
struct F16Load {
  static __m256 load(const uint8_t* p, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(p) + i)));
  }
  static float one(const uint8_t* p, int64_t i) { return _cvtsh_ss(reinterpret_cast<const uint16_t*>(p)[i]); }
};
struct BF16Load {
  static __m256 load(const uint8_t* p, int64_t i) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(p) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float one(const uint8_t* p, int64_t i) {
    const uint32_t bits = uint32_t{reinterpret_cast<const uint16_t*>(p)[i]} << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
};

template <typename L, int NT>
void gemv_float_nt(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                   size_t act_row_bytes, float* y, int64_t y_stride) {
  for_rows<NT>(n_rows, y, y_stride, [&](int64_t r, float* out) {
    const uint8_t* wr = w + r * w_row_bytes;
    __m256 acc0[NT], acc1[NT];
    for (int t = 0; t < NT; ++t) acc0[t] = _mm256_setzero_ps(), acc1[t] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m256 w0 = L::load(wr, i), w1 = L::load(wr, i + 8);
      for (int t = 0; t < NT; ++t) {
        acc0[t] = _mm256_fmadd_ps(w0, L::load(act + t * act_row_bytes, i), acc0[t]);
        acc1[t] = _mm256_fmadd_ps(w1, L::load(act + t * act_row_bytes, i + 8), acc1[t]);
      }
    }
    for (int t = 0; t < NT; ++t) {
      float s = hsum(_mm256_add_ps(acc0[t], acc1[t]));
      for (int64_t j = i; j < n; ++j) s += L::one(wr, j) * L::one(act + t * act_row_bytes, j);
      out[t] = s;
    }
  });
}

template <int NT> struct Q4K { static constexpr auto run = gemv_q45_k_nt<false, NT>; };
template <int NT> struct Q5K { static constexpr auto run = gemv_q45_k_nt<true, NT>; };
template <int NT> struct Q6K { static constexpr auto run = gemv_q6_k_nt<NT>; };
template <int NT> struct Q40 { static constexpr auto run = gemv_q4_0_nt<NT>; };
template <int NT> struct Q80 { static constexpr auto run = gemv_q8_0_nt<NT>; };
template <int NT> struct F32K { static constexpr auto run = gemv_float_nt<F32Load, NT>; };
template <int NT> struct F16K { static constexpr auto run = gemv_float_nt<F16Load, NT>; };
template <int NT> struct BF16K { static constexpr auto run = gemv_float_nt<BF16Load, NT>; };

}  // namespace

void register_avx2_gemv(KernelSet& set) {
  static_assert(kMaxGemvTokens == 4);
  slot(set, GgmlType::Q4_K).gemv = dispatch_nt<Q4K>;
  slot(set, GgmlType::Q5_K).gemv = dispatch_nt<Q5K>;
  slot(set, GgmlType::Q6_K).gemv = dispatch_nt<Q6K>;
  slot(set, GgmlType::Q4_0).gemv = dispatch_nt<Q40>;
  slot(set, GgmlType::Q8_0).gemv = dispatch_nt<Q80>;
  slot(set, GgmlType::F32).gemv = dispatch_nt<F32K>;
  slot(set, GgmlType::F16).gemv = dispatch_nt<F16K>;
  slot(set, GgmlType::BF16).gemv = dispatch_nt<BF16K>;
}

}  // namespace locus::tensor::kernels
