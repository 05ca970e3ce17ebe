// The tokenizer parity corpus: a deterministic list of texts (the same bytes on every run and machine) that
// covers what a tokenizer gets wrong first: many scripts, emoji sequences, code, long whitespace runs,
// control characters, invalid UTF-8, special-token text, numbers, random code points, and long inputs.
#pragma once

#include <string>
#include <vector>

namespace locus::parity {

struct CorpusText {
  std::string category;  // "scripts", "emoji", "code", "whitespace", "control", "invalid_utf8", ...
  std::string text;      // raw bytes; only the invalid_utf8 category holds ill-formed UTF-8
};

std::vector<CorpusText> tokenizer_corpus();

}  // namespace locus::parity
