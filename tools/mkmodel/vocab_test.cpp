#include "vocab.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>
#include <unordered_set>

#include <unistd.h>

#include "gguf/file.h"

namespace locus::mkmodel {
namespace {

// The tokenizer.json is large; parse it once for the whole suite.
class Gemma4VocabTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = default_tokenizer_json_path();
    if (!std::filesystem::exists(path)) return;
    const auto start = std::chrono::steady_clock::now();
    vocab_ = gemma4_vocab_from_hf_tokenizer_json(path);
    load_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  static void TearDownTestSuite() { vocab_.reset(); }

  void SetUp() override {
    if (!vocab_) GTEST_SKIP() << "no tokenizer.json at " << default_tokenizer_json_path() << " (run npm ci in tools/)";
  }

  static const Gemma4Vocab& v() { return *vocab_; }

  static inline std::optional<Gemma4Vocab> vocab_;
  static inline double load_ms_ = 0;
};

TEST_F(Gemma4VocabTest, HasGemma4SizeWithOneScoreAndTypePerToken) {
  EXPECT_EQ(v().tokens.size(), 262144u);
  EXPECT_EQ(v().scores.size(), v().tokens.size());
  EXPECT_EQ(v().token_types.size(), v().tokens.size());
  RecordProperty("load_ms", std::to_string(load_ms_));
  std::printf("tokenizer.json parsed and converted in %.0f ms\n", load_ms_);
}

TEST_F(Gemma4VocabTest, SpecialTokensSitAtTheirIdsWithTheirTypes) {
  struct Expected {
    int32_t id;
    const char* text;
    int32_t type;
  };
  const Expected expected[] = {
      {0, "<pad>", kTokenControl},
      {1, "<eos>", kTokenControl},
      {2, "<bos>", kTokenControl},
      {3, "<unk>", kTokenControl},
      {4, "<mask>", kTokenControl},
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
      {107, "\n", kTokenNormal},
      {108, "\n\n", kTokenNormal},
      {255999, "<|image>", kTokenControl},
      {256000, "<|audio>", kTokenControl},
      {258880, "<|image|>", kTokenControl},
      {258881, "<|audio|>", kTokenControl},
      {258882, "<image|>", kTokenControl},
      {258883, "<audio|>", kTokenControl},
      {258884, "<|video|>", kTokenControl},
  };
  for (const Expected& e : expected) {
    EXPECT_EQ(v().tokens[e.id], e.text) << "id " << e.id;
    EXPECT_EQ(v().token_types[e.id], e.type) << "id " << e.id << " " << e.text;
  }
  EXPECT_EQ(v().bos, 2);
  EXPECT_EQ(v().eos, 1);
  EXPECT_EQ(v().unk, 3);
  EXPECT_EQ(v().pad, 0);
  EXPECT_EQ(v().mask, 4);
}

TEST_F(Gemma4VocabTest, TypeCountsMatchLlamaCppsGemma4Vocabulary) {
  // Counts in llama.cpp's models/ggml-vocab-gemma-4.gguf.
  size_t normal = 0, control = 0, user_defined = 0, byte = 0, other = 0;
  for (int32_t t : v().token_types) {
    switch (t) {
      case kTokenNormal: ++normal; break;
      case kTokenControl: ++control; break;
      case kTokenUserDefined: ++user_defined; break;
      case kTokenByte: ++byte; break;
      default: ++other;
    }
  }
  EXPECT_EQ(control, 17u);
  EXPECT_EQ(user_defined, 7u);
  EXPECT_EQ(byte, 256u);
  EXPECT_EQ(normal, 262144u - 17 - 7 - 256);
  EXPECT_EQ(other, 0u);
}

TEST_F(Gemma4VocabTest, NoPieceAppearsTwice) {
  std::unordered_set<std::string> seen;
  for (size_t id = 0; id < v().tokens.size(); ++id) {
    EXPECT_TRUE(seen.insert(v().tokens[id]).second) << "\"" << v().tokens[id] << "\" again at id " << id;
  }
}

TEST_F(Gemma4VocabTest, Gemma3SpecialsAreGone) {
  const std::unordered_set<std::string> gone = {"<start_of_turn>", "<end_of_turn>", "<start_of_image>",
                                                "<end_of_image>", "<image_soft_token>"};
  for (const std::string& t : v().tokens) EXPECT_FALSE(gone.contains(t)) << t;
}

TEST_F(Gemma4VocabTest, UnusedPiecesAreNumberedDenselyAndNormal) {
  // As in Gemma 4's own vocabulary: the specials took 19 unused slots and the rest were renumbered.
  EXPECT_EQ(v().tokens[6], "<unused0>");
  EXPECT_EQ(v().tokens[45], "<unused39>");
  EXPECT_EQ(v().tokens[53], "<unused40>");
  EXPECT_EQ(v().tokens[99], "<unused85>");
  EXPECT_EQ(v().tokens[256001], "<unused89>");
  EXPECT_EQ(v().tokens[258885], "<unused2968>");
  EXPECT_EQ(v().tokens[262143], "<unused6226>");
  int next = 0;
  for (size_t id = 0; id < v().tokens.size(); ++id) {
    const std::string& t = v().tokens[id];
    if (t.rfind("<unused", 0) == 0) {
      EXPECT_EQ(t, "<unused" + std::to_string(next) + ">") << "id " << id;
      EXPECT_EQ(v().token_types[id], kTokenNormal) << "id " << id;
      ++next;
    }
  }
  EXPECT_EQ(next, 6227);
}

TEST_F(Gemma4VocabTest, AllByteTokensPresentInOrder) {
  static const char* hex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const std::string piece = std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
    EXPECT_EQ(v().tokens[238 + b], piece);
    EXPECT_EQ(v().token_types[238 + b], kTokenByte) << piece;
  }
}

