// Matrix product entry point: converts the activations once, then splits the weight rows over the pool.
// Few tokens: each task runs the gemv kernel over a run of rows (the rows stay in cache while up to
// kMaxGemvTokens tokens at a time pass over them). Many tokens: each task repacks one panel of rows and
// runs the GEMM kernel over all tokens.
#include <algorithm>
#include <cassert>
#include <stdexcept>
#include <string>

#include "tensor/act_format.h"
#include "tensor/kernels.h"
#include "tensor/matmul.h"
#include "tensor/quantize.h"

namespace locus::tensor {
namespace {

using kernels::kMaxGemvTokens;

// A gemv task covers about this many weight bytes, one contiguous stream: long enough that the kernels'
// prefetching runs ahead for most of it and the shared task counter is rarely touched (64 KiB tasks
// decoded the 12B Q4_K_M about 25% slower), short enough that the last ones balance the threads and
// the rows stay in L2 across token groups. Each thread gets at least kMinTasksPerThread tasks.
constexpr uint64_t kGemvTaskBytes = 256 * 1024;
constexpr int kMinTasksPerThread = 4;

void ensure_per_thread(MatmulScratch& scratch, int n_threads, size_t bytes) {
  if (scratch.per_thread.size() < static_cast<size_t>(n_threads)) scratch.per_thread.resize(static_cast<size_t>(n_threads));
  for (int t = 0; t < n_threads; ++t) scratch.per_thread[static_cast<size_t>(t)].ensure(bytes);
}

[[noreturn]] void unsupported(GgmlType type) {
  throw std::invalid_argument("matmul: cannot multiply weights of type " +
                              std::string(gguf::ggml_type_info(type).name));
}

// Types without a dot-product kernel: dequantize each weight row and dot it in f32 with the dequantized
// activations. Slow, but only rare formats take it.
void matmul_dequantized(const MatrixView& w, const kernels::TypeKernels& k, const float* x, int64_t n_tokens,
                        float* y, ThreadPool& pool, MatmulScratch& scratch) {
  if (!can_dequantize(w.type)) unsupported(w.type);
  const int64_t n = w.n_in;
  const ActLayout al = act_layout(k.act_type, n);
  uint8_t* buf = scratch.activations.ensure(static_cast<size_t>(n_tokens) * (al.row_bytes + 4 * n));
  float* xr = reinterpret_cast<float*>(buf + n_tokens * al.row_bytes);
  for (int64_t t = 0; t < n_tokens; ++t) {
    k.quantize_act(x + t * n, buf + t * al.row_bytes, n);
    kernels::dequantize_act(k.act_type, k.act_order, buf + t * al.row_bytes, n, xr + t * n);
  }
  ensure_per_thread(scratch, pool.size(), 4 * static_cast<size_t>(n));
  constexpr int64_t kRowsPerTask = 16;
  pool.parallel_for((w.n_out + kRowsPerTask - 1) / kRowsPerTask, [&](int64_t task, int thread) {
    auto* wr = reinterpret_cast<float*>(scratch.per_thread[static_cast<size_t>(thread)].data());
    const int64_t o1 = std::min(w.n_out, (task + 1) * kRowsPerTask);
    for (int64_t o = task * kRowsPerTask; o < o1; ++o) {
      dequantize_row(w.type, w.row(o), wr, n);
      for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xt = xr + t * n;
        float acc = 0;
        for (int64_t i = 0; i < n; ++i) acc += wr[i] * xt[i];
        y[t * w.n_out + o] = acc;
      }
    }
  });
}

}  // namespace

void matmul(const MatrixView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            MatmulScratch& scratch) {
  if (n_tokens <= 0 || w.n_out <= 0) return;
  const kernels::TypeKernels& k = kernels::active_kernels(w.type);
  if (k.gemv == nullptr) return matmul_dequantized(w, k, x, n_tokens, y, pool, scratch);
  assert(w.n_in % gguf::ggml_type_info(w.type).block_elements == 0);

  const int64_t n = w.n_in;
  const bool gemm = k.gemm.panel_rows > 0 && n_tokens >= k.gemm.min_tokens;

  // Activations in the partner format; f32 ones are read in place.
  const uint8_t* act;
  size_t act_row_bytes;
  if (k.act_type == GgmlType::F32 && !gemm) {
    act = reinterpret_cast<const uint8_t*>(x);
    act_row_bytes = static_cast<size_t>(n) * sizeof(float);
  } else {
    act_row_bytes = act_layout(k.act_type, n).row_bytes;
    uint8_t* buf = scratch.activations.ensure(static_cast<size_t>(n_tokens) * act_row_bytes);
    const kernels::QuantizeActFn quantize = gemm ? k.gemm.quantize_act : k.quantize_act;
    auto convert = [&](int64_t t, int) {
      uint8_t* row = buf + t * act_row_bytes;
      quantize(x + t * n, row, n);
      if (gemm) {  // the GEMM kernels take the int8 quants biased to uint8 (kernels.h)
        for (int64_t i = 0; i < n; ++i) row[i] ^= 0x80;
      }
    };
    if (n_tokens >= 4) {
      pool.parallel_for(n_tokens, convert);
    } else {
      for (int64_t t = 0; t < n_tokens; ++t) convert(t, 0);
    }
    act = buf;
  }

  if (gemm) {
    const int rows = k.gemm.panel_rows;
    ensure_per_thread(scratch, pool.size(), k.gemm.panel_bytes(n));
    pool.parallel_for((w.n_out + rows - 1) / rows, [&](int64_t p, int thread) {
      const int64_t r0 = p * rows;
      const int nr = static_cast<int>(std::min<int64_t>(rows, w.n_out - r0));
      uint8_t* panel = scratch.per_thread[static_cast<size_t>(thread)].data();
      k.gemm.pack(w.row(r0), w.row_bytes, nr, n, panel);
      k.gemm.compute(panel, n, act, act_row_bytes, n_tokens, y + r0, w.n_out, nr);
    });
    return;
  }

  // Rows per task: about kGemvTaskBytes of weights, a multiple of 4, and at least kMinTasksPerThread
  // tasks per thread when there are rows enough (a thread that gets descheduled then delays the call by
  // one small task).
  int64_t rows_per_task = std::max<int64_t>(1, static_cast<int64_t>(kGemvTaskBytes / std::max<uint64_t>(1, w.row_bytes)));
  rows_per_task = std::min(rows_per_task, (w.n_out + kMinTasksPerThread * pool.size() - 1) / (kMinTasksPerThread * pool.size()));
  rows_per_task = std::max<int64_t>(4, rows_per_task / 4 * 4);
  const int64_t n_tasks = (w.n_out + rows_per_task - 1) / rows_per_task;
  pool.parallel_for(n_tasks, [&](int64_t task, int) {
    const int64_t r0 = task * rows_per_task;
    const int64_t nr = std::min(rows_per_task, w.n_out - r0);
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kMaxGemvTokens) {
      const int nt = static_cast<int>(std::min<int64_t>(kMaxGemvTokens, n_tokens - t0));
      k.gemv(w.row(r0), w.row_bytes, nr, n, act + t0 * act_row_bytes, act_row_bytes, nt, y + t0 * w.n_out + r0,
             w.n_out);
    }
  });
}

}  // namespace locus::tensor
