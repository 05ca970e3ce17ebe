// AVX-512 (BW + VNNI) products with many tokens (prompt processing). A panel of 16 weight rows is
// repacked, one row per 32-bit lane: for each group of four consecutive weights, 64 bytes hold those four
// signed weights of all 16 rows. One vpdpbusd then multiplies them with four activations of one token
// (broadcast; quants biased to uint8, see kernels.h) for all rows at once, so each weight byte loaded
// serves six tokens from registers and no horizontal sums are needed. The bias is undone exactly by
// seeding each block's accumulator with -128 * (sum of the block's weights), precomputed per row.
//
// Panel layouts (per block of 32 weights, or per 256-weight super-block):
//   32-blocks (Q4_0, Q5_0, Q8_0, IQ4_NL): w[8][16][4] | seed[16] i32 | d[16] f32
//   Q4_K, Q5_K: w[64][16][4] | seed[8][16] i32 | scale[8][16] i32 | min pairs[4][16][2] i16 | d[16] | dmin[16]
//   Q6_K:       w[64][16][4] | seed[16][16] i32 | scale[16][16] i32 | d[16]
// Rows past n_rows are zero. Results are exact integer sums per block (or sub-block, times its integer
// scale) scaled in f32, as in the gemv kernels.
#include "tensor/blocks.h"
#include "tensor/kernels_x86.h"

namespace locus::tensor::kernels {
namespace {

constexpr int kRows = 16;
constexpr int kMaxTile = 6;  // tokens per pass over the panel

inline float half(uint16_t h) { return _cvtsh_ss(h); }


// ---- 32-weight blocks ---------------------------------------------------------------------------------

constexpr size_t kB32Bytes = 512 + 64 + 64;

size_t b32_panel_bytes(int64_t n) { return static_cast<size_t>(n / 32) * kB32Bytes; }

// Signed weights of one block (32 bytes in element order) and its fp16 scale.
inline __m256i nibbles(const uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0f));
}
struct Q4_0Unpack {
  static constexpr size_t kBlockBytes = sizeof(BlockQ4_0);
  static __m256i run(const uint8_t* p) {
    return _mm256_sub_epi8(nibbles(reinterpret_cast<const BlockQ4_0*>(p)->qs), _mm256_set1_epi8(8));
  }
};
struct Q5_0Unpack {
  static constexpr size_t kBlockBytes = sizeof(BlockQ5_0);
  static __m256i run(const uint8_t* p) {
    const auto& b = *reinterpret_cast<const BlockQ5_0*>(p);
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    const __m256i q = _mm256_mask_add_epi8(nibbles(b.qs), static_cast<__mmask32>(qh), nibbles(b.qs), _mm256_set1_epi8(16));
    return _mm256_sub_epi8(q, _mm256_set1_epi8(16));
  }
};
struct Q8_0Unpack {
  static constexpr size_t kBlockBytes = sizeof(BlockQ8_0);
  static __m256i run(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2)); }
};
struct IQ4_NLUnpack {
  static constexpr size_t kBlockBytes = sizeof(BlockIq4Nl);
  static __m256i run(const uint8_t* p) {
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues)));
    return _mm256_shuffle_epi8(table, nibbles(reinterpret_cast<const BlockIq4Nl*>(p)->qs));
  }
};

// Transposes eight rows of eight dwords in place: v[g] then holds dword g of rows 0..7.
inline void transpose8x8(__m256i (&v)[8]) {
  __m256i t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      u[4 * i + j] = _mm256_unpacklo_epi64(t[4 * i + j], t[4 * i + 2 + j]);
      u[4 * i + 2 + j] = _mm256_unpackhi_epi64(t[4 * i + j], t[4 * i + 2 + j]);
    }
  }
  // u[4i + k] holds dword k' of rows 4i..4i+3 in each 128-bit half (k' = k for the low half, k + 4 high).
  const int order[4] = {0, 2, 1, 3};
  for (int k = 0; k < 4; ++k) {
    v[order[k]] = _mm256_permute2x128_si256(u[k], u[4 + k], 0x20);
    v[order[k] + 4] = _mm256_permute2x128_si256(u[k], u[4 + k], 0x31);
  }
}

