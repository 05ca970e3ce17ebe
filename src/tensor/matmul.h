// Matrix products of stored (possibly quantized) weights with f32 activations: the bulk of a forward pass.
//
// A weight matrix in GGUF is [n_in, n_out] in ggml order: n_out rows of n_in stored values each. The product
// is y[t][o] = sum_i W[o][i] * x[t][i] for tokens t. Like llama.cpp, activations are first converted to
// the weight format's partner type (q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL, q8_1 for Q4_1/Q5_1, q8_K for K-quants
// and IQ4_XS, f16 for F16, bf16 for BF16, f32 for F32), so results match llama.cpp's to rounding.
//
// Weights are read in place (never copied whole). One token (generation) streams each weight row once
// through a dot-product kernel, rows spread over the pool; many tokens (prompt processing) repack a few
// rows at a time into per-thread scratch and multiply them with every token (kernels.h). The kernels are
// chosen at run time for the CPU (cpu_features.h).
#pragma once

#include <cstdint>
#include <vector>

#include "gguf/tensor_type.h"
#include "tensor/aligned_buffer.h"
#include "tensor/thread_pool.h"

namespace locus::tensor {

using gguf::GgmlType;

struct MatrixView {
  GgmlType type = GgmlType::F32;
  const uint8_t* data = nullptr;  // n_out rows of row_bytes each (memory-mapped weights, used in place)
  int64_t n_in = 0;               // values per row (ggml ne0)
  int64_t n_out = 0;              // rows (ggml ne1)
  uint64_t row_bytes = 0;
  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes; }
};

// Buffers reused across calls so the hot path does not allocate once warm: each grows to the largest need
// seen and stays. Use one per thread that calls matmul (a pool's workers share their caller's).
struct MatmulScratch {
  AlignedBuffer activations;              // converted activation rows
  std::vector<AlignedBuffer> per_thread;  // one per pool thread: repacked weight panels, dequantized rows
};

// y (n_tokens x n_out) = x (n_tokens x n_in) times W^T. Throws std::invalid_argument for a weight type
// this build cannot multiply (see can_dequantize).
void matmul(const MatrixView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            MatmulScratch& scratch);

// The scalar reference the fast paths are tested against (same partner-type conversion, plain loops).
void matmul_ref(const MatrixView& w, const float* x, int64_t n_tokens, float* y);

// Dequantizes row r of W into out (n_in floats): embedding lookups.
void get_row(const MatrixView& w, int64_t r, float* out);

// The activation type llama.cpp pairs with a weight type.
GgmlType vec_dot_type(GgmlType weight_type);

}  // namespace locus::tensor
