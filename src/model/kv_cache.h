// The key/value cache of one sequence, per layer, in f16 (llama.cpp's default cache type; values are
// rounded with the same round-to-nearest-even conversion).
//
// Full-attention layers hold n_ctx cells, one per position. Sliding-window layers only ever look back
// `window` positions, so they hold a ring of min(n_ctx, window + n_batch) cells, position p in cell
// p mod size: a batch of up to n_batch new tokens is written before it is attended, and its first query
// still needs the window - 1 positions before it. Cells are laid out [cell][kv head][head dim] for K and V
// alike (V is not transposed).
//
// Positions are contiguous from 0: the cache holds [0, n_past). Rolling back (truncate) is free for
// full layers; a sliding layer can roll back to p only while its ring still holds the window before p.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "model/gemma4_config.h"

namespace locus::model {

// Leaves new elements uninitialized: a cache of a long context is only paged in as positions are written
// (every cell is written before it is read).
template <typename T>
struct UninitializedAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <typename U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using F16Cells = std::vector<uint16_t, UninitializedAllocator<uint16_t>>;

struct KvLayer {
  bool swa = false;
  uint32_t n_cells = 0;
  uint32_t n_head_kv = 0;
  uint32_t head_dim = 0;
  F16Cells k;  // f16 bits, [n_cells][n_head_kv][head_dim]
  F16Cells v;

  uint32_t row_elements() const { return n_head_kv * head_dim; }
  uint32_t cell(int32_t pos) const { return static_cast<uint32_t>(pos) % n_cells; }
  uint16_t* k_row(int32_t pos) { return k.data() + size_t{cell(pos)} * row_elements(); }
  uint16_t* v_row(int32_t pos) { return v.data() + size_t{cell(pos)} * row_elements(); }
  const uint16_t* k_row(int32_t pos) const { return k.data() + size_t{cell(pos)} * row_elements(); }
  const uint16_t* v_row(int32_t pos) const { return v.data() + size_t{cell(pos)} * row_elements(); }
};

class KvCache {
 public:
  // n_ctx: most positions a sequence may reach; n_batch: most tokens written by one forward step.
  KvCache(const Gemma4Config& config, uint32_t n_ctx, uint32_t n_batch);

  uint32_t n_ctx() const { return n_ctx_; }
  uint32_t n_batch() const { return n_batch_; }
  uint32_t window() const { return window_; }
  int32_t n_past() const { return n_past_; }
  // The cache layer l attends over (another layer's for KV-shared layers).
  KvLayer& layer(uint32_t l) { return layers_[source_[l]]; }
  const KvLayer& layer(uint32_t l) const { return layers_[source_[l]]; }
  uint64_t bytes() const;
  // What a cache of this shape takes (bytes() of KvCache(config, n_ctx, n_batch)), without allocating it:
  // for memory planning before sequences are created.
  static uint64_t bytes_for(const Gemma4Config& config, uint32_t n_ctx, uint32_t n_batch);

  // The cache now also holds [n_past, new_n_past) (written by the caller); new_n_past <= n_ctx and the
  // step is at most n_batch positions.
  void advance(int32_t new_n_past);
  // Whether the sequence can continue from position pos (<= n_past), every layer still holding what the
  // next queries need.
  bool can_truncate(int32_t pos) const;
  // Forgets positions >= pos. Throws std::invalid_argument when !can_truncate(pos).
  void truncate(int32_t pos);
  void clear();

 private:
  std::vector<KvLayer> layers_;
  std::vector<uint32_t> source_;  // per layer: the layer whose cells it reads
  uint32_t n_ctx_ = 0;
  uint32_t n_batch_ = 0;
  uint32_t window_ = 0;
  uint32_t swa_cells_ = 0;        // 0 when no sliding layer has its own ring
  int32_t n_past_ = 0;
  int32_t swa_first_held_ = 0;    // oldest position every sliding ring still holds
};

}  // namespace locus::model