template <typename U>
void b32_pack(const uint8_t* w, size_t w_row_bytes, int n_rows, int64_t n, uint8_t* panel) {
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t b = 0; b < n / 32; ++b) {
    uint8_t* p = panel + b * kB32Bytes;
    __m256i lo[8], hi[8];
    alignas(32) uint16_t d16[kRows] = {};
    for (int r = 0; r < kRows; ++r) {
      __m256i v = _mm256_setzero_si256();
      if (r < n_rows) {
        const uint8_t* blk = w + r * w_row_bytes + b * U::kBlockBytes;
        v = U::run(blk);
        d16[r] = load_u16(blk);
      }
      (r < 8 ? lo[r] : hi[r - 8]) = v;
    }
    transpose8x8(lo);
    transpose8x8(hi);
    __m512i sum = _mm512_setzero_si512();
    for (int g = 0; g < 8; ++g) {
      const __m512i wv = _mm512_inserti64x4(_mm512_castsi256_si512(lo[g]), hi[g], 1);
      _mm512_store_si512(p + 64 * g, wv);
      sum = _mm512_dpbusd_epi32(sum, ones, wv);  // per row: sum of its signed weights
    }
    _mm512_store_si512(p + 512, _mm512_mullo_epi32(sum, _mm512_set1_epi32(-128)));
    _mm512_store_ps(p + 576, _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(d16))));
  }
}

// Stores eight dword groups (32 weights) of 16 rows as w[g0 .. g0 + 7][16][4]; rows[r] holds row r's 32
// signed weights. Returns each row's sum over the first and the second 16 weights.
inline void store_groups(__m256i (&rows)[kRows], uint8_t* w, int g0, __m512i& sum_lo, __m512i& sum_hi) {
  __m256i lo[8], hi[8];
  for (int r = 0; r < 8; ++r) lo[r] = rows[r], hi[r] = rows[r + 8];
  transpose8x8(lo);
  transpose8x8(hi);
  const __m512i ones = _mm512_set1_epi8(1);
  sum_lo = sum_hi = _mm512_setzero_si512();
  for (int g = 0; g < 8; ++g) {
    const __m512i wv = _mm512_inserti64x4(_mm512_castsi256_si512(lo[g]), hi[g], 1);
    _mm512_store_si512(w + 64 * (g0 + g), wv);
    (g < 4 ? sum_lo : sum_hi) = _mm512_dpbusd_epi32(g < 4 ? sum_lo : sum_hi, ones, wv);
  }
}

