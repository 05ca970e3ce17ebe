// The token table of a GGUF's tokenizer section: pieces, their types, the special ids, and the attributes
// llama.cpp derives from them (which decide how a token is matched in text and how it renders).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/file.h"
#include "text/piece_table.h"

namespace locus::text {

// tokenizer.ggml.token_type values, as the converter writes them.
enum class TokenType : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

// llama.cpp's token attributes: the declared type, adjusted by its load-time rules (below).
enum TokenAttr : uint16_t {
  kAttrUnknown = 1 << 0,
  kAttrUnused = 1 << 1,
  kAttrNormal = 1 << 2,
  kAttrControl = 1 << 3,
  kAttrUserDefined = 1 << 4,
  kAttrByte = 1 << 5,
};

struct Vocab {
  PieceTable pieces;                // token text, spaces written as U+2581
  std::vector<TokenType> types;     // as the GGUF declares (normal when it has no token_type array)
  std::vector<uint16_t> attrs;      // TokenAttr bits, as llama.cpp ends up with them
  std::vector<int16_t> byte_value;  // for byte tokens "<0xHH>": HH; -1 otherwise
  int32_t byte_tokens[256] = {};    // id of "<0xHH>" for each byte, -1 when the vocabulary lacks it

  int32_t bos = -1;
  int32_t eos = -1;
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = false;  // only used by decoding: strips one leading space, as llama.cpp does
  std::vector<int32_t> eog;       // end-of-generation ids, ascending

  int32_t size() const { return pieces.size(); }
  std::optional<int32_t> find(std::string_view piece) const {
    const int32_t id = pieces.find(piece);
    if (id < 0) return std::nullopt;
    return id;
  }
};

// Reads tokenizer.ggml.* from `file` for a "gemma4" tokenizer (the caller has checked the model name).
// Throws gguf::GgufError naming the file and the key for anything missing or malformed.
//
// llama.cpp's load-time rules applied here, because they change encoding and decoding:
// - tokens whose text is one of llama.cpp's end-of-generation names (for Gemma 4: <eos>, <turn|>,
//   <|tool_response>) join the EOG set and gain the control attribute, so <|tool_response>, declared
//   user-defined, is matched in text only when special tokens are parsed and renders only when asked;
// - the GGUF's eos id (and eot/eom ids when present) are end-of-generation too;
// - when <|tool_response> is in the set, </s> is taken out of it and its attributes set to normal;
// - add_bos is forced on for gemma4 (llama.cpp overrides a false tokenizer.ggml.add_bos_token);
// - control tokens whose text holds "unused" gain the unused attribute;
// - an empty piece is renamed "[EMPTY_<id>]".
// llama.cpp's rules for other families' names (fill-in-the-middle tokens, gpt-oss's <|end|> and <|channel|>)
// are not applied: a "gemma4" vocabulary does not hold them.
Vocab load_gemma4_vocab(const gguf::GgufFile& file);

}  // namespace locus::text
