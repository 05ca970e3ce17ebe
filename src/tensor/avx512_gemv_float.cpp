// AVX-512 dot products of F32 and F16 weights (and BF16 on CPUs without AVX512-BF16) with activations
// of the same type, for up to kMaxGemvTokens tokens at once: products and sums in f32 lanes, as
// llama.cpp's ggml_vec_dot_f32/f16/bf16 do, with a masked tail for lengths not a multiple of 16.
#include "tensor/kernels_x86.h"

namespace locus::tensor::kernels {
namespace {

struct F32Load {
  static constexpr size_t kBytes = 4;
  static __m512 load(const uint8_t* p, int64_t i) { return _mm512_loadu_ps(reinterpret_cast<const float*>(p) + i); }
  static __m512 load_tail(const uint8_t* p, int64_t i, __mmask16 k) {
    return _mm512_maskz_loadu_ps(k, reinterpret_cast<const float*>(p) + i);
  }
};

struct F16Load {
  static constexpr size_t kBytes = 2;
  static __m512 load(const uint8_t* p, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(p) + i)));
  }
  static __m512 load_tail(const uint8_t* p, int64_t i, __mmask16 k) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, reinterpret_cast<const uint16_t*>(p) + i));
  }
};

struct BF16Load {
  static constexpr size_t kBytes = 2;
  static __m512 load(const uint8_t* p, int64_t i) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(p) + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static __m512 load_tail(const uint8_t* p, int64_t i, __mmask16 k) {
    const __m256i h = _mm256_maskz_loadu_epi16(k, reinterpret_cast<const uint16_t*>(p) + i);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
};

template <typename L, int NT>
void gemv_float_nt(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                   size_t act_row_bytes, float* y, int64_t y_stride) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* wr = w + r * w_row_bytes;
    // Two accumulators per token hide the multiply-add latency when NT is small.
    __m512 acc0[NT], acc1[NT];
    for (int t = 0; t < NT; ++t) acc0[t] = _mm512_setzero_ps(), acc1[t] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      prefetch_ahead(wr + i * L::kBytes, 32 * L::kBytes);
      const __m512 w0 = L::load(wr, i), w1 = L::load(wr, i + 16);
      for (int t = 0; t < NT; ++t) {
        acc0[t] = _mm512_fmadd_ps(w0, L::load(act + t * act_row_bytes, i), acc0[t]);
        acc1[t] = _mm512_fmadd_ps(w1, L::load(act + t * act_row_bytes, i + 16), acc1[t]);
      }
    }
    for (; i < n; i += 16) {
      const int64_t left = n - i;
      const __mmask16 k = left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
      const __m512 w0 = L::load_tail(wr, i, k);
      for (int t = 0; t < NT; ++t) acc0[t] = _mm512_fmadd_ps(w0, L::load_tail(act + t * act_row_bytes, i, k), acc0[t]);
    }
    for (int t = 0; t < NT; ++t) y[t * y_stride + r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[t], acc1[t]));
  }
}

template <int NT> struct F32Dot { static constexpr auto run = gemv_float_nt<F32Load, NT>; };
template <int NT> struct F16Dot { static constexpr auto run = gemv_float_nt<F16Load, NT>; };
template <int NT> struct BF16Dot { static constexpr auto run = gemv_float_nt<BF16Load, NT>; };

}  // namespace

void register_avx512_gemv_float(KernelSet& set) {
  slot(set, GgmlType::F32).gemv = dispatch_nt<F32Dot>;
  slot(set, GgmlType::F16).gemv = dispatch_nt<F16Dot>;
  slot(set, GgmlType::BF16).gemv = dispatch_nt<BF16Dot>;  // replaced by avx512_bf16.cpp where available
}

}  // namespace locus::tensor::kernels
