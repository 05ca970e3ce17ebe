#include "text/special_split.h"

#include <algorithm>

namespace locus::text {

SpecialSplitter::SpecialSplitter(const Vocab& vocab, bool parse_special) {
  std::fill(std::begin(root_next_), std::end(root_next_), -1);

  // llama.cpp's list: ids ascending, then std::sort by text length, longest first. std::sort is not stable,
  // so equal lengths end in the order libstdc++'s introsort leaves them; sorting the same list with the same
  // comparison reproduces it. (Only overlapping special tokens of equal length could tell the difference.)
  std::vector<int32_t> all;
  for (int32_t id = 0; id < vocab.size(); ++id) {
    if (vocab.attrs[id] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) all.push_back(id);
  }
  std::sort(all.begin(), all.end(), [&](int32_t a, int32_t b) {
    return vocab.pieces[a].size() > vocab.pieces[b].size();
  });
  for (const int32_t id : all) {
    // Without "parse special", control and unknown tokens stay plain text; user-defined ones still match.
    if (!parse_special && (vocab.attrs[id] & (kAttrControl | kAttrUnknown))) continue;
    tokens_.push_back(id);
  }

  nodes_.emplace_back();  // root; its children live in root_next_ for speed
  for (size_t rank = 0; rank < tokens_.size(); ++rank) {
    const std::string_view piece = vocab.pieces[tokens_[rank]];
    lengths_.push_back(piece.size());
    int32_t node = 0;
    for (const char c : piece) {
      const auto byte = static_cast<uint8_t>(c);
      int32_t next = child(node, byte);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        nodes_.emplace_back();
        if (node == 0) {
          root_next_[byte] = next;
        } else {
          nodes_[node].next.emplace_back(byte, next);
        }
      }
      node = next;
    }
    // Pieces are unique, so no two tokens end at the same node.
    nodes_[node].rank = static_cast<int32_t>(rank);
  }
}

int32_t SpecialSplitter::child(int32_t node, uint8_t byte) const {
  if (node == 0) return root_next_[byte];
  for (const auto& [b, next] : nodes_[node].next) {
    if (b == byte) return next;
  }
  return -1;
}

void SpecialSplitter::split(std::string_view text, std::vector<TextSegment>& out) const {
  out.clear();
  if (text.empty()) return;

  struct Occurrence {
    int32_t rank;
    size_t pos;
  };
  std::vector<Occurrence> found;
  if (!tokens_.empty()) {
    for (size_t pos = 0; pos < text.size(); ++pos) {
      int32_t node = root_next_[static_cast<uint8_t>(text[pos])];
      for (size_t i = pos + 1; node >= 0; ++i) {
        if (nodes_[node].rank >= 0) found.push_back({nodes_[node].rank, pos});
        if (i == text.size()) break;
        node = child(node, static_cast<uint8_t>(text[i]));
      }
    }
  }
  if (found.empty()) {
    out.push_back({-1, 0, text.size()});
    return;
  }

  // Accept in llama.cpp's order: token by token, leftmost first, skipping occurrences that overlap one
  // accepted before (of this token or an earlier one).
  std::sort(found.begin(), found.end(), [](const Occurrence& a, const Occurrence& b) {
    return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos;
  });
  std::vector<uint8_t> taken(text.size(), 0);
  std::vector<Occurrence> accepted;
  for (const Occurrence& o : found) {
    const size_t len = lengths_[o.rank];
    if (std::find(taken.begin() + o.pos, taken.begin() + o.pos + len, 1) != taken.begin() + o.pos + len) continue;
    std::fill(taken.begin() + o.pos, taken.begin() + o.pos + len, 1);
    accepted.push_back(o);
  }
  std::sort(accepted.begin(), accepted.end(), [](const Occurrence& a, const Occurrence& b) { return a.pos < b.pos; });

  size_t at = 0;
  for (const Occurrence& o : accepted) {
    if (o.pos > at) out.push_back({-1, at, o.pos});
    out.push_back({tokens_[o.rank], o.pos, o.pos + lengths_[o.rank]});
    at = o.pos + lengths_[o.rank];
  }
  if (at < text.size()) out.push_back({-1, at, text.size()});
}

}  // namespace locus::text
