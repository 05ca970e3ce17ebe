// Byte-pair merging as llama.cpp's BPE tokenizer does it on raw UTF-8 (the SentencePiece-style BPE of
// Gemma 4: no byte-level alphabet, unknown characters fall back to <0xHH> tokens).
//
// A word starts as one symbol per code point. Repeatedly, the adjacent pair whose merge "left right" has the
// lowest rank (its index in tokenizer.ggml.merges) is joined, ties going to the leftmost pair; the word is done
// when no adjacent pair has a merge. Each final symbol that is a vocabulary piece gives its id; any other gives
// one byte token per byte of its text.
//
// Symbols are ids, not strings: every piece of the vocabulary keeps its token id, and strings that occur in
// merges without being pieces get ids after the vocabulary. The merge table maps a pair of ids to the rank and
// the id of the joined string, so merging never builds or hashes a string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gguf/file.h"
#include "text/u64_map.h"
#include "text/vocab.h"

namespace locus::text {

class Bpe {
 public:
  struct Merge {
    int32_t rank = -1;
    int32_t result = -1;  // symbol id of the joined string
  };

  // One symbol of a word being merged; `begin`/`len` locate its bytes in the word's text.
  struct Symbol {
    int32_t id;    // symbol id; -1 for a code point that is neither a piece nor in any merge
    int32_t prev;  // neighbours in the word, -1 at the ends
    int32_t next;
    uint32_t begin;
    uint32_t len;  // 0 once merged into its left neighbour
  };

  // Reusable working memory for encode_word, so a long input does not allocate per word.
  struct Scratch {
    struct Pair {
      int32_t rank;
      int32_t left;
      int32_t right;
      int32_t left_id;   // ids when queued: a pair whose symbols changed since is stale
      int32_t right_id;
      int32_t result;
    };
    std::vector<Pair> queue;
  };

  Bpe() = default;
  // Builds the merge table from tokenizer.ggml.merges (strings "left right", split at the first space after
  // the first byte, as llama.cpp splits them; an array of strings). Later duplicates of a pair are ignored, as
  // are entries with no such space.
  Bpe(const Vocab& vocab, const gguf::Array& merges);

  // Initial symbol of a code point (its piece's id, or an id from the merges), -1 when none.
  int32_t symbol_of(char32_t cp) const {
    if (cp < 128) return ascii_symbol_[cp];
    const int32_t* s = cp_symbol_.find(cp);
    return s ? *s : -1;
  }

  // Merges symbols[first..last] (a word: consecutive entries whose prev/next this sets) and appends the
  // tokens to `out`. `text` holds the bytes the symbols point into.
  void encode_word(std::vector<Symbol>& symbols, int32_t first, int32_t last, std::string_view text,
                   std::vector<int32_t>& out, Scratch& scratch) const;

  size_t n_merges() const { return merges_.size(); }
  size_t n_extra_symbols() const { return extra_.size(); }

 private:
  const Merge* find(int32_t left, int32_t right) const {
    if (left < 0 || right < 0) return nullptr;
    return merges_.find((static_cast<uint64_t>(left) << 32) | static_cast<uint32_t>(right));
  }
  void queue_pair(const std::vector<Symbol>& symbols, int32_t left, int32_t right, Scratch& scratch) const;

  int32_t n_vocab_ = 0;
  int32_t byte_tokens_[256] = {};
  int32_t ascii_symbol_[128] = {};
  U64Map<int32_t> cp_symbol_;
  U64Map<Merge> merges_;
  std::vector<std::string> extra_;  // texts of symbols n_vocab_, n_vocab_ + 1, ...
};

}  // namespace locus::text
