// BF16 weights times bf16 activations with AVX512-BF16's vdpbf16ps (pairs multiplied exactly and added
// into f32 lanes), as llama.cpp's ggml_vec_dot_bf16 does on such CPUs. Registered only where the CPU has
// it; compiled with -mavx512bf16 on top of the AVX-512 flags.
#include "tensor/kernels_x86.h"

namespace locus::tensor::kernels {
namespace {

inline __m512bh as_bh(__m512i v) { return reinterpret_cast<__m512bh&>(v); }

template <int NT>
void gemv_bf16_nt(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                  size_t act_row_bytes, float* y, int64_t y_stride) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto* wr = reinterpret_cast<const uint16_t*>(w + r * w_row_bytes);
    __m512 acc0[NT], acc1[NT];
    for (int t = 0; t < NT; ++t) acc0[t] = _mm512_setzero_ps(), acc1[t] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
      prefetch_ahead(wr + i, 128);
      const __m512i w0 = _mm512_loadu_si512(wr + i), w1 = _mm512_loadu_si512(wr + i + 32);
      for (int t = 0; t < NT; ++t) {
        const auto* at = reinterpret_cast<const uint16_t*>(act + t * act_row_bytes);
        acc0[t] = _mm512_dpbf16_ps(acc0[t], as_bh(w0), as_bh(_mm512_loadu_si512(at + i)));
        acc1[t] = _mm512_dpbf16_ps(acc1[t], as_bh(w1), as_bh(_mm512_loadu_si512(at + i + 32)));
      }
    }
    for (; i < n; i += 32) {
      const int64_t left = n - i;
      const __mmask32 k = left >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((1ull << left) - 1);
      const __m512i w0 = _mm512_maskz_loadu_epi16(k, wr + i);
      for (int t = 0; t < NT; ++t) {
        const auto* at = reinterpret_cast<const uint16_t*>(act + t * act_row_bytes);
        acc0[t] = _mm512_dpbf16_ps(acc0[t], as_bh(w0), as_bh(_mm512_maskz_loadu_epi16(k, at + i)));
      }
    }
    for (int t = 0; t < NT; ++t) y[t * y_stride + r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[t], acc1[t]));
  }
}

template <int NT> struct BF16Dot { static constexpr auto run = gemv_bf16_nt<NT>; };

}  // namespace

void register_avx512_bf16(KernelSet& set) { slot(set, GgmlType::BF16).gemv = dispatch_nt<BF16Dot>; }

}  // namespace locus::tensor::kernels
