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

inline void put4(uint8_t* w, int group, int row, const int8_t* v) { std::memcpy(w + 64 * group + 4 * row, v, 4); }

// ---- 32-weight blocks ---------------------------------------------------------------------------------

constexpr size_t kB32Bytes = 512 + 64 + 64;

size_t b32_panel_bytes(int64_t n) { return static_cast<size_t>(n / 32) * kB32Bytes; }

// Signed weights of one block and its fp16 scale.
struct Q4_0Unpack {
  static constexpr size_t kBlockBytes = sizeof(BlockQ4_0);
  static uint16_t run(const uint8_t* p, int8_t (&v)[32]) {
    const auto& b = *reinterpret_cast<const BlockQ4_0*>(p);
    for (int j = 0; j < 16; ++j) v[j] = static_cast<int8_t>((b.qs[j] & 15) - 8), v[j + 16] = static_cast<int8_t>((b.qs[j] >> 4) - 8);
    return load_u16(&b.d);
  }
};
struct Q5_0Unpack {
  static constexpr size_t kBlockBytes = sizeof(BlockQ5_0);
  static uint16_t run(const uint8_t* p, int8_t (&v)[32]) {
    const auto& b = *reinterpret_cast<const BlockQ5_0*>(p);
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    for (int j = 0; j < 16; ++j) {
      v[j] = static_cast<int8_t>(((b.qs[j] & 15) | ((qh >> j) & 1) << 4) - 16);
      v[j + 16] = static_cast<int8_t>(((b.qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16);
    }
    return load_u16(&b.d);
  }
};
struct Q8_0Unpack {
  static constexpr size_t kBlockBytes = sizeof(BlockQ8_0);
  static uint16_t run(const uint8_t* p, int8_t (&v)[32]) {
    const auto& b = *reinterpret_cast<const BlockQ8_0*>(p);
    std::memcpy(v, b.qs, 32);
    return load_u16(&b.d);
  }
};
struct IQ4_NLUnpack {
  static constexpr size_t kBlockBytes = sizeof(BlockIq4Nl);
  static uint16_t run(const uint8_t* p, int8_t (&v)[32]) {
    const auto& b = *reinterpret_cast<const BlockIq4Nl*>(p);
    for (int j = 0; j < 16; ++j) v[j] = kIq4nlValues[b.qs[j] & 15], v[j + 16] = kIq4nlValues[b.qs[j] >> 4];
    return load_u16(&b.d);
  }
};

template <typename U>
void b32_pack(const uint8_t* w, size_t w_row_bytes, int n_rows, int64_t n, uint8_t* panel) {
  for (int64_t b = 0; b < n / 32; ++b) {
    uint8_t* p = panel + b * kB32Bytes;
    auto* seed = reinterpret_cast<int32_t*>(p + 512);
    auto* d = reinterpret_cast<float*>(p + 576);
    for (int r = 0; r < kRows; ++r) {
      int8_t v[32] = {};
      float scale = 0;
      if (r < n_rows) scale = half(U::run(w + r * w_row_bytes + b * U::kBlockBytes, v));
      int sum = 0;
      for (int j = 0; j < 32; ++j) sum += v[j];
      for (int g = 0; g < 8; ++g) put4(p, g, r, v + 4 * g);
      seed[r] = -128 * sum;
      d[r] = scale;
    }
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
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    uint8_t* p = panel + sb * kK4Bytes;
    auto* seed = reinterpret_cast<int32_t*>(p + 4096);
    auto* scale = reinterpret_cast<int32_t*>(p + 4608);
    auto* mins = reinterpret_cast<int16_t*>(p + 5120);
    auto* d = reinterpret_cast<float*>(p + 5376);
    auto* dmin = reinterpret_cast<float*>(p + 5440);
    for (int r = 0; r < kRows; ++r) {
      int8_t q[256] = {};
      uint8_t sc[8] = {}, mn[8] = {};
      d[r] = dmin[r] = 0;
      if (r < n_rows) {
        const Block& blk = reinterpret_cast<const Block*>(w + r * w_row_bytes)[sb];
        uint32_t u[4];
        unpack_k4_scales(blk.scales, u);
        std::memcpy(sc, u, 8);
        std::memcpy(mn, u + 2, 8);
        for (int c = 0; c < 4; ++c) {
          for (int j = 0; j < 32; ++j) {
            int lo = blk.qs[32 * c + j] & 15, hi = blk.qs[32 * c + j] >> 4;
            if constexpr (kFive) lo |= ((blk.qh[j] >> (2 * c)) & 1) << 4, hi |= ((blk.qh[j] >> (2 * c + 1)) & 1) << 4;
            q[64 * c + j] = static_cast<int8_t>(lo), q[64 * c + 32 + j] = static_cast<int8_t>(hi);
          }
        }
        d[r] = half(blk.d), dmin[r] = half(blk.dmin);
      }
      for (int g = 0; g < 64; ++g) put4(p, g, r, q + 4 * g);
      for (int s = 0; s < 8; ++s) {
        int sum = 0;
        for (int j = 0; j < 32; ++j) sum += q[32 * s + j];
        seed[16 * s + r] = -128 * sum;
        scale[16 * s + r] = sc[s];
      }
      for (int pr = 0; pr < 4; ++pr) mins[32 * pr + 2 * r] = mn[2 * pr], mins[32 * pr + 2 * r + 1] = mn[2 * pr + 1];
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
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    uint8_t* p = panel + sb * kQ6Bytes;
    auto* seed = reinterpret_cast<int32_t*>(p + 4096);
    auto* scale = reinterpret_cast<int32_t*>(p + 5120);
    auto* d = reinterpret_cast<float*>(p + 6144);
    for (int r = 0; r < kRows; ++r) {
      int8_t q[256] = {};
      int8_t sc[16] = {};
      d[r] = 0;
      if (r < n_rows) {
        const BlockQ6_K& blk = reinterpret_cast<const BlockQ6_K*>(w + r * w_row_bytes)[sb];
        for (int h = 0; h < 2; ++h) {
          const uint8_t* ql = blk.ql + 64 * h;
          const uint8_t* qh = blk.qh + 32 * h;
          for (int i = 0; i < 32; ++i) {
            q[128 * h + i] = static_cast<int8_t>(((ql[i] & 15) | (qh[i] & 3) << 4) - 32);
            q[128 * h + i + 32] = static_cast<int8_t>(((ql[i + 32] & 15) | ((qh[i] >> 2) & 3) << 4) - 32);
            q[128 * h + i + 64] = static_cast<int8_t>(((ql[i] >> 4) | ((qh[i] >> 4) & 3) << 4) - 32);
            q[128 * h + i + 96] = static_cast<int8_t>(((ql[i + 32] >> 4) | ((qh[i] >> 6) & 3) << 4) - 32);
          }
        }
        std::memcpy(sc, blk.scales, 16);
        d[r] = half(blk.d);
      }
      for (int g = 0; g < 64; ++g) put4(p, g, r, q + 4 * g);
      for (int s = 0; s < 16; ++s) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) sum += q[16 * s + j];
        seed[16 * s + r] = -128 * sum;
        scale[16 * s + r] = sc[s];
      }
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

void set_gemm(KernelSet& set, GgmlType type, size_t (*bytes)(int64_t),
              void (*pack)(const uint8_t*, size_t, int, int64_t, uint8_t*),
              void (*run)(const uint8_t*, int64_t, const uint8_t*, size_t, int64_t, float*, int64_t, int)) {
  GemmKernels& g = slot(set, type).gemm;
  g.panel_rows = kRows;
  g.panel_bytes = bytes;
  g.pack = pack;
  g.compute = run;
}

}  // namespace

void register_avx512_gemm(KernelSet& set) {
  set_gemm(set, GgmlType::Q4_0, b32_panel_bytes, b32_pack<Q4_0Unpack>, compute<B32Tile>);
  set_gemm(set, GgmlType::Q5_0, b32_panel_bytes, b32_pack<Q5_0Unpack>, compute<B32Tile>);
  set_gemm(set, GgmlType::Q8_0, b32_panel_bytes, b32_pack<Q8_0Unpack>, compute<B32Tile>);
  set_gemm(set, GgmlType::IQ4_NL, b32_panel_bytes, b32_pack<IQ4_NLUnpack>, compute<B32Tile>);
  set_gemm(set, GgmlType::Q4_K, k4_panel_bytes, k4_pack<false>, compute<K4Tile>);
  set_gemm(set, GgmlType::Q5_K, k4_panel_bytes, k4_pack<true>, compute<K4Tile>);
  set_gemm(set, GgmlType::Q6_K, q6_panel_bytes, q6_pack, compute<Q6Tile>);
}

}  // namespace locus::tensor::kernels
