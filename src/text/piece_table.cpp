#include "text/piece_table.h"

#include <limits>
#include <stdexcept>

namespace locus::text {

void PieceTable::reserve(size_t n_pieces, size_t n_bytes) {
  ends_.reserve(n_pieces);
  bytes_.reserve(n_bytes);
}

void PieceTable::push_back(std::string_view piece) {
  if (bytes_.size() + piece.size() > std::numeric_limits<uint32_t>::max()) {
    throw std::length_error("vocabulary pieces exceed 4 GiB");
  }
  bytes_.append(piece);
  ends_.push_back(static_cast<uint32_t>(bytes_.size()));
}

uint64_t PieceTable::hash(std::string_view s) {
  // FNV-1a, then a final mix so that the top bits (the slot and the stored tag) depend on every byte.
  uint64_t h = 0xCBF29CE484222325ull;
  for (const char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001B3ull;
  }
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  return h;
}

int32_t PieceTable::build_index() {
  size_t capacity = 16;
  shift_ = 60;
  while (capacity < ends_.size() * 2) {
    capacity *= 2;
    --shift_;
  }
  slots_.assign(capacity, 0);
  const size_t mask = capacity - 1;
  int32_t first_repeat = -1;
  for (int32_t id = 0; id < size(); ++id) {
    const std::string_view piece = (*this)[id];
    const uint64_t h = hash(piece);
    const uint64_t tag = h >> 32 << 32;
    for (size_t i = h >> shift_;; i = (i + 1) & mask) {
      if (slots_[i] == 0) {
        slots_[i] = tag | static_cast<uint32_t>(id + 1);
        break;
      }
      if ((slots_[i] >> 32 << 32) == tag && (*this)[static_cast<int32_t>(slots_[i] & 0xFFFFFFFF) - 1] == piece) {
        if (first_repeat < 0) first_repeat = id;
        break;
      }
    }
  }
  return first_repeat;
}

int32_t PieceTable::find(std::string_view piece) const {
  if (slots_.empty()) return -1;
  const uint64_t h = hash(piece);
  const uint64_t tag = h >> 32 << 32;
  const size_t mask = slots_.size() - 1;
  for (size_t i = h >> shift_;; i = (i + 1) & mask) {
    const uint64_t slot = slots_[i];
    if (slot == 0) return -1;
    if ((slot >> 32 << 32) == tag) {
      const auto id = static_cast<int32_t>(slot & 0xFFFFFFFF) - 1;
      if ((*this)[id] == piece) return id;
    }
  }
}

}  // namespace locus::text
