// `locus tokenize MODEL [TEXT|-]`: the token ids of a text under a model's tokenizer, like llama.cpp's
// llama-tokenize. Reads only the GGUF's tokenizer section.
#pragma once

#include <istream>
#include <ostream>
#include <string>

namespace locus::cli {

struct TokenizeOptions {
  std::string model_path;
  std::string text = "-";  // "-": read standard input
  bool pieces = false;      // one "id -> 'piece'" line per token, as llama-tokenize prints by default
  bool json = false;        // {"tokens": [...], "pieces": [...], "n_tokens": N}
  bool no_bos = false;      // leave out the BOS the model asks for
  bool parse_special = false;  // turn control-token text such as <|turn> into its token
};

// Writes the result to `out`; `in` is read when the text is "-". Default output: "[2, 9259, 1902]".
// Pieces render special tokens as their text; bytes that are not valid UTF-8 are shown as \xHH in the line
// form and as U+FFFD in JSON (which must be valid UTF-8).
// Throws gguf::GgufError for a model that cannot be read or has no supported tokenizer.
void tokenize(const TokenizeOptions& o, std::istream& in, std::ostream& out);

}  // namespace locus::cli
