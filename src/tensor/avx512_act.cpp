// AVX-512 activation converters (act_format.h), byte-identical to the scalar ones in kernels_scalar.cpp.
// The per-block scale arithmetic stays scalar (same float operations in the same order); only the
// per-value work is vectorized.
#include "tensor/kernels_x86.h"

namespace locus::tensor::kernels {
namespace {

inline float fp16_round_trip(float v) { return _cvtsh_ss(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT)); }

inline float reduce_max_ps(__m512 v) {
  __m256 m = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

inline __m512 abs_ps(__m512 v) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff))); }

template <bool kWithS, ActOrder kOrder = ActOrder::kNatural>
void quantize_q8_0_like(const float* x, uint8_t* dst, int64_t n, GgmlType type) {
  const ActLayout l = act_layout(type, n);
  auto* const row = reinterpret_cast<int8_t*>(dst);
  auto* d = reinterpret_cast<float*>(dst + l.d_offset);
  auto* nsum = reinterpret_cast<int32_t*>(dst + l.sum_offset);
  auto* s = reinterpret_cast<float*>(dst + l.s_offset);
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = reduce_max_ps(_mm512_max_ps(abs_ps(v0), abs_ps(v1)));
    const float scale = amax / 127.0f;
    d[b] = fp16_round_trip(scale);
    const __m512 inv = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    // cvtps rounds to nearest even (the default MXCSR mode), as llama.cpp's round + convert does.
    const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, inv));
    const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, inv));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(row + act_position(kOrder, 32 * b, n)), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(row + act_position(kOrder, 32 * b + 16, n)), _mm512_cvtsepi32_epi8(q1));
    const int total = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
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
    __m512 m = _mm512_setzero_ps();
    for (int i = 0; i < 16; ++i) m = _mm512_max_ps(m, abs_ps(_mm512_loadu_ps(x + 16 * i)));
    const float amax = reduce_max_ps(m);
    if (amax == 0.0f) {
      d[b] = 0;
      std::memset(qs, 0, 256);
      std::memset(bsums, 0, 32);
      std::memset(sum32, 0, 16);
      continue;
    }
    // The first value of that magnitude gives the sign of the scale.
    float max = 0;
    const __m512 vamax = _mm512_set1_ps(amax);
    for (int i = 0; i < 16; ++i) {
      const __mmask16 k = _mm512_cmp_ps_mask(abs_ps(_mm512_loadu_ps(x + 16 * i)), vamax, _CMP_EQ_OQ);
      if (k != 0) {
        max = x[16 * i + __builtin_ctz(k)];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m512 vs = _mm512_set1_ps(iscale);
    const __m512i q127 = _mm512_set1_epi32(127);
    for (int i = 0; i < 16; ++i) {
      const __m512i q = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * i), vs)), q127);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + act_position(kOrder, 16 * i, 256)), _mm512_cvtsepi32_epi8(q));
      bsums[i] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    for (int g = 0; g < 8; ++g) sum32[g] = static_cast<int16_t>(bsums[2 * g] + bsums[2 * g + 1]);
    d[b] = 1 / iscale;
  }
}

void quantize_act_f16(const float* x, uint8_t* dst, int64_t n) {
  auto* h = reinterpret_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(h + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(h + i, k, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(k, x + i), _MM_FROUND_TO_NEAREST_INT));
  }
}

// Round to nearest even on the bits, NaN made quiet: the same as float_to_bf16_bits.
inline __m256i to_bf16(__m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(0x7fff)), lsb), 16);
  const __mmask16 nan = _mm512_cmp_epu32_mask(_mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff)),
                                               _mm512_set1_epi32(0x7f800000), _MM_CMPINT_NLE);
  const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet));
}

void quantize_act_bf16(const float* x, uint8_t* dst, int64_t n) {
  auto* h = reinterpret_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(h + i), to_bf16(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(h + i, k, to_bf16(_mm512_maskz_loadu_ps(k, x + i)));
  }
}

}  // namespace

void register_avx512_act(KernelSet& set) {
  set.act.q8_0 = quantize_act_q8_0;
  set.act.q8_0_quad = quantize_act_q8_0_quad;
  set.act.q8_1 = quantize_act_q8_1;
  set.act.q8_k = quantize_act_q8_k<ActOrder::kNatural>;
  set.act.q8_k_k4 = quantize_act_q8_k<ActOrder::kK4>;
  set.act.f16 = quantize_act_f16;
  set.act.bf16 = quantize_act_bf16;
}

}  // namespace locus::tensor::kernels
