#include "model/kv_cache.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace locus::model {

KvCache::KvCache(const Gemma4Config& c, uint32_t n_ctx, uint32_t n_batch)
    : n_ctx_(n_ctx), n_batch_(n_batch), window_(c.sliding_window) {
  if (n_ctx == 0 || n_batch == 0) throw std::invalid_argument("KV cache needs n_ctx > 0 and n_batch > 0");
  const uint32_t ring = static_cast<uint32_t>(std::min<uint64_t>(n_ctx, uint64_t{window_} + n_batch));
  layers_.resize(c.n_layer);
  source_.resize(c.n_layer);
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    source_[l] = c.kv_layer(l);
    KvLayer& L = layers_[l];
    L.swa = c.is_swa[l];
    L.n_head_kv = c.n_head_kv(l);
    L.head_dim = c.head_dim(l);
    if (!c.has_kv(l)) continue;  // reads another layer's cache
    L.n_cells = L.swa ? ring : n_ctx;
    if (L.swa && ring < n_ctx) swa_cells_ = ring;
    const size_t n = size_t{L.n_cells} * L.row_elements();
    L.k.resize(n);
    L.v.resize(n);
  }
}

uint64_t KvCache::bytes() const {
  uint64_t b = 0;
  for (const KvLayer& L : layers_) b += (L.k.size() + L.v.size()) * sizeof(uint16_t);
  return b;
}

uint64_t KvCache::bytes_for(const Gemma4Config& c, uint32_t n_ctx, uint32_t n_batch) {
  // The same cell counts as the constructor's.
  const uint64_t ring = std::min<uint64_t>(n_ctx, uint64_t{c.sliding_window} + n_batch);
  uint64_t b = 0;
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    if (!c.has_kv(l)) continue;
    const uint64_t cells = c.is_swa[l] ? ring : n_ctx;
    b += 2 * cells * c.n_head_kv(l) * c.head_dim(l) * sizeof(uint16_t);
  }
  return b;
}

void KvCache::advance(int32_t new_n_past) {
  if (new_n_past < n_past_ || static_cast<uint32_t>(new_n_past) > n_ctx_ ||
      static_cast<uint32_t>(new_n_past - n_past_) > n_batch_) {
    throw std::invalid_argument("KV cache: cannot advance from " + std::to_string(n_past_) + " to " +
                                std::to_string(new_n_past) + " (n_ctx " + std::to_string(n_ctx_) + ", n_batch " +
                                std::to_string(n_batch_) + ")");
  }
  n_past_ = new_n_past;
  if (swa_cells_ != 0) swa_first_held_ = std::max<int32_t>(swa_first_held_, n_past_ - static_cast<int32_t>(swa_cells_));
}

bool KvCache::can_truncate(int32_t pos) const {
  if (pos < 0 || pos > n_past_) return false;
  if (swa_cells_ == 0) return true;
  // The next query (at pos) needs keys from pos - window + 1 on.
  const int32_t needed = std::max<int32_t>(0, pos - static_cast<int32_t>(window_) + 1);
  return needed >= swa_first_held_;
}

void KvCache::truncate(int32_t pos) {
  if (!can_truncate(pos)) {
    throw std::invalid_argument("KV cache: cannot roll back from " + std::to_string(n_past_) + " to " +
                                std::to_string(pos) + ": the sliding-window layers no longer hold positions from " +
                                std::to_string(std::max<int32_t>(0, pos - static_cast<int32_t>(window_) + 1)));
  }
  n_past_ = pos;
}

void KvCache::clear() {
  n_past_ = 0;
  swa_first_held_ = 0;
}

}  // namespace locus::model
