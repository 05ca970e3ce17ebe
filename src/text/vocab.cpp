#include "text/vocab.h"

#include <algorithm>
#include <array>
#include <string>

namespace locus::text {

namespace {

using gguf::GgufError;
using gguf::ValueType;

// Token names llama.cpp treats as end of generation whatever their declared type (it matches by text).
// Only <eos>, <turn|> and <|tool_response>, and </s> (removed again below), occur in Gemma 4's vocabulary.
constexpr std::array<std::string_view, 22> kEogNames = {
    "<|eot_id|>", "<|im_end|>",      "<|end|>",           "<|return|>",     "<|call|>",
    "<|flush|>",  "<|calls|>",       "<end_of_turn>",     "<|endoftext|>",  "</s>",
    "<|eom_id|>", "<EOT>",           "_<EOT>",            "[EOT]",          "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>",     "<turn|>",        "<|tool_response>",
    "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>",  // <｜end▁of▁sentence｜>
    "[e~[",
};

uint16_t attr_of_type(TokenType t) {
  switch (t) {
    case TokenType::unknown: return kAttrUnknown;
    case TokenType::unused: return kAttrUnused;
    case TokenType::normal: return kAttrNormal;
    case TokenType::control: return kAttrControl;
    case TokenType::user_defined: return kAttrUserDefined;
    case TokenType::byte: return kAttrByte;
    case TokenType::undefined: return 0;
  }
  return 0;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "<0xHH>" -> HH, else -1.
int byte_token_value(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  const int hi = hex_digit(piece[3]);
  const int lo = hex_digit(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

const gguf::Array& require_array_of(const gguf::GgufFile& file, std::string_view key, ValueType element,
                                    std::string_view element_name) {
  const gguf::Array& a = file.get_array(key);
  if (a.element_type != element) {
    throw GgufError("key " + std::string(key) + " in " + file.path() + ": expected an array of " +
                    std::string(element_name) + ", found an array of " +
                    std::string(gguf::value_type_name(a.element_type)));
  }
  return a;
}

// An optional special-token id; absent gives -1. An id outside the vocabulary is an error.
int32_t special_id(const gguf::GgufFile& file, std::string_view key, int32_t n_vocab) {
  const auto id = file.get_u32_or(key);
  if (!id) return -1;
  if (*id >= static_cast<uint32_t>(n_vocab)) {
    throw GgufError("key " + std::string(key) + " in " + file.path() + ": expected a token id below " +
                    std::to_string(n_vocab) + ", found " + std::to_string(*id));
  }
  return static_cast<int32_t>(*id);
}

// A piece for an error message: short, on one line.
std::string quoted(std::string_view piece) {
  std::string out = "\"";
  for (const char c : piece.substr(0, 24)) {
    const auto b = static_cast<uint8_t>(c);
    if (b >= 0x20 && b < 0x7F && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += {'\\', 'x', kHex[b >> 4], kHex[b & 15]};
    }
  }
  return out + (piece.size() > 24 ? "\"..." : "\"");
}

bool optional_bool(const gguf::GgufFile& file, std::string_view key, bool fallback) {
  return file.has(key) ? file.get_bool(key) : fallback;
}

}  // namespace

Vocab load_gemma4_vocab(const gguf::GgufFile& file) {
  Vocab v;
  const gguf::Array& tokens = require_array_of(file, "tokenizer.ggml.tokens", ValueType::STRING, "strings");
  if (tokens.items.empty() || tokens.items.size() > static_cast<size_t>(INT32_MAX)) {
    throw GgufError("key tokenizer.ggml.tokens in " + file.path() + ": expected 1 to 2^31-1 tokens, found " +
                    std::to_string(tokens.items.size()));
  }
  const auto n = static_cast<int32_t>(tokens.items.size());

  size_t n_bytes = 0;
  for (const gguf::Value& t : tokens.items) n_bytes += std::get<std::string>(t.data).size();
  v.pieces.reserve(n, n_bytes);
  for (int32_t id = 0; id < n; ++id) {
    const std::string& piece = std::get<std::string>(tokens.items[id].data);
    if (piece.empty()) {
      v.pieces.push_back("[EMPTY_" + std::to_string(id) + "]");  // as llama.cpp renames them
    } else {
      v.pieces.push_back(piece);
    }
  }
  if (const int32_t repeat = v.pieces.build_index(); repeat >= 0) {
    // llama.cpp refuses such a vocabulary too (it asserts one id per piece).
    throw GgufError("key tokenizer.ggml.tokens in " + file.path() + ": the piece of token " + std::to_string(repeat) +
                    " repeats an earlier token's; each piece must be unique");
  }

  v.types.assign(n, TokenType::normal);
  if (file.has("tokenizer.ggml.token_type")) {
    const gguf::Array& types = require_array_of(file, "tokenizer.ggml.token_type", ValueType::INT32, "i32");
    if (types.items.size() < static_cast<size_t>(n)) {
      throw GgufError("key tokenizer.ggml.token_type in " + file.path() + ": expected " + std::to_string(n) +
                      " types (one per token), found " + std::to_string(types.items.size()));
    }
    for (int32_t id = 0; id < n; ++id) {
      const int64_t t = std::get<int64_t>(types.items[id].data);
      v.types[id] = t >= 0 && t <= 6 ? static_cast<TokenType>(t) : TokenType::undefined;
    }
  }

  v.attrs.resize(n);
  v.byte_value.assign(n, -1);
  std::fill(std::begin(v.byte_tokens), std::end(v.byte_tokens), -1);
  for (int32_t id = 0; id < n; ++id) {
    v.attrs[id] = attr_of_type(v.types[id]);
    if (v.types[id] == TokenType::byte) {
      const int b = byte_token_value(v.pieces[id]);
      if (b < 0) {
        throw GgufError("key tokenizer.ggml.tokens in " + file.path() + ": byte token " + std::to_string(id) +
                        " should read <0xHH>, found " + quoted(v.pieces[id]));
      }
      v.byte_value[id] = static_cast<int16_t>(b);
    }
  }
  // Byte fallback looks tokens up by their text, whatever their declared type, as llama.cpp does.
  for (int b = 0; b < 256; ++b) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    const char name[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    if (const auto id = v.find(std::string_view(name, sizeof name))) v.byte_tokens[b] = *id;
  }

  v.bos = special_id(file, "tokenizer.ggml.bos_token_id", n);
  v.eos = special_id(file, "tokenizer.ggml.eos_token_id", n);
  const int32_t eot = special_id(file, "tokenizer.ggml.eot_token_id", n);
  const int32_t eom = special_id(file, "tokenizer.ggml.eom_token_id", n);
  if (v.bos < 0) {
    throw GgufError("key tokenizer.ggml.bos_token_id missing in " + file.path() +
                    " (a gemma4 tokenizer always starts with BOS)");
  }
  // llama.cpp forces add_bos on for gemma4, whatever the file says.
  v.add_bos = true;
  v.add_eos = optional_bool(file, "tokenizer.ggml.add_eos_token", false);
  if (v.add_eos && v.eos < 0) {
    throw GgufError("key tokenizer.ggml.add_eos_token in " + file.path() + " is true but the file has no eos id");
  }
  v.add_space_prefix = optional_bool(file, "tokenizer.ggml.add_space_prefix", false);

  for (int32_t id = 0; id < n; ++id) {
    if ((v.attrs[id] & kAttrControl) && v.pieces[id].find("unused") != std::string::npos) {
      v.attrs[id] |= kAttrUnused;
    }
  }

  std::vector<int32_t> eog;
  for (const std::string_view name : kEogNames) {
    if (const auto id = v.find(name)) {
      eog.push_back(*id);
      v.attrs[*id] |= kAttrControl;
    }
  }
  for (const int32_t id : {v.eos, eot, eom}) {
    if (id >= 0) eog.push_back(id);
  }
  // Gemma 4 has a </s> piece that is not an end of generation; llama.cpp drops it whenever
  // <|tool_response> is there (even were </s> the eos id).
  const auto tool_response = v.find("<|tool_response>");
  const auto end_s = v.find("</s>");
  if (tool_response && end_s) {
    eog.erase(std::remove(eog.begin(), eog.end(), *end_s), eog.end());
    v.attrs[*end_s] = kAttrNormal;
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  v.eog = std::move(eog);
  return v;
}

}  // namespace locus::text
