// Ollama's option defaults and the validation messages.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/sampling_options.h"

namespace locus::runtime {
namespace {

TEST(SamplingOptions, DefaultsAreOllamas) {
  // shared/docs/api-compat.md §2.4
  const SamplingOptions o;
  EXPECT_FLOAT_EQ(o.temperature, 0.8f);
  EXPECT_EQ(o.top_k, 40);
  EXPECT_FLOAT_EQ(o.top_p, 0.9f);
  EXPECT_FLOAT_EQ(o.min_p, 0.0f);
  EXPECT_FLOAT_EQ(o.typical_p, 1.0f);
  EXPECT_EQ(o.repeat_last_n, 64);
  EXPECT_FLOAT_EQ(o.repeat_penalty, 1.0f);
  EXPECT_FLOAT_EQ(o.presence_penalty, 0.0f);
  EXPECT_FLOAT_EQ(o.frequency_penalty, 0.0f);
  EXPECT_EQ(o.seed, -1);
  EXPECT_EQ(o.num_predict, -1);
  EXPECT_EQ(o.num_keep, 4);
  EXPECT_EQ(o.num_batch, 512);
  EXPECT_EQ(o.num_ctx, 0);
  EXPECT_TRUE(o.stop.empty());
  EXPECT_FALSE(validate(o).has_value());
}

TEST(SamplingOptions, DefaultContextFollowsVramTiers) {
  constexpr uint64_t GiB = uint64_t{1} << 30;
  EXPECT_EQ(default_num_ctx(0), 4096);
  EXPECT_EQ(default_num_ctx(16 * GiB), 4096);
  EXPECT_EQ(default_num_ctx(24 * GiB - 1), 4096);
  EXPECT_EQ(default_num_ctx(24 * GiB), 32768);
  EXPECT_EQ(default_num_ctx(48 * GiB - 1), 32768);
  EXPECT_EQ(default_num_ctx(48 * GiB), 262144);
  EXPECT_EQ(default_num_ctx(80 * GiB), 262144);
}

std::string error_for(void (*change)(SamplingOptions&)) {
  SamplingOptions o;
  change(o);
  const auto e = validate(o);
  return e ? *e : "";
}

TEST(SamplingOptions, ValidationNamesTheOptionRangeAndValue) {
  EXPECT_EQ(error_for([](SamplingOptions& o) { o.top_p = 1.5f; }), "top_p must be in [0, 1], got 1.5");
  EXPECT_EQ(error_for([](SamplingOptions& o) { o.top_p = -0.1f; }), "top_p must be in [0, 1], got -0.1");
  EXPECT_EQ(error_for([](SamplingOptions& o) { o.min_p = 2.0f; }), "min_p must be in [0, 1], got 2");
  EXPECT_EQ(error_for([](SamplingOptions& o) { o.typical_p = 0.0f; }),
            "typical_p must be in (0, 1] (1 = off), got 0");
  EXPECT_EQ(error_for([](SamplingOptions& o) { o.temperature = -1.0f; }),
            "temperature must be a number >= 0 (0 = greedy), got -1");
  EXPECT_EQ(error_for([](SamplingOptions& o) { o.temperature = NAN; }),
            "temperature must be a number >= 0 (0 = greedy), got nan");
  EXPECT_EQ(error_for([](SamplingOptions& o) { o.repeat_penalty = 0.0f; }),
            "repeat_penalty must be a number > 0 (1 = off), got 0");
  EXPECT_EQ(error_for([](SamplingOptions& o) { o.repeat_last_n = -2; }),
            "repeat_last_n must be >= -1 (0 = off, -1 = whole context), got -2");
  EXPECT_EQ(error_for([](SamplingOptions& o) { o.presence_penalty = INFINITY; }),
            "presence_penalty must be a finite number, got inf");
  EXPECT_EQ(error_for([](SamplingOptions& o) { o.frequency_penalty = NAN; }),
            "frequency_penalty must be a finite number, got nan");
  EXPECT_EQ(error_for([](SamplingOptions& o) { o.num_ctx = -5; }),
            "num_ctx must be >= 0 (0 = the engine's default), got -5");
  EXPECT_EQ(error_for([](SamplingOptions& o) { o.num_keep = -3; }),
            "num_keep must be >= -1 (-1 = the whole prompt), got -3");
  EXPECT_EQ(error_for([](SamplingOptions& o) { o.num_batch = 0; }), "num_batch must be >= 1, got 0");
}

TEST(SamplingOptions, AcceptsTheDocumentedSpecialValues) {
  SamplingOptions o;
  o.temperature = 0.0f;    // greedy
  o.top_k = -1;            // off (vLLM-style clients)
  o.top_p = 1.0f;
  o.min_p = 1.0f;
  o.typical_p = 1.0f;
  o.repeat_last_n = -1;    // whole context
  o.presence_penalty = -2.0f;
  o.frequency_penalty = 2.0f;
  o.seed = 0;
  o.num_predict = -2;      // Ollama's "fill the context"
  o.num_keep = -1;
  o.stop = {"", "x"};
  EXPECT_FALSE(validate(o).has_value());
}

}  // namespace
}  // namespace locus::runtime
