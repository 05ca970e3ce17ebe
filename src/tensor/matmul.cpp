// Matrix product entry point. For now the rows are split over the pool and each runs the reference
// conversion; the SIMD dot-product kernels (per weight type, runtime-dispatched) replace the inner loop.
#include <algorithm>

#include "tensor/matmul.h"
#include "tensor/quantize.h"

namespace locus::tensor {

void matmul(const MatrixView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            MatmulScratch& scratch) {
  const GgmlType at = vec_dot_type(w.type);
  const uint64_t xq_bytes = *gguf::ggml_row_bytes(at, static_cast<uint64_t>(w.n_in));
  const size_t need = static_cast<size_t>(n_tokens) * (xq_bytes + sizeof(float) * w.n_in);
  if (scratch.activations.size() < need) scratch.activations.resize(need);
  uint8_t* xq = scratch.activations.data();
  float* xr = reinterpret_cast<float*>(xq + n_tokens * xq_bytes);
  for (int64_t t = 0; t < n_tokens; ++t) {
    quantize_row(at, x + t * w.n_in, xq + t * xq_bytes, w.n_in);
    dequantize_row(at, xq + t * xq_bytes, xr + t * w.n_in, w.n_in);
  }
  constexpr int64_t kRowsPerTask = 16;
  const int64_t n_tasks = (w.n_out + kRowsPerTask - 1) / kRowsPerTask;
  pool.parallel_for(n_tasks, [&](int64_t task, int) {
    thread_local std::vector<float> wr;
    wr.resize(w.n_in);
    const int64_t o0 = task * kRowsPerTask, o1 = std::min(w.n_out, o0 + kRowsPerTask);
    for (int64_t o = o0; o < o1; ++o) {
      dequantize_row(w.type, w.row(o), wr.data(), w.n_in);
      for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xt = xr + t * w.n_in;
        float acc = 0;
        for (int64_t i = 0; i < w.n_in; ++i) acc += wr[i] * xt[i];
        y[t * w.n_out + o] = acc;
      }
    }
  });
}

}  // namespace locus::tensor
