// AVX2 activation converters (act_format.h), byte-identical to the scalar ones in kernels_scalar.cpp:
// the same per-block scalar arithmetic, the per-value work eight lanes at a time.
#include "tensor/kernels_x86.h"

namespace locus::tensor::kernels {
namespace {

inline float fp16_round_trip(float v) { return _cvtsh_ss(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT)); }

inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

inline float reduce_max_ps(__m256 v) {
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

inline int reduce_add_epi32(__m256i v) {
  __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
  return _mm_cvtsi128_si32(h);
}

// 16 int32 (two vectors, values within int8) to 16 int8 in order.
inline __m128i pack16(__m256i a, __m256i b) {
  const __m256i w = _mm256_packs_epi32(a, b);                    // a0-3 b0-3 | a4-7 b4-7 (int16)
  const __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
  const __m128i bytes = _mm_packs_epi16(lo, hi);                 // a0-3 b0-3 a4-7 b4-7
  return _mm_shuffle_epi8(bytes, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15));
}

template <bool kWithS, ActOrder kOrder = ActOrder::kNatural>
void quantize_q8_0_like(const float* x, uint8_t* dst, int64_t n, GgmlType type) {
  const ActLayout l = act_layout(type, n);
  auto* const row = reinterpret_cast<int8_t*>(dst);
  auto* d = reinterpret_cast<float*>(dst + l.d_offset);
  auto* nsum = reinterpret_cast<int32_t*>(dst + l.sum_offset);
  auto* s = reinterpret_cast<float*>(dst + l.s_offset);
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    __m256 v[4];
    for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(x + 8 * i);
    const float amax = reduce_max_ps(_mm256_max_ps(_mm256_max_ps(abs_ps(v[0]), abs_ps(v[1])), _mm256_max_ps(abs_ps(v[2]), abs_ps(v[3]))));
    const float scale = amax / 127.0f;
    d[b] = fp16_round_trip(scale);
    const __m256 inv = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], inv));  // ties to even
    _mm_storeu_si128(reinterpret_cast<__m128i*>(row + act_position(kOrder, 32 * b, n)), pack16(q[0], q[1]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(row + act_position(kOrder, 32 * b + 16, n)), pack16(q[2], q[3]));
    const int total = reduce_add_epi32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
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
    __m256 m = _mm256_setzero_ps();
    for (int i = 0; i < 32; ++i) m = _mm256_max_ps(m, abs_ps(_mm256_loadu_ps(x + 8 * i)));
    const float amax = reduce_max_ps(m);
    if (amax == 0.0f) {
      d[b] = 0;
      std::memset(qs, 0, 256);
      std::memset(bsums, 0, 32);
      std::memset(sum32, 0, 16);
      continue;
    }
    float max = 0;  // the first value of that magnitude
    const __m256 vamax = _mm256_set1_ps(amax);
    for (int i = 0; i < 32; ++i) {
      const int k = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + 8 * i)), vamax, _CMP_EQ_OQ));
      if (k != 0) {
        max = x[8 * i + __builtin_ctz(static_cast<unsigned>(k))];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i q127 = _mm256_set1_epi32(127);
    for (int i = 0; i < 16; ++i) {
      const __m256i q0 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * i), vs)), q127);
      const __m256i q1 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * i + 8), vs)), q127);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + act_position(kOrder, 16 * i, 256)), pack16(q0, q1));
      bsums[i] = static_cast<int16_t>(reduce_add_epi32(_mm256_add_epi32(q0, q1)));
    }
    for (int g = 0; g < 8; ++g) sum32[g] = static_cast<int16_t>(bsums[2 * g] + bsums[2 * g + 1]);
    d[b] = 1 / iscale;
  }
}

void quantize_act_f16(const float* x, uint8_t* dst, int64_t n) {
  auto* h = reinterpret_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) h[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

}  // namespace

void register_avx2_act(KernelSet& set) {
  set.act.q8_0 = quantize_act_q8_0;
  set.act.q8_0_quad = quantize_act_q8_0_quad;
  set.act.q8_1 = quantize_act_q8_1;
  set.act.q8_k = quantize_act_q8_k<ActOrder::kNatural>;
  set.act.q8_k_k4 = quantize_act_q8_k<ActOrder::kK4>;
  set.act.f16 = quantize_act_f16;
}

}  // namespace locus::tensor::kernels
