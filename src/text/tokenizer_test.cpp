#include "text/tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "text/test_vocabs.h"
#include "text/utf8.h"
#include "text/utf8_stream_decoder.h"

namespace locus::text {
namespace {

using testing::SmallVocab;
using Ids = std::vector<int32_t>;

// A hand-made vocabulary where each rule shows. Ids are fixed by the order below.
enum : int32_t {
  kPad, kEos, kBos, kUnk, kTurnOpen, kTurnClose, kToolResponse, kUserX, kEndS, kNl, kNl2, kSpace,
  kA, kB, kC, kAB, kBC, kABC, kAA, kXYZ, kX, kY, kZ, kQR, kSpaceA, kFffd, kAngleABC, kCAngleX, kR,
  kUnused0, kUnusedType, kQuestion, kUndefinedType, kFirstByte,
};

constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnusedT = 5, kByte = 6;

SmallVocab small_vocab() {
  SmallVocab v;
  const std::pair<const char*, int32_t> pieces[] = {
      {"<pad>", kControl}, {"<eos>", kControl}, {"<bos>", kControl}, {"<unk>", kUnknown},
      {"<|turn>", kControl}, {"<turn|>", kControl}, {"<|tool_response>", kUserDefined}, {"<|x>", kUserDefined},
      {"</s>", kNormal}, {"\n", kNormal}, {"\n\n", kNormal}, {"\xE2\x96\x81", kNormal},
      {"a", kNormal}, {"b", kNormal}, {"c", kNormal}, {"ab", kNormal}, {"bc", kNormal}, {"abc", kNormal},
      {"aa", kNormal}, {"xyz", kNormal}, {"x", kNormal}, {"y", kNormal}, {"z", kNormal}, {"qr", kNormal},
      {"\xE2\x96\x81" "a", kNormal}, {"\xEF\xBF\xBD", kNormal}, {"<abc>", kControl}, {"c>x", kUserDefined},
      {"r", kNormal}, {"<unused0>", kControl}, {"k", kUnusedT}, {"?", kNormal}, {"u", 0},
  };
  for (const auto& [text, type] : pieces) {
    v.tokens.push_back(text);
    v.types.push_back(type);
  }
  // Byte tokens for every byte but 'q' (0x71) and '~' (0x7E), which byte fallback must then drop.
  for (int b = 0; b < 256; ++b) {
    if (b == 'q' || b == '~') continue;
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    v.tokens.push_back(name);
    v.types.push_back(kByte);
  }
  v.merges = {
      "b c",         // 0: bc before ab, so "abc" goes a + bc
      "a b",         // 1
      "a bc",        // 2
      "ab c",        // 3
      "a a",         // 4
      "x y",         // 5: "xy" is no piece: a symbol of the merges only
      "xy z",        // 6
      "q r",         // 7: "q" is no piece either
      "\xE2\x96\x81 a",  // 8
      "\n \n",       // 9
      "nospace",     // no separator: ignored
      "b c",         // a later duplicate: ignored
  };
  return v;
}

int32_t byte_id(uint8_t b) {
  int32_t id = kFirstByte + b;
  if (b > 'q') --id;
  if (b > '~') --id;
  return id;
}

class SmallTokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = testing::write_vocab_gguf(small_vocab(), testing::temp_file("small.gguf"));
    tok_ = new Tokenizer(Tokenizer::from_gguf(gguf::GgufFile::open(path)));
    std::filesystem::remove(path);
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  static Ids enc(std::string_view text, bool parse_special = false) { return tok_->encode(text, false, parse_special); }
  static inline Tokenizer* tok_ = nullptr;
};

TEST_F(SmallTokenizer, MergesLowestRankFirst) {
  EXPECT_EQ(enc("abc"), (Ids{kABC}));  // b+c (rank 0) before a+b (rank 1), then a+bc
  EXPECT_EQ(enc("ab"), (Ids{kAB}));
  EXPECT_EQ(enc("cab"), (Ids{kC, kAB}));
}

TEST_F(SmallTokenizer, EqualRanksMergeLeftmostFirst) {
  EXPECT_EQ(enc("aaa"), (Ids{kAA, kA}));
  EXPECT_EQ(enc("aaaa"), (Ids{kAA, kAA}));
  EXPECT_EQ(enc("aaaaa"), (Ids{kAA, kAA, kA}));
}

TEST_F(SmallTokenizer, StringsOfTheMergesAloneStillMerge) {
  EXPECT_EQ(enc("xyz"), (Ids{kXYZ}));
  EXPECT_EQ(enc("qr"), (Ids{kQR}));
  // "xy" is a symbol but no piece: its bytes fall back.
  EXPECT_EQ(enc("xy"), (Ids{byte_id('x'), byte_id('y')}));
}

TEST_F(SmallTokenizer, UnknownCharactersFallBackToBytesAndMissingBytesAreDropped) {
  EXPECT_EQ(enc("\xC3\xA9"), (Ids{byte_id(0xC3), byte_id(0xA9)}));
  EXPECT_EQ(enc("q"), Ids{});
  EXPECT_EQ(enc("a~b"), (Ids{kA, kB}));
}

TEST_F(SmallTokenizer, SpacesBecomeTheSpaceMarkWithNoPrefixAdded) {
  EXPECT_EQ(enc(" a"), (Ids{kSpaceA}));
  EXPECT_EQ(enc("a a"), (Ids{kA, kSpaceA}));
  EXPECT_EQ(enc("  "), (Ids{kSpace, kSpace}));
  EXPECT_EQ(enc("\xE2\x96\x81" "a"), (Ids{kSpaceA}));  // a literal U+2581 is the same thing
}

TEST_F(SmallTokenizer, NewlineRunsAreWordsOfTheirOwn) {
  EXPECT_EQ(enc("\n\n"), (Ids{kNl2}));           // a whole run that is a piece
  EXPECT_EQ(enc("\n\n\n"), (Ids{kNl2, kNl}));    // else merged like any word
  EXPECT_EQ(enc("a\nb"), (Ids{kA, kNl, kB}));
  EXPECT_EQ(enc("a\n\nbc"), (Ids{kA, kNl2, kBC}));
}

TEST_F(SmallTokenizer, InvalidUtf8BecomesTheReplacementCharacterAsInLlamaCpp) {
  EXPECT_EQ(enc("\xFF"), (Ids{kFffd}));
  EXPECT_EQ(enc("\xC3" "a"), (Ids{kFffd, kA}));
  EXPECT_EQ(enc("\xE2\x96"), (Ids{kFffd, kFffd}));   // each bad byte on its own
  EXPECT_EQ(enc("\xC1\xA1" "b"), (Ids{kAB}));         // an overlong 'a' is an 'a'
  EXPECT_EQ(enc("\xF5\x80\x80\x80"), (Ids{kFffd}));   // above U+10FFFF: one U+FFFD (llama.cpp throws)
  // The same ids as the text with llama.cpp's replacement done beforehand.
  EXPECT_EQ(enc("a\x80\x80 b"), enc("a\xEF\xBF\xBD\xEF\xBF\xBD b"));
}

TEST_F(SmallTokenizer, ControlTokensMatchOnlyWhenParsingSpecialUserDefinedAlways) {
  EXPECT_EQ(enc("<|turn>ab<turn|>", true), (Ids{kTurnOpen, kAB, kTurnClose}));
  const Ids plain = enc("<|turn>ab<turn|>", false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), kTurnOpen), 0);
  EXPECT_EQ(plain.front(), byte_id('<'));
  EXPECT_EQ(enc("a<|x>b", false), (Ids{kA, kUserX, kB}));
  EXPECT_EQ(enc("<|x><|x>", false), (Ids{kUserX, kUserX}));
}