template <int NT>
void b32_tile(const uint8_t* panel, int64_t n, const uint8_t* act, size_t act_row_bytes, float* y, int64_t y_stride,
              __mmask16 rows) {
  const ActLayout l = act_layout(GgmlType::Q8_0, n);
  __m512 f[NT];
  for (int t = 0; t < NT; ++t) f[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* p = panel + b * kB32Bytes;
    const __m512i seed = _mm512_load_si512(p + 512);
    __m512i acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = seed;
    for (int g = 0; g < 8; ++g) {
      const __m512i wv = _mm512_load_si512(p + 64 * g);
      for (int t = 0; t < NT; ++t) {
        int32_t a4;
        std::memcpy(&a4, act + t * act_row_bytes + 32 * b + 4 * g, 4);
        acc[t] = _mm512_dpbusd_epi32(acc[t], _mm512_set1_epi32(a4), wv);
      }
    }
    const __m512 dv = _mm512_load_ps(reinterpret_cast<const float*>(p + 576));
    for (int t = 0; t < NT; ++t) {
      const float da = reinterpret_cast<const float*>(act + t * act_row_bytes + l.d_offset)[b];
      f[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[t]), _mm512_mul_ps(dv, _mm512_set1_ps(da)), f[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * y_stride, rows, f[t]);
}

// ---- Q4_K / Q5_K --------------------------------------------------------------------------------------

constexpr size_t kK4Bytes = 4096 + 512 + 512 + 256 + 64 + 64;

size_t k4_panel_bytes(int64_t n) { return static_cast<size_t>(n / 256) * kK4Bytes; }

template <bool kFive>
void k4_pack(const uint8_t* w, size_t w_row_bytes, int n_rows, int64_t n, uint8_t* panel) {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    uint8_t* p = panel + sb * kK4Bytes;
    auto* scale = reinterpret_cast<int32_t*>(p + 4608);
    auto* mins = reinterpret_cast<int16_t*>(p + 5120);
    auto* d = reinterpret_cast<float*>(p + 5376);
    auto* dmin = reinterpret_cast<float*>(p + 5440);
    const Block* blk[kRows];
    for (int r = 0; r < kRows; ++r) {
      blk[r] = r < n_rows ? reinterpret_cast<const Block*>(w + r * w_row_bytes) + sb : nullptr;
      uint8_t sc[8] = {}, mn[8] = {};
      d[r] = dmin[r] = 0;
      if (blk[r] != nullptr) {
        uint32_t u[4];
        unpack_k4_scales(blk[r]->scales, u);
        std::memcpy(sc, u, 8);
        std::memcpy(mn, u + 2, 8);
        d[r] = half(load_u16(&blk[r]->d)), dmin[r] = half(load_u16(&blk[r]->dmin));
      }
      for (int s = 0; s < 8; ++s) scale[16 * s + r] = sc[s];
      for (int pr = 0; pr < 4; ++pr) mins[32 * pr + 2 * r] = mn[2 * pr], mins[32 * pr + 2 * r + 1] = mn[2 * pr + 1];
    }
    for (int s = 0; s < 8; ++s) {  // sub-block s: low (s even) or high nibbles of qs[32 (s / 2) ..]
      __m256i rows[kRows];
      for (int r = 0; r < kRows; ++r) {
        rows[r] = _mm256_setzero_si256();
        if (blk[r] == nullptr) continue;
        const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[r]->qs + 32 * (s / 2)));
        rows[r] = _mm256_and_si256(s % 2 == 0 ? raw : _mm256_srli_epi16(raw, 4), m4);
        if constexpr (kFive) {
          const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[r]->qh));
          const __mmask32 k = _mm256_test_epi8_mask(qh, _mm256_set1_epi8(static_cast<char>(1 << s)));
          rows[r] = _mm256_mask_add_epi8(rows[r], k, rows[r], _mm256_set1_epi8(16));
        }
      }
      __m512i lo, hi;
      store_groups(rows, p, 8 * s, lo, hi);
      _mm512_store_si512(p + 4096 + 64 * s, _mm512_mullo_epi32(_mm512_add_epi32(lo, hi), _mm512_set1_epi32(-128)));
    }
  }
}

template <int NT>
void k4_tile(const uint8_t* panel, int64_t n, const uint8_t* act, size_t act_row_bytes, float* y, int64_t y_stride,
             __mmask16 rows) {
  const ActLayout l = act_layout(GgmlType::Q8_K, n);
  __m512 f[NT];
  for (int t = 0; t < NT; ++t) f[t] = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    const uint8_t* p = panel + sb * kK4Bytes;
    const uint8_t* a = act + 256 * sb;
    __m512i isum[NT];
    for (int s = 0; s < 8; ++s) {
      const __m512i seed = _mm512_load_si512(p + 4096 + 64 * s);
      __m512i acc[NT];
      for (int t = 0; t < NT; ++t) acc[t] = seed;
      for (int g = 0; g < 8; ++g) {
        const __m512i wv = _mm512_load_si512(p + 64 * (8 * s + g));
        for (int t = 0; t < NT; ++t) {
          int32_t a4;
          std::memcpy(&a4, a + t * act_row_bytes + 32 * s + 4 * g, 4);
          acc[t] = _mm512_dpbusd_epi32(acc[t], _mm512_set1_epi32(a4), wv);
        }
      }
      const __m512i sc = _mm512_load_si512(p + 4608 + 64 * s);
      for (int t = 0; t < NT; ++t) {
        const __m512i scaled = _mm512_mullo_epi32(acc[t], sc);
        isum[t] = s == 0 ? scaled : _mm512_add_epi32(isum[t], scaled);
      }
    }
    __m512i msum[NT];
    for (int t = 0; t < NT; ++t) msum[t] = _mm512_setzero_si512();
    for (int pr = 0; pr < 4; ++pr) {
      const __m512i mv = _mm512_load_si512(p + 5120 + 64 * pr);
      for (int t = 0; t < NT; ++t) {
        int32_t s2;  // the sums of sub-blocks 2pr and 2pr + 1, as two int16
        std::memcpy(&s2, act + t * act_row_bytes + l.sum32_offset + 2 * (8 * sb + 2 * pr), 4);
        msum[t] = _mm512_dpwssd_epi32(msum[t], mv, _mm512_set1_epi32(s2));
      }
    }
    const __m512 dv = _mm512_load_ps(reinterpret_cast<const float*>(p + 5376));
    const __m512 dmv = _mm512_load_ps(reinterpret_cast<const float*>(p + 5440));
    for (int t = 0; t < NT; ++t) {
      const __m512 da = _mm512_set1_ps(reinterpret_cast<const float*>(act + t * act_row_bytes + l.d_offset)[sb]);
      f[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dv, da), f[t]);
      f[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum[t]), _mm512_mul_ps(dmv, da), f[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * y_stride, rows, f[t]);
}

