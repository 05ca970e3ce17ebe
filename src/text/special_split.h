// Finding special tokens written out in text, before BPE sees it, exactly as llama.cpp partitions its input.
//
// llama.cpp's rule: take the special tokens (control, user-defined and unknown ones; with "parse special"
// off, only the user-defined ones) longest text first, ties in the order its std::sort leaves them (we sort
// the same list the same way); for each token in turn, cut every leftmost, non-overlapping occurrence out of
// the text pieces that are still plain text. A later (shorter) token never matches across or inside an
// earlier one's match.
//
// Done here in one pass: a trie finds every occurrence of every special token, then the occurrences are
// accepted in llama.cpp's token order with the same leftmost, non-overlapping rule. That is linear in the text
// times the longest special token, instead of the number of special tokens times the text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "text/vocab.h"

namespace locus::text {

// A piece of the input: a special token (token >= 0) or plain text [begin, end) (token < 0).
struct TextSegment {
  int32_t token = -1;
  size_t begin = 0;
  size_t end = 0;
};

class SpecialSplitter {
 public:
  SpecialSplitter() = default;
  SpecialSplitter(const Vocab& vocab, bool parse_special);

  // Replaces `out` with the segments of `text`, in order, covering it (empty text gives none).
  void split(std::string_view text, std::vector<TextSegment>& out) const;

  // The special tokens this splitter matches, in llama.cpp's matching order.
  const std::vector<int32_t>& tokens() const { return tokens_; }

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> next;  // byte -> node
    int32_t rank = -1;  // index into tokens_ when a token ends here
  };
  int32_t child(int32_t node, uint8_t byte) const;

  std::vector<int32_t> tokens_;
  std::vector<size_t> lengths_;  // text length of tokens_[rank]
  std::vector<Node> nodes_;      // nodes_[0] is the root
  int32_t root_next_[256] = {};  // filled with -1 (no child) by the constructor
};

}  // namespace locus::text