TEST_F(SmallTokenizer, ToolResponseIsMadeControlAsLlamaCppDoes) {
  EXPECT_EQ(enc("<|tool_response>", true), (Ids{kToolResponse}));
  EXPECT_NE(enc("<|tool_response>", false), (Ids{kToolResponse}));
  EXPECT_TRUE(tok_->is_control(kToolResponse));
  EXPECT_EQ(tok_->token_type(kToolResponse), TokenType::user_defined);
  EXPECT_EQ(tok_->piece(kToolResponse, false), "");
  EXPECT_EQ(tok_->piece(kToolResponse, true), "<|tool_response>");
}

TEST_F(SmallTokenizer, LongerSpecialTokensWinAndShorterOnesNeverMatchInsideThem) {
  EXPECT_EQ(enc("<abc>x", true), (Ids{kAngleABC, kX}));
  // Without parse_special "<abc>" is text, so the user-defined "c>x" inside it matches.
  EXPECT_EQ(enc("<abc>x", false), (Ids{byte_id('<'), kAB, kCAngleX}));
}

TEST_F(SmallTokenizer, BosComesFirstWhenAsked) {
  EXPECT_EQ(tok_->encode("ab", true, false), (Ids{kBos, kAB}));
  EXPECT_EQ(tok_->encode("", true, false), (Ids{kBos}));
  EXPECT_EQ(tok_->encode("", false, true), Ids{});
  EXPECT_TRUE(tok_->wants_bos());
  EXPECT_EQ(tok_->bos(), kBos);
  EXPECT_EQ(tok_->eos(), kEos);
}