// ---- Q6_K ---------------------------------------------------------------------------------------------

constexpr size_t kQ6Bytes = 4096 + 1024 + 1024 + 64;

size_t q6_panel_bytes(int64_t n) { return static_cast<size_t>(n / 256) * kQ6Bytes; }

void q6_pack(const uint8_t* w, size_t w_row_bytes, int n_rows, int64_t n, uint8_t* panel) {
  const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3), m32 = _mm256_set1_epi8(32);
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    uint8_t* p = panel + sb * kQ6Bytes;
    auto* scale = reinterpret_cast<int32_t*>(p + 5120);
    auto* d = reinterpret_cast<float*>(p + 6144);
    const BlockQ6_K* blk[kRows];
    for (int r = 0; r < kRows; ++r) {
      blk[r] = r < n_rows ? reinterpret_cast<const BlockQ6_K*>(w + r * w_row_bytes) + sb : nullptr;
      d[r] = blk[r] != nullptr ? half(load_u16(&blk[r]->d)) : 0.0f;
      for (int s = 0; s < 16; ++s) scale[16 * s + r] = blk[r] != nullptr ? blk[r]->scales[s] : 0;
    }
    for (int k = 0; k < 8; ++k) {  // elements 32k .. 32k + 31: sub-blocks 2k, 2k + 1
      const int h = k / 4, i = k % 4;
      __m256i rows[kRows];
      for (int r = 0; r < kRows; ++r) {
        rows[r] = _mm256_setzero_si256();
        if (blk[r] == nullptr) continue;
        const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[r]->ql + 64 * h + 32 * (i % 2)));
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[r]->qh + 32 * h));
        const __m256i lowbits = _mm256_and_si256(i < 2 ? ql : _mm256_srli_epi16(ql, 4), m4);
        const __m256i highbits = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * i), m3);
        rows[r] = _mm256_sub_epi8(_mm256_or_si256(lowbits, _mm256_slli_epi16(highbits, 4)), m32);
      }
      __m512i lo, hi;
      store_groups(rows, p, 8 * k, lo, hi);
      _mm512_store_si512(p + 4096 + 64 * (2 * k), _mm512_mullo_epi32(lo, _mm512_set1_epi32(-128)));
      _mm512_store_si512(p + 4096 + 64 * (2 * k + 1), _mm512_mullo_epi32(hi, _mm512_set1_epi32(-128)));
    }
  }
}