TEST_F(Gemma4VocabTest, MergesAreAllThereAsLeftSpaceRight) {
  ASSERT_EQ(v().merges.size(), 514906u);
  std::string thirty_spaces;
  for (int i = 0; i < 30; ++i) thirty_spaces += "\xE2\x96\x81";  // U+2581
  EXPECT_EQ(v().merges[1], thirty_spaces + " \xE2\x96\x81");
  for (const std::string& m : v().merges) {
    const size_t space = m.find(' ', 1);
    ASSERT_NE(space, std::string::npos) << m;
    ASSERT_EQ(m.find(' ', space + 1), std::string::npos) << m;
  }
}

TEST_F(Gemma4VocabTest, ScoresAreTheConvertersPlaceholder) {
  for (float s : v().scores) ASSERT_EQ(s, -1000.0f);
}

// The metadata as written and read back: the keys, their GGUF types, and their values.
const gguf::Array& array_of(const gguf::GgufFile& f, std::string_view key, gguf::ValueType element) {
  const gguf::Array& a = f.get_array(key);
  EXPECT_EQ(a.element_type, element) << key;
  return a;
}

void expect_tokenizer_section(const gguf::GgufFile& f, const Gemma4Vocab& v) {
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gemma4");
  const gguf::Array& tokens = array_of(f, "tokenizer.ggml.tokens", gguf::ValueType::STRING);
  const gguf::Array& scores = array_of(f, "tokenizer.ggml.scores", gguf::ValueType::FLOAT32);
  const gguf::Array& types = array_of(f, "tokenizer.ggml.token_type", gguf::ValueType::INT32);
  const gguf::Array& merges = array_of(f, "tokenizer.ggml.merges", gguf::ValueType::STRING);
  ASSERT_EQ(tokens.items.size(), v.tokens.size());
  ASSERT_EQ(scores.items.size(), v.tokens.size());
  ASSERT_EQ(types.items.size(), v.tokens.size());
  ASSERT_EQ(merges.items.size(), v.merges.size());
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    ASSERT_EQ(std::get<std::string>(tokens.items[i].data), v.tokens[i]) << "token " << i;
    ASSERT_EQ(std::get<double>(scores.items[i].data), v.scores[i]) << "score " << i;
    ASSERT_EQ(std::get<int64_t>(types.items[i].data), v.token_types[i]) << "type " << i;
  }
  for (size_t i = 0; i < v.merges.size(); ++i) {
    ASSERT_EQ(std::get<std::string>(merges.items[i].data), v.merges[i]) << "merge " << i;
  }
  const std::pair<const char*, int32_t> ids[] = {{"tokenizer.ggml.bos_token_id", v.bos},
                                                 {"tokenizer.ggml.eos_token_id", v.eos},
                                                 {"tokenizer.ggml.unknown_token_id", v.unk},
                                                 {"tokenizer.ggml.padding_token_id", v.pad},
                                                 {"tokenizer.ggml.mask_token_id", v.mask}};
  for (const auto& [key, id] : ids) {
    ASSERT_NE(f.find(key), nullptr) << key;
    EXPECT_EQ(f.find(key)->type, gguf::ValueType::UINT32) << key;
    EXPECT_EQ(f.get_u32(key), static_cast<uint32_t>(id)) << key;
  }
  EXPECT_TRUE(f.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_FALSE(f.get_bool("tokenizer.ggml.add_space_prefix"));
}