TEST_F(SmallTokenizer, EndOfGenerationIsEosTurnCloseAndToolResponseButNotEndS) {
  EXPECT_EQ(tok_->eog_tokens(), (Ids{kEos, kTurnClose, kToolResponse}));
  EXPECT_TRUE(tok_->is_eog(kTurnClose));
  EXPECT_FALSE(tok_->is_eog(kEndS));
  EXPECT_FALSE(tok_->is_eog(kBos));
  EXPECT_FALSE(tok_->is_control(kEndS));
  EXPECT_EQ(tok_->piece(kEndS, false), "</s>");
}

TEST_F(SmallTokenizer, PiecesRenderByType) {
  EXPECT_EQ(tok_->piece(kSpaceA, false), " a");
  EXPECT_EQ(tok_->piece(kTurnOpen, false), "");
  EXPECT_EQ(tok_->piece(kTurnOpen, true), "<|turn>");
  EXPECT_EQ(tok_->piece(kUnk, false), "");
  EXPECT_EQ(tok_->piece(kUnk, true), "<unk>");
  EXPECT_EQ(tok_->piece(kUserX, false), "<|x>");
  EXPECT_EQ(tok_->piece(byte_id(0xC3), false), "\xC3");
  EXPECT_EQ(tok_->piece(kUnusedType, true), "");
  EXPECT_EQ(tok_->piece(kUndefinedType, true), "");
  EXPECT_EQ(tok_->piece(kUnused0, true), "<unused0>");
  EXPECT_THROW(tok_->piece(-1, true), std::out_of_range);
  EXPECT_THROW(tok_->piece(tok_->n_vocab(), true), std::out_of_range);
}

TEST_F(SmallTokenizer, DecodeJoinsPiecesAndCleansSpaces) {
  EXPECT_EQ(tok_->decode(Ids{kA, kSpaceA, kSpace, kB}, false), "a a b");
  EXPECT_EQ(tok_->decode(Ids{kTurnOpen, kAB, kTurnClose}, false), "ab");
  EXPECT_EQ(tok_->decode(Ids{kTurnOpen, kAB, kTurnClose}, true), "<|turn>ab<turn|>");
  EXPECT_EQ(tok_->decode(Ids{byte_id(0xC3), byte_id(0xA9)}, false), "\xC3\xA9");
  EXPECT_EQ(tok_->decode(Ids{kA, kSpace, kQuestion}, false), "a?");  // piece by piece it is "a ?"
  EXPECT_EQ(tok_->piece(kSpace, false) + tok_->piece(kQuestion, false), " ?");
  EXPECT_THROW(tok_->decode(Ids{kA, 1 << 30}, false), std::out_of_range);
}

TEST_F(SmallTokenizer, LooksUpPiecesAndTypes) {
  EXPECT_EQ(tok_->find("abc"), kABC);
  EXPECT_EQ(tok_->find("xy"), std::nullopt);
  EXPECT_EQ(tok_->raw_piece(kSpaceA), "\xE2\x96\x81" "a");
  EXPECT_EQ(tok_->token_type(kBos), TokenType::control);
  EXPECT_EQ(tok_->token_type(byte_id(0)), TokenType::byte);
  EXPECT_EQ(tok_->token_type(kUndefinedType), TokenType::undefined);
  EXPECT_EQ(tok_->n_vocab(), kFirstByte + 254);
  EXPECT_EQ(tok_->n_merges(), 10u);
}

// ---- loading errors

std::string load_error(const SmallVocab& v) {
  const std::string path = testing::write_vocab_gguf(v, testing::temp_file("bad.gguf"));
  std::string message = "(no error)";
  try {
    Tokenizer::from_gguf(gguf::GgufFile::open(path));
  } catch (const gguf::GgufError& e) {
    message = e.what();
  }
  std::filesystem::remove(path);
  return message;
}

TEST(TokenizerLoad, RejectsOtherTokenizersByName) {
  SmallVocab v = small_vocab();
  v.model = "llama";
  EXPECT_NE(load_error(v).find("tokenizer.ggml.model is \"llama\"; only Gemma 4's \"gemma4\""), std::string::npos)
      << load_error(v);
}

