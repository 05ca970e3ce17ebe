// The vocabulary's pieces in one buffer, with a flat hash index from text to id. Loading Gemma 4 means about
// two million text lookups (every merge names two pieces and the piece they make); a node-based map spends
// most of that time on cache misses, an open-addressing table over one buffer does not.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace locus::text {

class PieceTable {
 public:
  void reserve(size_t n_pieces, size_t n_bytes);
  // Appends a piece (id = previous size). Call build_index() after the last one.
  void push_back(std::string_view piece);
  // Indexes every piece; returns -1, or the first id whose piece repeats an earlier one (the index then keeps
  // the earlier id).
  int32_t build_index();

  int32_t size() const { return static_cast<int32_t>(ends_.size()); }
  std::string_view operator[](int32_t id) const {
    const uint32_t begin = id == 0 ? 0 : ends_[id - 1];
    return std::string_view(bytes_).substr(begin, ends_[id] - begin);
  }
  // The id of `piece`, or -1.
  int32_t find(std::string_view piece) const;

 private:
  static uint64_t hash(std::string_view s);
  std::string bytes_;
  std::vector<uint32_t> ends_;  // piece i is bytes_[ends_[i-1], ends_[i])
  // Slot: (top 32 bits of the hash << 32) | (id + 1); 0 is empty.
  std::vector<uint64_t> slots_;
  unsigned shift_ = 64;
};

}  // namespace locus::text
