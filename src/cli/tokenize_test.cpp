#include "cli/tokenize.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>

#include "gguf/file.h"
#include "text/test_vocabs.h"

namespace locus::cli {
namespace {

namespace fs = std::filesystem;

class Tokenize : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    text::testing::SmallVocab v;
    v.tokens = {"<pad>", "<eos>", "<bos>", "<|turn>", "a", "b", "ab", "\xE2\x96\x81", "<0xC3>", "<0xA9>", "\n"};
    v.types = {3, 3, 3, 3, 1, 1, 1, 1, 6, 6, 1};
    v.merges = {"a b"};
    path_ = text::testing::write_vocab_gguf(v, text::testing::temp_file("cli_tokenize.gguf"));
  }
  static void TearDownTestSuite() { fs::remove(path_); }

  // Options for `text` (plain aggregate initialization would warn about the fields left out).
  static TokenizeOptions options(std::string text, bool no_bos = false, bool parse_special = false) {
    TokenizeOptions o;
    o.text = std::move(text);
    o.no_bos = no_bos;
    o.parse_special = parse_special;
    return o;
  }
  static TokenizeOptions form(std::string text, bool pieces, bool json) {
    TokenizeOptions o = options(std::move(text));
    o.pieces = pieces;
    o.json = json;
    return o;
  }
  static TokenizeOptions on(std::string model, std::string text, bool no_bos = false, bool parse_special = false) {
    TokenizeOptions o = options(std::move(text), no_bos, parse_special);
    o.model_path = std::move(model);
    return o;
  }

  static std::string run(TokenizeOptions o, const std::string& stdin_text = "") {
    if (o.model_path.empty()) o.model_path = path_;
    std::istringstream in(stdin_text);
    std::ostringstream out;
    tokenize(o, in, out);
    return out.str();
  }
  static inline std::string path_;
};

TEST_F(Tokenize, PrintsIdsWithTheBosTheModelAsksFor) {
  EXPECT_EQ(run(options("ab a")), "[2, 6, 7, 4]\n");
  EXPECT_EQ(run(options("ab", true)), "[6]\n");
  EXPECT_EQ(run(options("", true)), "[]\n");
}

TEST_F(Tokenize, ReadsStandardInputForADashOrNoText) {
  EXPECT_EQ(run(TokenizeOptions{}, "ab"), "[2, 6]\n");
  EXPECT_EQ(run(options("-"), "b\n"), "[2, 5, 10]\n");
}

TEST_F(Tokenize, ParsesControlTokensOnlyWhenAsked) {
  EXPECT_EQ(run(options("<|turn>a", true, true)), "[3, 4]\n");
  EXPECT_NE(run(options("<|turn>a", true)), "[3, 4]\n");
}

TEST_F(Tokenize, PiecesFormShowsOneTokenPerLineWithBadBytesEscaped) {
  EXPECT_EQ(run(form("ab \xC3\xA9", true, false)),
            "     2 -> '<bos>'\n"
            "     6 -> 'ab'\n"
            "     7 -> ' '\n"
            "     8 -> '\\xC3'\n"
            "     9 -> '\\xA9'\n");
}

TEST_F(Tokenize, JsonFormHoldsIdsPiecesAndCount) {
  const auto j = nlohmann::json::parse(run(form("ab\xC3\xA9", false, true)));
  EXPECT_EQ(j["tokens"], nlohmann::json({2, 6, 8, 9}));
  EXPECT_EQ(j["pieces"], nlohmann::json({"<bos>", "ab", "\xEF\xBF\xBD", "\xEF\xBF\xBD"}));
  EXPECT_EQ(j["n_tokens"], 4);
}

TEST_F(Tokenize, RefusesAFileWithoutAGemma4Tokenizer) {
  const std::string other = text::testing::temp_file("cli_tokenize_llama.gguf");
  text::testing::SmallVocab v;
  v.tokens = {"<pad>", "<eos>", "<bos>"};
  v.model = "llama";
  text::testing::write_vocab_gguf(v, other);
  EXPECT_THROW(run(on(other, "a")), gguf::GgufError);
  fs::remove(other);
  EXPECT_THROW(run(on(other, "a")), gguf::GgufError);  // no such file
}

TEST_F(Tokenize, GivesLlamaCppsIdsWithGemma4sVocabulary) {
  const std::string gemma4 = text::testing::gemma4_vocab_gguf();
  if (gemma4.empty()) GTEST_SKIP() << "no Gemma 4 vocabulary (tools/node_modules or llama.cpp's source)";
  EXPECT_EQ(run(on(gemma4, "Hello world")), "[2, 9259, 1902]\n");
  EXPECT_EQ(run(on(gemma4, "<|turn>user\nHi<turn|>", true, true)),
            "[105, 2364, 107, 10979, 106]\n");
}

}  // namespace
}  // namespace locus::cli
