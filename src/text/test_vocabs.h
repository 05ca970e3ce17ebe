// For tests only: GGUF files holding just a tokenizer section.
// - write_vocab_gguf: a small hand-made vocabulary, to pin down one rule at a time;
// - gemma4_vocab_gguf: Gemma 4's real vocabulary (262,144 pieces, 514,906 merges), written once per test
//   process by mkmodel's vocabulary builder from Gemma 3's tokenizer.json (tools/node_modules), or else
//   llama.cpp's models/ggml-vocab-gemma-4.gguf; "" when neither is there (tests then skip).
// To use gemma4_vocab_gguf: link locus_mkmodel_vocab, define LOCUS_SOURCE_DIR, and have the source root on the
// include path.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "gguf/writer.h"

#ifdef LOCUS_SOURCE_DIR
#include "tools/mkmodel/vocab.h"
#endif

namespace locus::text::testing {

struct SmallVocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;  // empty: leave tokenizer.ggml.token_type out
  std::vector<std::string> merges;
  std::string model = "gemma4";
  int64_t bos = 2;  // < 0: leave the key out
  int64_t eos = 1;
  std::vector<std::pair<std::string, gguf::Value>> extra;  // more metadata
};

inline std::string temp_file(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / ("locus_text_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

inline std::string write_vocab_gguf(const SmallVocab& v, const std::string& path) {
  gguf::GgufWriter w;
  w.add("general.architecture", gguf::Value::string("gemma4"));
  w.add("tokenizer.ggml.model", gguf::Value::string(v.model));
  w.add("tokenizer.ggml.tokens", gguf::Value::string_array(v.tokens));
  if (!v.types.empty()) w.add("tokenizer.ggml.token_type", gguf::Value::i32_array(v.types));
  w.add("tokenizer.ggml.merges", gguf::Value::string_array(v.merges));
  if (v.bos >= 0) w.add("tokenizer.ggml.bos_token_id", gguf::Value::u32(static_cast<uint32_t>(v.bos)));
  if (v.eos >= 0) w.add("tokenizer.ggml.eos_token_id", gguf::Value::u32(static_cast<uint32_t>(v.eos)));
  for (const auto& [key, value] : v.extra) w.add(key, value);
  w.begin_data(path);
  w.finish();
  return path;
}

#ifdef LOCUS_SOURCE_DIR
inline std::string gemma4_vocab_gguf() {
  static const std::string path = [] {
    const std::string json = mkmodel::default_tokenizer_json_path();
    if (std::filesystem::exists(json)) {
      const std::string out = temp_file("gemma4_vocab.gguf");
      gguf::GgufWriter w;
      w.add("general.architecture", gguf::Value::string("gemma4"));
      mkmodel::add_vocab_metadata(w, mkmodel::gemma4_vocab_from_hf_tokenizer_json(json));
      w.begin_data(out);
      w.finish();
      std::atexit([] { std::filesystem::remove(temp_file("gemma4_vocab.gguf")); });
      return out;
    }
    const std::string llama = std::string(LOCUS_SOURCE_DIR) + "/.scratch/llama.cpp/models/ggml-vocab-gemma-4.gguf";
    return std::filesystem::exists(llama) ? llama : std::string();
  }();
  return path;
}
#endif

}  // namespace locus::text::testing