TEST(TokenizerLoad, SaysWhenThereIsNoTokenizer) {
  const std::string path = testing::temp_file("none.gguf");
  gguf::GgufWriter w;
  w.add("general.architecture", gguf::Value::string("gemma4"));
  w.begin_data(path);
  w.finish();
  try {
    Tokenizer::from_gguf(gguf::GgufFile::open(path));
    ADD_FAILURE() << "no error";
  } catch (const gguf::GgufError& e) {
    EXPECT_NE(std::string(e.what()).find("no tokenizer (key tokenizer.ggml.model missing)"), std::string::npos);
  }
  std::filesystem::remove(path);
}

TEST(TokenizerLoad, RejectsMalformedSections) {
  SmallVocab v = small_vocab();
  v.bos = static_cast<int64_t>(v.tokens.size());
  EXPECT_NE(load_error(v).find("tokenizer.ggml.bos_token_id"), std::string::npos) << load_error(v);

  v = small_vocab();
  v.bos = -1;
  EXPECT_NE(load_error(v).find("bos_token_id missing"), std::string::npos) << load_error(v);

  v = small_vocab();
  v.tokens[kA] = "b";
  EXPECT_NE(load_error(v).find("repeats an earlier token's"), std::string::npos) << load_error(v);

  v = small_vocab();
  v.types[kA] = kByte;
  EXPECT_NE(load_error(v).find("should read <0xHH>"), std::string::npos) << load_error(v);

  v = small_vocab();
  v.types.pop_back();
  EXPECT_NE(load_error(v).find("one per token"), std::string::npos) << load_error(v);

  v = small_vocab();
  v.extra.emplace_back("tokenizer.ggml.token_type", gguf::Value::f32_array({1.0f}));
  v.types.clear();
  EXPECT_NE(load_error(v).find("expected an array of i32"), std::string::npos) << load_error(v);
}

TEST(TokenizerLoad, AddsEosWhenTheFileAsks) {
  SmallVocab v = small_vocab();
  v.extra.emplace_back("tokenizer.ggml.add_eos_token", gguf::Value::boolean(true));
  v.extra.emplace_back("tokenizer.ggml.add_bos_token", gguf::Value::boolean(false));  // forced on anyway
  const std::string path = testing::write_vocab_gguf(v, testing::temp_file("eos.gguf"));
  const Tokenizer t = Tokenizer::from_gguf(gguf::GgufFile::open(path));
  std::filesystem::remove(path);
  EXPECT_TRUE(t.wants_bos());
  EXPECT_EQ(t.encode("ab", true, false), (Ids{kBos, kAB, kEos}));
  EXPECT_EQ(t.encode("ab", false, false), (Ids{kAB}));
}

TEST(TokenizerLoad, DecodeDropsOneLeadingSpaceWhenTheFilePrefixesSpaces) {
  SmallVocab v = small_vocab();
  v.extra.emplace_back("tokenizer.ggml.add_space_prefix", gguf::Value::boolean(true));
  const std::string path = testing::write_vocab_gguf(v, testing::temp_file("prefix.gguf"));
  const Tokenizer t = Tokenizer::from_gguf(gguf::GgufFile::open(path));
  std::filesystem::remove(path);
  EXPECT_EQ(t.decode(Ids{kSpaceA, kSpaceA}, false), "a a");
  // Only the first token is stripped, even when it renders as nothing (as llama.cpp does).
  EXPECT_EQ(t.decode(Ids{kTurnOpen, kSpaceA}, false), " a");
  EXPECT_EQ(t.encode(" a", false, false), (Ids{kSpaceA}));  // encoding adds no space
}

// ---- Gemma 4's real vocabulary

class Gemma4Tokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = testing::gemma4_vocab_gguf();
    if (path.empty()) return;
    const auto start = std::chrono::steady_clock::now();
    const auto file = gguf::GgufFile::open(path);
    tok_ = new Tokenizer(Tokenizer::from_gguf(file));
    load_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  void SetUp() override {
    if (tok_ == nullptr) GTEST_SKIP() << "no Gemma 4 vocabulary (tools/node_modules or llama.cpp's source)";
  }
  static inline Tokenizer* tok_ = nullptr;
  static inline double load_ms_ = 0;
};

