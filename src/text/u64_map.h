// A fixed-size open-addressing hash map from 64-bit keys to small values, for the tokenizer's hot lookups
// (merge ranks by symbol pair, symbols by code point): one probe into a flat array is several times faster
// than std::unordered_map's node chase, and building half a million entries takes a few milliseconds.
// Sized once for the number of keys it will hold; no erase. Key ~0 is reserved as the empty marker.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace locus::text {

template <typename V>
class U64Map {
 public:
  U64Map() = default;
  explicit U64Map(size_t expected_keys) {
    size_t capacity = 16;
    shift_ = 60;
    while (capacity < expected_keys * 2) {  // load factor at most 1/2 keeps probes short
      capacity *= 2;
      --shift_;
    }
    keys_.assign(capacity, kEmpty);
    values_.resize(capacity);
    mask_ = capacity - 1;
  }

  // Inserts unless the key is there already (the first value wins). Returns whether it inserted.
  bool insert(uint64_t key, const V& value) {
    assert(key != kEmpty && size_ < keys_.size());
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return false;
      if (keys_[i] == kEmpty) {
        keys_[i] = key;
        values_[i] = value;
        ++size_;
        return true;
      }
    }
  }

  const V* find(uint64_t key) const {
    if (keys_.empty()) return nullptr;
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  size_t slot(uint64_t key) const {
    // Fibonacci hashing (the top bits of a multiply): keys here are small packed integers.
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  }

  std::vector<uint64_t> keys_;
  std::vector<V> values_;
  size_t mask_ = 0;
  unsigned shift_ = 60;
  size_t size_ = 0;
};

}  // namespace locus::text