template <int NT>
void q6_tile(const uint8_t* panel, int64_t n, const uint8_t* act, size_t act_row_bytes, float* y, int64_t y_stride,
             __mmask16 rows) {
  const ActLayout l = act_layout(GgmlType::Q8_K, n);
  __m512 f[NT];
  for (int t = 0; t < NT; ++t) f[t] = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    const uint8_t* p = panel + sb * kQ6Bytes;
    const uint8_t* a = act + 256 * sb;
    __m512i isum[NT];
    for (int s = 0; s < 16; ++s) {
      const __m512i seed = _mm512_load_si512(p + 4096 + 64 * s);
      __m512i acc[NT];
      for (int t = 0; t < NT; ++t) acc[t] = seed;
      for (int g = 0; g < 4; ++g) {
        const __m512i wv = _mm512_load_si512(p + 64 * (4 * s + g));
        for (int t = 0; t < NT; ++t) {
          int32_t a4;
          std::memcpy(&a4, a + t * act_row_bytes + 16 * s + 4 * g, 4);
          acc[t] = _mm512_dpbusd_epi32(acc[t], _mm512_set1_epi32(a4), wv);
        }
      }
      const __m512i sc = _mm512_load_si512(p + 5120 + 64 * s);
      for (int t = 0; t < NT; ++t) {
        const __m512i scaled = _mm512_mullo_epi32(acc[t], sc);
        isum[t] = s == 0 ? scaled : _mm512_add_epi32(isum[t], scaled);
      }
    }
    const __m512 dv = _mm512_load_ps(reinterpret_cast<const float*>(p + 6144));
    for (int t = 0; t < NT; ++t) {
      const __m512 da = _mm512_set1_ps(reinterpret_cast<const float*>(act + t * act_row_bytes + l.d_offset)[sb]);
      f[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dv, da), f[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * y_stride, rows, f[t]);
}

// ---- Driver: all tokens, kMaxTile at a time -------------------------------------------------------------

template <template <int> class Tile>
void compute(const uint8_t* panel, int64_t n, const uint8_t* act, size_t act_row_bytes, int64_t n_tok, float* y,
             int64_t y_stride, int n_rows) {
  const auto rows = static_cast<__mmask16>((1u << n_rows) - 1);
  int64_t t = 0;
  for (; t + kMaxTile <= n_tok; t += kMaxTile) {
    Tile<kMaxTile>::run(panel, n, act + t * act_row_bytes, act_row_bytes, y + t * y_stride, y_stride, rows);
  }
  const uint8_t* a = act + t * act_row_bytes;
  float* yt = y + t * y_stride;
  switch (n_tok - t) {
    case 1: Tile<1>::run(panel, n, a, act_row_bytes, yt, y_stride, rows); break;
    case 2: Tile<2>::run(panel, n, a, act_row_bytes, yt, y_stride, rows); break;
    case 3: Tile<3>::run(panel, n, a, act_row_bytes, yt, y_stride, rows); break;
    case 4: Tile<4>::run(panel, n, a, act_row_bytes, yt, y_stride, rows); break;
    case 5: Tile<5>::run(panel, n, a, act_row_bytes, yt, y_stride, rows); break;
    default: break;
  }
}

template <int NT> struct B32Tile { static constexpr auto run = b32_tile<NT>; };
template <int NT> struct K4Tile { static constexpr auto run = k4_tile<NT>; };
template <int NT> struct Q6Tile { static constexpr auto run = q6_tile<NT>; };

void set_gemm(KernelSet& set, GgmlType type, int min_tokens, size_t (*bytes)(int64_t),
              void (*pack)(const uint8_t*, size_t, int, int64_t, uint8_t*),
              void (*run)(const uint8_t*, int64_t, const uint8_t*, size_t, int64_t, float*, int64_t, int)) {
  GemmKernels& g = slot(set, type).gemm;
  g.panel_rows = kRows;
  g.min_tokens = min_tokens;
  g.panel_bytes = bytes;
  g.pack = pack;
  g.compute = run;
}

}  // namespace

// min_tokens: where the GEMM (packing included) overtakes the gemv kernel, measured on Zen 4 with one
// thread and 3840-wide rows.
void register_avx512_gemm(KernelSet& set) {
  set_gemm(set, GgmlType::Q4_0, 5, b32_panel_bytes, b32_pack<Q4_0Unpack>, compute<B32Tile>);
  set_gemm(set, GgmlType::Q5_0, 5, b32_panel_bytes, b32_pack<Q5_0Unpack>, compute<B32Tile>);
  set_gemm(set, GgmlType::Q8_0, 4, b32_panel_bytes, b32_pack<Q8_0Unpack>, compute<B32Tile>);
  set_gemm(set, GgmlType::IQ4_NL, 5, b32_panel_bytes, b32_pack<IQ4_NLUnpack>, compute<B32Tile>);
  set_gemm(set, GgmlType::Q4_K, 10, k4_panel_bytes, k4_pack<false>, compute<K4Tile>);
  set_gemm(set, GgmlType::Q5_K, 10, k4_panel_bytes, k4_pack<true>, compute<K4Tile>);
  set_gemm(set, GgmlType::Q6_K, 16, q6_panel_bytes, q6_pack, compute<Q6Tile>);
}

}  // namespace locus::tensor::kernels