TEST_F(Gemma4Tokenizer, HasGemma4SpecialTokens) {
  std::printf("Gemma 4 tokenizer opened and loaded in %.0f ms\n", load_ms_);
  EXPECT_EQ(tok_->n_vocab(), 262144);
  EXPECT_EQ(tok_->n_merges(), 514906u);
  EXPECT_EQ(tok_->bos(), 2);
  EXPECT_EQ(tok_->eos(), 1);
  EXPECT_EQ(tok_->eog_tokens(), (Ids{1, 50, 106}));
  EXPECT_EQ(tok_->find("<|turn>"), 105);
  EXPECT_EQ(tok_->find("</s>"), 212);
  EXPECT_FALSE(tok_->is_eog(212));
  EXPECT_TRUE(tok_->is_control(50));
  EXPECT_FALSE(tok_->is_control(100));  // <|channel> stays user-defined: it always renders
  EXPECT_EQ(tok_->piece(100, false), "<|channel>");
}

TEST_F(Gemma4Tokenizer, EncodesAChatTurn) {
  EXPECT_EQ(tok_->encode("<|turn>user\nHi<turn|>", true, true), (Ids{2, 105, 2364, 107, 10979, 106}));
  EXPECT_EQ(tok_->encode("<|channel>", false, false), (Ids{100}));
  EXPECT_EQ(tok_->encode("<|\"|>", false, false), (Ids{52}));
  EXPECT_EQ(tok_->encode("Hello world", false, false), (Ids{9259, 1902}));
}

TEST_F(Gemma4Tokenizer, MatchesLlamaCppTestVectors) {
  const std::string base = std::string(LOCUS_SOURCE_DIR) + "/.scratch/llama.cpp/models/ggml-vocab-gemma-4.gguf";
  std::ifstream inp(base + ".inp", std::ios::binary);
  std::ifstream out(base + ".out", std::ios::binary);
  if (!inp || !out) GTEST_SKIP() << "llama.cpp's vectors not found at " << base << ".inp/.out";
  std::stringstream all;
  all << inp.rdbuf();
  const std::string text = all.str();
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> cases;
  for (size_t at = 0;;) {
    const size_t hit = text.find(sep, at);
    cases.push_back(text.substr(at, hit == std::string::npos ? std::string::npos : hit - at));
    if (hit == std::string::npos) break;
    at = hit + sep.size();
  }
  std::string line;
  size_t n = 0;
  for (; n < cases.size() && std::getline(out, line); ++n) {
    Ids want;
    std::istringstream ls(line);
    for (int32_t id; ls >> id;) want.push_back(id);
    EXPECT_EQ(tok_->encode(cases[n], false, false), want) << "vector " << n;
  }
  EXPECT_GE(n, 40u);
}

TEST_F(Gemma4Tokenizer, PiecesStreamedThroughTheDecoderGiveTheText) {
  const std::string text = "Grüße 👋🏽 — 日本語のテキスト, ½ and \xE2\x80\x8B zero width.\n\n\tdone";
  const Ids ids = tok_->encode(text, true, false);
  Utf8StreamDecoder stream;
  std::string streamed;
  for (const int32_t id : ids) {
    const std::string piece = stream.push(tok_->piece(id, false));
    EXPECT_TRUE(is_valid_utf8(piece));
    streamed += piece;
  }
  streamed += stream.flush();
  EXPECT_EQ(streamed, text);
  EXPECT_EQ(tok_->decode(ids, false), text);
}

TEST_F(Gemma4Tokenizer, EncodesTheSameOnManyThreadsAtOnce) {
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i) {
    texts.push_back(std::string(static_cast<size_t>(i), ' ') + "def f(x):\n\treturn x * " + std::to_string(i) +
                    " # 日本語 🦙 <|turn>");
  }
  std::vector<Ids> want;
  for (const auto& t : texts) want.push_back(tok_->encode(t, true, true));
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 20; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) wrong[k] += tok_->encode(texts[i], true, true) != want[i];
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

TEST_F(Gemma4Tokenizer, RareCharactersFallBackToBytesThatDecodeBack) {
  const std::string text = "\xF0\x9F\xAB\xA8\xF0\x90\x8C\xB0";  // U+1FAE8, U+10330: not pieces
  const Ids ids = tok_->encode(text, false, false);
  ASSERT_EQ(ids.size(), text.size());  // one byte token per byte
  for (const int32_t id : ids) EXPECT_EQ(tok_->token_type(id), TokenType::byte);
  EXPECT_EQ(tok_->decode(ids, false), text);
}

}  // namespace
}  // namespace locus::text
