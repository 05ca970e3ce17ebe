// Parsing speed on tokenizer-sized metadata: a Gemma-sized vocabulary and merge list parse well under a second.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "gguf/file.h"
#include "gguf/test_bytes.h"

namespace locus::gguf {
namespace {

using testing::GgufBytes;

// Sanitizers and unoptimized builds are several times slower; the tight bound is for optimized builds.
#if defined(__SANITIZE_ADDRESS__) || !defined(__OPTIMIZE__)
#define LOCUS_SLOW_BUILD
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOCUS_SLOW_BUILD
#endif
#endif
#ifdef LOCUS_SLOW_BUILD
constexpr double kBudgetSeconds = 20.0;
#else
constexpr double kBudgetSeconds = 0.5;
#endif

double seconds_to_parse(const GgufBytes& b, GgufContent* out) {
  const auto start = std::chrono::steady_clock::now();
  *out = parse_gguf(b.bytes().data(), b.size(), "vocab.gguf");
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(LargeMetadata, TokenizerSizedArraysParseQuickly) {
  constexpr uint64_t kTokens = 262144;
  constexpr uint64_t kMerges = 514906;
  auto b = GgufBytes::header(0, 4);
  b.key("tokenizer.ggml.tokens", ValueType::ARRAY).array_of(ValueType::STRING, kTokens);
  for (uint64_t i = 0; i < kTokens; ++i) b.str("tok_" + std::to_string(i * 2654435761u % 1000003));
  b.key("tokenizer.ggml.scores", ValueType::ARRAY).array_of(ValueType::FLOAT32, kTokens);
  for (uint64_t i = 0; i < kTokens; ++i) b.f32(-static_cast<float>(i));
  b.key("tokenizer.ggml.token_type", ValueType::ARRAY).array_of(ValueType::INT32, kTokens);
  for (uint64_t i = 0; i < kTokens; ++i) b.i32(1);
  b.key("tokenizer.ggml.merges", ValueType::ARRAY).array_of(ValueType::STRING, kMerges);
  char merge[48];
  for (uint64_t i = 0; i < kMerges; ++i) {
    const int n = std::snprintf(merge, sizeof merge, "m%llu %llu", static_cast<unsigned long long>(i % 977),
                                static_cast<unsigned long long>(i));
    b.str(std::string_view(merge, static_cast<size_t>(n)));
  }

  GgufContent c;
  const double s = seconds_to_parse(b, &c);
  ASSERT_EQ(c.metadata.size(), 4u);
  EXPECT_EQ(c.metadata[0].second.as_array()->items.size(), kTokens);
  EXPECT_EQ(c.metadata[3].second.as_array()->items.size(), kMerges);
  EXPECT_EQ(std::get<std::string>(c.metadata[3].second.as_array()->items[kMerges - 1].data), "m26 514905");
  EXPECT_LT(s, kBudgetSeconds) << "parse took " << s << " s";
  std::printf("parsed %zu bytes of tokenizer metadata in %.3f s\n", b.size(), s);
}

TEST(LargeMetadata, ThreeHundredThousandStringsParseQuickly) {
  constexpr uint64_t kStrings = 300000;
  auto b = GgufBytes::header(0, 1);
  b.key("k.strings", ValueType::ARRAY).array_of(ValueType::STRING, kStrings);
  for (uint64_t i = 0; i < kStrings; ++i) b.str(std::string(1 + i % 40, static_cast<char>('a' + i % 26)));
  GgufContent c;
  const double s = seconds_to_parse(b, &c);
  EXPECT_EQ(c.metadata[0].second.as_array()->items.size(), kStrings);
  EXPECT_LT(s, kBudgetSeconds) << "parse took " << s << " s";
}

}  // namespace
}  // namespace locus::gguf