TEST_F(Gemma4VocabTest, MetadataReadsBackWithLlamaCppsTypes) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("locus_vocab_test_" + std::to_string(::getpid()) + ".gguf")).string();
  {
    gguf::GgufWriter w;
    w.add("general.architecture", gguf::Value::string("gemma4"));
    add_vocab_metadata(w, v());
    w.begin_data(path);
    w.finish();
  }
  {
    const gguf::GgufFile f = gguf::GgufFile::open(path);
    expect_tokenizer_section(f, v());
  }
  std::filesystem::remove(path);
}

// llama.cpp ships the vocabulary of a real Gemma 4 checkpoint as a test file (extracted by scripts/setup);
// ours must be the same, token for token.
TEST_F(Gemma4VocabTest, EqualsLlamaCppsGemma4VocabularyFile) {
  const char* env = std::getenv("LOCUS_LLAMA_CPP_DIR");
  const std::string dir = env != nullptr && *env != '\0' ? env : LOCUS_SOURCE_DIR "/.scratch/llama.cpp";
  const std::string path = dir + "/models/ggml-vocab-gemma-4.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not found (scripts/setup extracts llama.cpp's source)";
  const gguf::GgufFile f = gguf::GgufFile::open(path);
  expect_tokenizer_section(f, v());
}

// Error reporting needs no real tokenizer.json.
class Gemma4VocabErrors : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    path_ = (std::filesystem::temp_directory_path() / ("locus_vocab_test_" + std::to_string(::getpid()) + ".json"))
                .string();
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override {
    if (!path_.empty()) std::filesystem::remove(path_);
  }
  std::string path_;
};

std::string error_of(const std::string& path) {
  try {
    gemma4_vocab_from_hf_tokenizer_json(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST_F(Gemma4VocabErrors, MissingFileNamesThePath) {
  const std::string msg = error_of("/nonexistent/tokenizer.json");
  EXPECT_NE(msg.find("/nonexistent/tokenizer.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot open"), std::string::npos) << msg;
}

TEST_F(Gemma4VocabErrors, InvalidJsonIsReported) {
  const std::string msg = error_of(write("{\"model\": "));
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
}

TEST_F(Gemma4VocabErrors, NonBpeModelIsRejected) {
  const std::string msg = error_of(write(R"({"model": {"type": "Unigram", "vocab": []}})"));
  EXPECT_NE(msg.find("expected \"BPE\", found \"Unigram\""), std::string::npos) << msg;
}

TEST_F(Gemma4VocabErrors, WrongVocabularySizeIsRejected) {
  const std::string msg =
      error_of(write(R"({"model": {"type": "BPE", "byte_fallback": true, "vocab": {"a": 0}, "merges": []}})"));
  EXPECT_NE(msg.find("expected 262144 pieces"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found 1"), std::string::npos) << msg;
}

}  // namespace
}  // namespace locus::mkmodel
