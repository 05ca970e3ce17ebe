#include "text/bpe.h"

#include <algorithm>
#include <utility>

#include "text/utf8.h"

namespace locus::text {

namespace {

// The code point `piece` spells when it is exactly one, in shortest form; else -1.
int64_t single_code_point(std::string_view piece) {
  size_t offset = 0;
  const char32_t cp = next_code_point_llama(piece, offset);
  if (offset != piece.size() || cp > 0x10FFFF) return -1;
  std::string canonical;
  append_utf8(canonical, cp);
  if (canonical != piece) return -1;  // an overlong form: words never hold one
  return cp;
}

// Heap order: the pair to merge first is the one with the lowest rank, then the leftmost.
bool merges_later(const Bpe::Scratch::Pair& a, const Bpe::Scratch::Pair& b) {
  return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
}

}  // namespace

Bpe::Bpe(const Vocab& vocab, const gguf::Array& merges) : n_vocab_(vocab.size()) {
  std::copy(std::begin(vocab.byte_tokens), std::end(vocab.byte_tokens), byte_tokens_);

  std::unordered_map<std::string, int32_t> extra_ids;
  const auto symbol_id = [&](const std::string& s) -> int32_t {
    if (const auto id = vocab.find(s)) return *id;
    const auto [it, inserted] = extra_ids.emplace(s, n_vocab_ + static_cast<int32_t>(extra_.size()));
    if (inserted) extra_.push_back(s);
    return it->second;
  };

  merges_ = U64Map<Merge>(merges.items.size());
  std::string left;
  std::string right;
  std::string joined;
  for (size_t rank = 0; rank < merges.items.size(); ++rank) {
    const auto& merge = std::get<std::string>(merges.items[rank].data);
    const size_t space = merge.find(' ', 1);
    if (space == std::string::npos || space + 1 == merge.size()) continue;  // can never match a symbol pair
    left.assign(merge, 0, space);
    right.assign(merge, space + 1);
    joined.assign(left).append(right);
    const int32_t l = symbol_id(left);
    const int32_t r = symbol_id(right);
    merges_.insert((static_cast<uint64_t>(l) << 32) | static_cast<uint32_t>(r),
                   Merge{static_cast<int32_t>(rank), symbol_id(joined)});
  }

  std::vector<std::pair<char32_t, int32_t>> singles;
  const auto note_single = [&](std::string_view piece, int32_t id) {
    const int64_t cp = single_code_point(piece);
    if (cp >= 0) singles.emplace_back(static_cast<char32_t>(cp), id);
  };
  for (int32_t id = 0; id < n_vocab_; ++id) note_single(vocab.pieces[id], id);
  for (size_t i = 0; i < extra_.size(); ++i) note_single(extra_[i], n_vocab_ + static_cast<int32_t>(i));
  std::fill(std::begin(ascii_symbol_), std::end(ascii_symbol_), -1);
  cp_symbol_ = U64Map<int32_t>(singles.size());
  for (const auto& [cp, id] : singles) {
    if (cp < 128) {
      ascii_symbol_[cp] = id;
    } else {
      cp_symbol_.insert(cp, id);
    }
  }
}

void Bpe::queue_pair(const std::vector<Symbol>& symbols, int32_t left, int32_t right, Scratch& scratch) const {
  if (left < 0 || right < 0) return;
  const Merge* m = find(symbols[left].id, symbols[right].id);
  if (m == nullptr) return;
  scratch.queue.push_back({m->rank, left, right, symbols[left].id, symbols[right].id, m->result});
  std::push_heap(scratch.queue.begin(), scratch.queue.end(), merges_later);
}

void Bpe::encode_word(std::vector<Symbol>& symbols, int32_t first, int32_t last, std::string_view text,
                      std::vector<int32_t>& out, Scratch& scratch) const {
  for (int32_t i = first; i <= last; ++i) {
    symbols[i].prev = i == first ? -1 : i - 1;
    symbols[i].next = i == last ? -1 : i + 1;
  }

  auto& queue = scratch.queue;
  queue.clear();
  for (int32_t i = first; i < last; ++i) {
    const Merge* m = find(symbols[i].id, symbols[i + 1].id);
    if (m != nullptr) queue.push_back({m->rank, i, i + 1, symbols[i].id, symbols[i + 1].id, m->result});
  }
  std::make_heap(queue.begin(), queue.end(), merges_later);

  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), merges_later);
    const Scratch::Pair p = queue.back();
    queue.pop_back();
    Symbol& l = symbols[p.left];
    Symbol& r = symbols[p.right];
    // Stale: one side was merged away, or has grown into another string, since the pair was queued.
    if (l.len == 0 || r.len == 0 || l.next != p.right || l.id != p.left_id || r.id != p.right_id) continue;
    l.id = p.result;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = p.left;
    queue_pair(symbols, l.prev, p.left, scratch);
    queue_pair(symbols, p.left, l.next, scratch);
  }

  // The first symbol is never merged away (only right-hand symbols are), so the chain starts there.
  for (int32_t i = first; i >= 0; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    if (s.id >= 0 && s.id < n_vocab_) {
      out.push_back(s.id);
      continue;
    }
    for (const char c : text.substr(s.begin, s.len)) {
      const int32_t byte_token = byte_tokens_[static_cast<uint8_t>(c)];
      if (byte_token >= 0) out.push_back(byte_token);  // a byte the vocabulary lacks is dropped, as llama.cpp does
    }
  }
}

}  // namespace locus::text
