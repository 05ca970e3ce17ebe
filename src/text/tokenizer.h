// Gemma 4's tokenizer, built from a GGUF's tokenizer section alone, giving the ids llama.cpp gives.
//
// Encoding (llama.cpp's "gemma4" BPE):
//   1. special tokens written in the text are cut out first (special_split.h): user-defined ones always,
//      control ones only with parse_special;
//   2. in each remaining piece of text, invalid UTF-8 becomes U+FFFD (llama.cpp's rule, utf8.h) and every
//      space becomes U+2581; no other normalization, no added leading space;
//   3. the piece splits into runs of newlines and runs of anything else; a newline run that is a piece of the
//      vocabulary is that token, everything else goes through BPE (bpe.h) with <0xHH> byte fallback;
//   4. with add_bos, BOS comes first (and EOS last, if the GGUF sets tokenizer.ggml.add_eos_token).
// One deliberate difference: a 4-byte sequence that decodes above U+10FFFF (F4 90.. to F7 ..) makes llama.cpp
// throw from its tokenizer; here it becomes one U+FFFD.
//
// Decoding: a normal piece with U+2581 turned back into spaces, a byte token its byte, a user-defined token its
// text, a control or unknown token its text only when render_special (else nothing). decode() of a sequence
// then applies llama.cpp's space clean-up (clean_spaces.h); piece() does not. Pieces may hold part of a UTF-8
// character: stream them through Utf8StreamDecoder.
//
// A Tokenizer is immutable after loading; copies share the tables and every method is safe to call from
// several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/file.h"
#include "text/vocab.h"

namespace locus::text {

class Tokenizer {
 public:
  // Throws gguf::GgufError when the file has no tokenizer, a tokenizer other than "gemma4", or a malformed one.
  static Tokenizer from_gguf(const gguf::GgufFile& file);

  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;
  // Whole-sequence text, as llama_detokenize gives it (spaces cleaned up). Throws std::out_of_range for an id
  // outside the vocabulary.
  std::string decode(std::span<const int32_t> ids, bool render_special) const;
  // The bytes one token stands for (possibly part of a UTF-8 character). Throws std::out_of_range.
  std::string piece(int32_t id, bool render_special) const;
  void append_piece(std::string& out, int32_t id, bool render_special) const;

  int32_t bos() const { return vocab().bos; }
  int32_t eos() const { return vocab().eos; }  // -1 when the GGUF names none
  // Whether encode(..., add_bos = true, ...) is what the model expects; llama.cpp forces it on for gemma4.
  bool wants_bos() const { return vocab().add_bos; }
  bool is_eog(int32_t id) const;
  const std::vector<int32_t>& eog_tokens() const { return vocab().eog; }

  int32_t n_vocab() const { return vocab().size(); }
  std::optional<int32_t> find(std::string_view piece) const { return vocab().find(piece); }
  // The vocabulary's text for `id` (spaces as U+2581, byte tokens as <0xHH>). Throws std::out_of_range.
  std::string_view raw_piece(int32_t id) const;
  // The type the GGUF declares. Throws std::out_of_range.
  TokenType token_type(int32_t id) const;
  // Control in llama.cpp's sense (declared control or unknown, or made control by its rules, like
  // <|tool_response>): matched in text only with parse_special, rendered only with render_special.
  bool is_control(int32_t id) const;

  // Sizes of the loaded tables, for diagnostics.
  size_t n_merges() const;

 private:
  struct Model;
  explicit Tokenizer(std::shared_ptr<const Model> model) : model_(std::move(model)) {}
  const Vocab& vocab() const;
  void check_id(int32_t id) const;

  std::shared_ptr<const Model> model_;
};

}  // namespace locus::text
