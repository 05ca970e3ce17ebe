// Causal grouped-query attention of a batch of queries over one layer's f16 KV cache, with Gemma 4's
// conventions: scale 1.0 (the q/k norms carry it), no attention softcap, sliding-window layers seeing
// keys j with i - j < window (the key at the query's own position included), full layers everything
// up to the query.
//
// Two numerics, mirroring the two code paths of llama.cpp's CPU flash attention (which its default
// flash_attn=auto selects on CPU):
//  - kF32: Q stays f32, keys and values are widened from f16, softmax and the weighted sum of V are f32.
//    llama.cpp's tiled path, which it takes when a batch has at least 64 tokens.
//  - kF16Accumulate: Q is rounded to f16 before the dot products and the weighted sum of V is accumulated
//    in an f16 vector with an online softmax over the keys in position order. llama.cpp's per-row path,
//    taken for batches under 64 tokens (so for token-by-token generation).
// Keys are always visited in position order, whatever ring cell holds them, as llama.cpp visits the cells
// of a fresh context.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/kv_cache.h"
#include "tensor/thread_pool.h"

namespace locus::model {

enum class AttentionNumerics { kF32, kF16Accumulate };

// llama.cpp's choice for a batch of n_tokens query tokens.
inline AttentionNumerics llama_cpp_attention_numerics(int64_t n_tokens) {
  return n_tokens >= 64 ? AttentionNumerics::kF32 : AttentionNumerics::kF16Accumulate;
}

// Per-thread work buffers, sized once (at model load) for the largest layer; attention() grows them only
// when called with a bigger layer or pool than reserved for.
class AttentionScratch {
 public:
  // Room for any layer with heads of up to max_head_dim and up to max_group query heads per KV head.
  void reserve(int n_threads, uint32_t max_head_dim, uint32_t max_group);
  void reserve_rows(int n_threads, uint32_t head_dim, uint32_t rows);
  float* thread_buffer(int thread) { return buf_.data() + static_cast<size_t>(thread) * per_thread_; }
  size_t per_thread() const { return per_thread_; }
  int threads() const { return per_thread_ == 0 ? 0 : static_cast<int>(buf_.size() / per_thread_); }

 private:
  std::vector<float> buf_;
  size_t per_thread_ = 0;
};

struct AttentionBatch {
  const float* q = nullptr;     // n_tokens rows of n_head * head_dim
  int64_t n_tokens = 0;
  int32_t pos0 = 0;             // position of the first query; query t is at pos0 + t
  uint32_t n_head = 0;
  uint32_t window = 0;          // 0: full attention
  float* out = nullptr;         // n_tokens rows of n_head * head_dim
  // 0: causal. Otherwise the batch is one bidirectional block (an image on a sliding-window layer, gemma4.md
  // 4.6): every query also sees the later keys up to key_end - 1 (= pos0 + n_tokens), the window still
  // bounding what it sees below it.
  int32_t key_end = 0;
};

// The layer's cache must already hold the keys and values of positions up to pos0 + n_tokens - 1.
// (With key_end, keys are visited in position order as without; only the last key each query sees changes.)
void attention(const KvLayer& kv, const AttentionBatch& batch, AttentionNumerics numerics, tensor::ThreadPool& pool,
               AttentionScratch& scratch);

// One query over its own cache: the next token of one of several sequences decoded together.
struct AttentionRow {
  const KvLayer* kv = nullptr;  // that sequence's cache of the layer (holding positions up to pos)
  const float* q = nullptr;     // n_head * head_dim
  int32_t pos = 0;              // the query's position
  float* out = nullptr;         // n_head * head_dim
};

// attention() for rows of different sequences, in one pass over the pool (rather than one call per row,
// which would leave threads idle on layers with few KV heads). Every row's layer has the same head layout.
// Each row's result is the one attention() gives for a batch of that single query (same tasks' arithmetic).
void attention_rows(std::span<const AttentionRow> rows, uint32_t n_head, uint32_t window, AttentionNumerics numerics,
                    tensor::ThreadPool& pool, AttentionScratch& scratch);

// attention() runs portable loops, or x86 AVX2/FMA/F16C ones when the CPU has them (the same roundings; the
// fused multiply-adds change the last bits). Tests compare the two. The x86 loops also follow llama.cpp's
// x86 builds to the bit (its summation orders, 16-lane where the CPU has AVX-512F, and ggml's vectorized
// exp in the tiled softmax): tests/parity's parity_ops_exact checks that.
bool attention_uses_avx2();
void attention_force_portable(bool on);

// Plain double-precision attention over the same cache, for tests.
void attention_reference(const KvLayer& kv, const AttentionBatch& batch);

}  // namespace locus::model
