// The generation loop against a fake model: limits, stops, cancellation, context overflow, timings.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/generator.h"
#include "runtime/test_fakes.h"

namespace locus::runtime {
namespace {

using testing::FakeModel;
using testing::FakeText;
using testing::RecordingSink;

constexpr int32_t kVocab = 512;
constexpr int32_t kEos = 1;

std::vector<int32_t> iota_prompt(int32_t n, int32_t first = 10) {
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = (first + i) % kVocab;
  return p;
}

SamplingOptions greedy() {
  SamplingOptions o;
  o.temperature = 0.0f;
  return o;
}

struct Fixture {
  FakeModel model{kVocab, 4096};
  FakeText text{kVocab};
  Fixture() {
    text.set_eog(kEos);
    model.banned = {kEos};
  }
};

TEST(Generator, GreedyFollowsTheArgmax) {
  Fixture f;
  const auto prompt = iota_prompt(5);
  f.model.script = {100, 101, 102, kEos};
  f.model.script_from = 5;
  f.model.banned.clear();
  f.text.set(100, "Hello");
  f.text.set(101, ",");
  f.text.set(102, " world");
  Generator g(f.model, f.text);
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  req.options = greedy();
  const GenerateResult r = g.generate(req, sink);
  EXPECT_EQ(r.reason, DoneReason::stop);
  EXPECT_STREQ(done_reason_name(r.reason), "stop");
  EXPECT_EQ(r.stop_token, kEos);
  EXPECT_EQ(sink.output, "Hello, world");
  EXPECT_EQ(sink.tokens, (std::vector<int32_t>{100, 101, 102}));  // the EOG token is not reported
  EXPECT_EQ(r.eval_count, 4);
  EXPECT_EQ(r.prompt_eval_count, 5);
  EXPECT_EQ(sink.done_calls, 1);
  EXPECT_EQ(sink.done.eval_count, 4);
  // The model saw the prompt and the three generated tokens; the EOG token was never evaluated.
  EXPECT_EQ(f.model.cache().size(), 8u);
}

std::vector<int32_t> run_seeded(int64_t seed, std::string* text_out = nullptr) {
  Fixture f;
  Generator g(f.model, f.text);
  RecordingSink sink;
  const auto prompt = iota_prompt(20);
  GenerateRequest req;
  req.prompt = prompt;
  req.options.seed = seed;
  req.options.num_predict = 64;
  req.options.repeat_penalty = 1.1f;
  const GenerateResult r = g.generate(req, sink);
  EXPECT_EQ(r.reason, DoneReason::length);
  EXPECT_EQ(r.seed, static_cast<uint64_t>(seed));
  if (text_out) *text_out = sink.output;
  return sink.tokens;
}

TEST(Generator, SameSeedSameOutput) {
  std::string a_text, b_text;
  const auto a = run_seeded(99, &a_text);
  const auto b = run_seeded(99, &b_text);
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a_text, b_text);
  EXPECT_NE(a, run_seeded(100));
}

TEST(Generator, ReusesItselfAcrossRequests) {
  Fixture f;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(8);
  GenerateRequest req;
  req.prompt = prompt;
  req.options.seed = 5;
  req.options.num_predict = 30;
  RecordingSink first, second;
  g.generate(req, first);
  g.generate(req, second);
  EXPECT_EQ(first.tokens, second.tokens);
  EXPECT_EQ(first.output, second.output);
}

TEST(Generator, NumPredictCapsTokens) {
  Fixture f;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(3);
  for (int32_t n : {1, 2, 17}) {
    RecordingSink sink;
    GenerateRequest req;
    req.prompt = prompt;
    req.options.seed = 1;
    req.options.num_predict = n;
    const GenerateResult r = g.generate(req, sink);
    EXPECT_EQ(r.reason, DoneReason::length);
    EXPECT_EQ(r.eval_count, n);
    EXPECT_EQ(static_cast<int32_t>(sink.tokens.size()), n);
  }
}

TEST(Generator, StopsAtTheContextEndWithLength) {
  Fixture f;
  f.model = FakeModel(kVocab, 16);
  f.model.banned = {kEos};
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(10);
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  req.options.seed = 3;  // num_predict -1: unbounded
  const GenerateResult r = g.generate(req, sink);
  EXPECT_EQ(r.reason, DoneReason::length);
  // Positions 10..15 take six generated tokens; a seventh is sampled from the last logits but has no room.
  EXPECT_EQ(r.eval_count, 7);
  EXPECT_EQ(f.model.cache().size(), 16u);
}

TEST(Generator, NumCtxBelowTheModelsContextIsHonoured) {
  Fixture f;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(10);
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  req.options.num_ctx = 12;
  const GenerateResult r = g.generate(req, sink);
  EXPECT_EQ(r.reason, DoneReason::length);
  EXPECT_EQ(r.eval_count, 3);
}

TEST(Generator, PromptLongerThanTheContextIsAClearError) {
  Fixture f;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(100);
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  req.options.num_ctx = 50;
  const GenerateResult r = g.generate(req, sink);
  EXPECT_EQ(r.reason, DoneReason::error);
  EXPECT_EQ(r.error,
            "prompt is 100 tokens, context is 50 (num_ctx); shorten the prompt, raise num_ctx or allow truncation");
  EXPECT_EQ(f.model.eval_calls, 0);
  EXPECT_EQ(sink.done_calls, 1);
  EXPECT_TRUE(sink.output.empty());
}

TEST(Generator, PromptExactlyTheContextFitsAndYieldsOneToken) {
  Fixture f;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(50);
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  req.options.num_ctx = 50;
  const GenerateResult r = g.generate(req, sink);
  EXPECT_EQ(r.reason, DoneReason::length);
  EXPECT_EQ(r.eval_count, 1);
  EXPECT_EQ(sink.tokens.size(), 1u);
}

TEST(Generator, TruncationKeepsNumKeepAndDropsFromTheMiddle) {
  Fixture f;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(100, 0);  // tokens 0..99
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  req.truncate = true;
  req.options.num_ctx = 50;
  req.options.num_keep = 4;
  req.options.num_predict = 1;
  const GenerateResult r = g.generate(req, sink);
  EXPECT_EQ(r.reason, DoneReason::length);
  EXPECT_EQ(r.prompt_eval_count, 50);
  EXPECT_EQ(r.prompt_tokens_dropped, 50);
  std::vector<int32_t> want = {0, 1, 2, 3};
  for (int32_t t = 54; t < 100; ++t) want.push_back(t);
  EXPECT_EQ(f.model.cache(), want);
}

TEST(Generator, TruncationPlanMatchesOllama) {
  // Fits: nothing dropped.
  EXPECT_EQ(plan_truncation(10, 10, 4).drop, 0);
  // num_keep 4: keep 0..3, drop 4..(4+discard)
  EXPECT_EQ(plan_truncation(12, 10, 4).keep, 4);
  EXPECT_EQ(plan_truncation(12, 10, 4).drop, 2);
  // num_keep -1 (whole prompt) and num_keep past the context are capped at n_ctx - 1.
  EXPECT_EQ(plan_truncation(12, 10, -1).keep, 9);
  EXPECT_EQ(plan_truncation(12, 10, 50).keep, 9);
  EXPECT_EQ(plan_truncation(12, 10, 50).drop, 2);
  EXPECT_EQ(plan_truncation(12, 10, 0).keep, 0);
}

TEST(Generator, TruncationWithNumKeepAllKeepsTheHeadAndTheLastToken) {
  Fixture f;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(30, 0);
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  req.truncate = true;
  req.options.num_ctx = 20;
  req.options.num_keep = -1;
  req.options.num_predict = 1;
  g.generate(req, sink);
  std::vector<int32_t> want = iota_prompt(19, 0);
  want.push_back(29);
  EXPECT_EQ(f.model.cache(), want);
}

TEST(Generator, PromptIsEvaluatedInBatches) {
  Fixture f;
  f.model.record_batches = true;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(1000);
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  req.options.num_batch = 128;
  req.options.num_predict = 3;
  g.generate(req, sink);
  std::vector<int32_t> want(7, 128);
  want.push_back(104);
  want.push_back(1);  // the two generated tokens that had room to be evaluated
  want.push_back(1);
  EXPECT_EQ(f.model.batch_sizes, want);
}

// Cancels from inside the stream, as a client disconnect would between tokens.
class CancellingSink : public RecordingSink {
 public:
  CancellingSink(std::atomic<bool>& flag, size_t after) : flag_(flag), after_(after) {}
  void on_token(int32_t token, const TokenLogprobs* lp) override {
    RecordingSink::on_token(token, lp);
    if (tokens.size() == after_) flag_.store(true);
  }

 private:
  std::atomic<bool>& flag_;
  size_t after_;
};

TEST(Generator, CancelStopsBetweenTokens) {
  Fixture f;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(10);
  std::atomic<bool> cancel{false};
  CancellingSink sink(cancel, 3);
  GenerateRequest req;
  req.prompt = prompt;
  req.cancel = &cancel;
  const GenerateResult r = g.generate(req, sink);
  EXPECT_EQ(r.reason, DoneReason::cancelled);
  EXPECT_STREQ(done_reason_name(r.reason), "cancelled");
  EXPECT_EQ(r.eval_count, 3);
  EXPECT_EQ(sink.tokens.size(), 3u);
  EXPECT_EQ(sink.done_calls, 1);
}

TEST(Generator, CancelBeforeThePromptEvaluatesNothing) {
  Fixture f;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(10);
  std::atomic<bool> cancel{true};
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  req.cancel = &cancel;
  const GenerateResult r = g.generate(req, sink);
  EXPECT_EQ(r.reason, DoneReason::cancelled);
  EXPECT_EQ(f.model.eval_calls, 0);
  EXPECT_EQ(r.eval_count, 0);
}

// A scripted run whose tokens decode to the given pieces, in order.
struct Scripted {
  Fixture f;
  std::vector<int32_t> prompt = iota_prompt(4);
  explicit Scripted(const std::vector<std::string>& pieces, bool end_with_eos = true) {
    f.model.banned.clear();
    f.model.script_from = static_cast<int64_t>(prompt.size());
    for (size_t i = 0; i < pieces.size(); ++i) {
      const int32_t id = 200 + static_cast<int32_t>(i);
      f.text.set(id, pieces[i]);
      f.model.script.push_back(id);
    }
    if (end_with_eos) f.model.script.push_back(kEos);
  }
  GenerateResult run(RecordingSink& sink, std::vector<std::string> stops = {}) {
    Generator g(f.model, f.text);
    GenerateRequest req;
    req.prompt = prompt;
    req.options = greedy();
    req.options.stop = std::move(stops);
    return g.generate(req, sink);
  }
};

TEST(Generator, StopStringsNeverLeakAtAnySplit) {
  const std::string text = "Sure!<|end|>ignored";
  const std::vector<std::string> stops = {"<|end|>", "\nUser:"};
  for (size_t i = 1; i < text.size(); ++i) {
    for (size_t j = i; j < text.size(); ++j) {
      std::vector<std::string> pieces = {text.substr(0, i)};
      if (j > i) pieces.push_back(text.substr(i, j - i));
      pieces.push_back(text.substr(j));
      Scripted s(pieces);
      RecordingSink sink;
      const GenerateResult r = s.run(sink, stops);
      const bool stop_in_first = i >= 12;  // the whole stop string sits in the first piece
      ASSERT_EQ(sink.output, "Sure!") << i << "," << j;
      ASSERT_EQ(r.reason, DoneReason::stop);
      ASSERT_EQ(r.stop_index, 0) << i << "," << j;
      ASSERT_EQ(r.stop_token, -1);
      if (stop_in_first) {
        ASSERT_EQ(r.eval_count, 1);
      }
      for (const auto& chunk : sink.chunks) ASSERT_EQ(chunk.find('<'), std::string::npos) << chunk;
    }
  }
}

TEST(Generator, HeldBackTextIsReleasedWhenGenerationEnds) {
  Scripted s({"value: <|en"});  // looks like the start of a stop string, then EOS
  RecordingSink sink;
  const GenerateResult r = s.run(sink, {"<|end|>"});
  EXPECT_EQ(r.reason, DoneReason::stop);
  EXPECT_EQ(r.stop_token, kEos);
  EXPECT_EQ(sink.output, "value: <|en");
}

TEST(Generator, TextChunksAreWholeUtf8) {
  // "é" and "🎉" arrive as byte-fallback pieces.
  Scripted s({"caf", "\xC3", "\xA9", " ", "\xF0", "\x9F", "\x8E", "\x89", "!"});
  RecordingSink sink;
  s.run(sink);
  EXPECT_EQ(sink.output, "caf\xC3\xA9 \xF0\x9F\x8E\x89!");
  for (const auto& chunk : sink.chunks) {
    const auto lead = static_cast<unsigned char>(chunk.back());
    EXPECT_LT(lead, 0xC0) << "chunk ends inside a character";
    EXPECT_NE(static_cast<unsigned char>(chunk.front()) & 0xC0, 0x80) << "chunk starts inside a character";
  }
}

TEST(Generator, StopStringAfterAMultiByteCharacter) {
  Scripted s({"\xE4\xB8", "\x96\xE7\x95", "\x8C", "<e", "nd>x"});  // 世界 split mid-character
  RecordingSink sink;
  const GenerateResult r = s.run(sink, {"<end>"});
  EXPECT_EQ(sink.output, "\xE4\xB8\x96\xE7\x95\x8C");
  EXPECT_EQ(r.stop_index, 0);
}

TEST(Generator, LogprobsAreReportedPerToken) {
  Fixture f;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(6);
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  req.options.seed = 11;
  req.options.num_predict = 5;
  req.top_logprobs = 3;
  g.generate(req, sink);
  ASSERT_EQ(sink.all_logprobs.size(), 5u);

  // Recompute the logits the model gave before each sampled token.
  FakeModel replay(kVocab, 4096);
  replay.banned = {kEos};
  std::vector<int32_t> seq = prompt;
  std::vector<float> logits(kVocab);
  replay.eval(seq, 0, logits);
  for (size_t k = 0; k < 5; ++k) {
    const TokenLogprobs& lp = sink.all_logprobs[k];
    double z = 0;
    for (float l : logits) z += std::exp(static_cast<double>(l));
    EXPECT_EQ(lp.chosen.token, sink.tokens[k]);
    EXPECT_NEAR(lp.chosen.logprob, logits[static_cast<size_t>(sink.tokens[k])] - std::log(z), 1e-5);
    ASSERT_EQ(lp.n_top, 3);
    EXPECT_GE(lp.top()[0].logprob, lp.chosen.logprob - 1e-6f);
    if (k + 1 < 5) {
      const int32_t t = sink.tokens[k];
      replay.eval(std::span<const int32_t>(&t, 1), static_cast<int32_t>(prompt.size() + k), logits);
    }
  }
}

TEST(Generator, ModelFailuresBecomeErrors) {
  Fixture f;
  f.model.throw_at_pos = 11;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(10);
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  const GenerateResult r = g.generate(req, sink);
  EXPECT_EQ(r.reason, DoneReason::error);
  EXPECT_EQ(r.error, "token evaluation failed at position 11: injected failure");
  EXPECT_EQ(r.eval_count, 2);

  f.model.throw_at_pos = 5;
  RecordingSink sink2;
  const GenerateResult r2 = g.generate(req, sink2);
  EXPECT_EQ(r2.reason, DoneReason::error);
  EXPECT_EQ(r2.error, "prompt evaluation failed: injected failure");
}

TEST(Generator, BadRequestsAreRejectedBeforeEvaluation) {
  Fixture f;
  Generator g(f.model, f.text);
  RecordingSink sink;
  GenerateRequest req;
  EXPECT_EQ(g.generate(req, sink).error, "prompt is empty: nothing to generate from");
  const std::vector<int32_t> bad = {5, kVocab};
  req.prompt = bad;
  EXPECT_EQ(g.generate(req, sink).error, "prompt token 1 is 512, outside the vocabulary [0, 512)");
  const auto prompt = iota_prompt(3);
  req.prompt = prompt;
  req.options.top_p = 1.5f;
  EXPECT_EQ(g.generate(req, sink).error, "top_p must be in [0, 1], got 1.5");
  req.options.top_p = 0.9f;
  req.top_logprobs = 21;
  EXPECT_EQ(g.generate(req, sink).error, "top_logprobs must be in [0, 20], got 21");
  EXPECT_EQ(f.model.eval_calls, 0);
  EXPECT_EQ(sink.done_calls, 4);
}

TEST(Generator, ReportsTimings) {
  Fixture f;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(200);
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  req.options.num_predict = 20;
  const GenerateResult r = g.generate(req, sink);
  EXPECT_EQ(r.prompt_eval_count, 200);
  EXPECT_EQ(r.eval_count, 20);
  EXPECT_GT(r.prompt_eval_seconds, 0.0);
  EXPECT_GT(r.eval_seconds, 0.0);
  EXPECT_LT(r.prompt_eval_seconds + r.eval_seconds, 60.0);
}

TEST(Generator, SuppressedTokensAreNeverGenerated) {
  Fixture f;
  f.model.script = {300, 300, 300};
  f.model.script_from = 5;
  const std::vector<int32_t> suppress = {300};
  Generator g(f.model, f.text, suppress);
  const auto prompt = iota_prompt(5);
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  req.options = greedy();
  req.options.num_predict = 3;
  g.generate(req, sink);
  for (int32_t t : sink.tokens) EXPECT_NE(t, 300);
}

}  // namespace
}  // namespace locus::runtime

namespace locus::runtime {
namespace {

TEST(Generator, LoopGuardEndsRepetitionCollapse) {
  Fixture f;
  f.model.script = std::vector<int32_t>(2000, 42);
  f.model.script_from = 5;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(5);
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  req.options = greedy();
  req.loop_guard_tokens = 100;
  const GenerateResult r = g.generate(req, sink);
  EXPECT_EQ(r.reason, DoneReason::repetition);
  EXPECT_STREQ(done_reason_name(r.reason), "repetition");
  EXPECT_EQ(r.loop_period, 1);
  EXPECT_EQ(r.eval_count, 100);

  req.loop_guard_tokens = 0;  // off: the same run goes on to num_predict
  req.options.num_predict = 300;
  RecordingSink sink2;
  EXPECT_EQ(g.generate(req, sink2).reason, DoneReason::length);
  EXPECT_EQ(sink2.tokens.size(), 300u);
}

// Allows only tokens in [lo, hi) and, after `stop_after` tokens, only the end-of-generation token.
class RangeConstraint : public TokenConstraint {
 public:
  RangeConstraint(int32_t lo, int32_t hi, int32_t eog, int stop_after)
      : lo_(lo), hi_(hi), eog_(eog), stop_after_(stop_after) {}
  bool allows(int32_t token) override {
    ++allows_calls;
    if (accepted_ >= stop_after_) return token == eog_;
    return token >= lo_ && token < hi_;
  }
  void mask(std::span<float> logits) override {
    ++mask_calls;
    for (size_t i = 0; i < logits.size(); ++i) {
      if (!allows_no_count(static_cast<int32_t>(i))) logits[i] = -INFINITY;
    }
  }
  void accept(int32_t token) override {
    EXPECT_TRUE(allows_no_count(token)) << "generator accepted a refused token " << token;
    ++accepted_;
  }
  int allows_calls = 0;
  int mask_calls = 0;

 private:
  bool allows_no_count(int32_t token) const {
    if (accepted_ >= stop_after_) return token == eog_;
    return token >= lo_ && token < hi_;
  }
  int32_t lo_, hi_, eog_;
  int stop_after_;
  int accepted_ = 0;
};

TEST(Generator, ConstraintRestrictsEveryTokenAndEndsTheOutput) {
  for (float temperature : {0.0f, 0.8f, 1.5f}) {
    Fixture f;
    f.model.banned.clear();
    Generator g(f.model, f.text);
    const auto prompt = iota_prompt(5);
    RangeConstraint c(200, 210, kEos, 20);
    RecordingSink sink;
    GenerateRequest req;
    req.prompt = prompt;
    req.options = greedy();
    req.options.temperature = temperature;
    req.options.seed = 7;
    req.constraint = &c;
    const GenerateResult r = g.generate(req, sink);
    EXPECT_EQ(r.reason, DoneReason::stop) << r.error;
    EXPECT_EQ(r.stop_token, kEos);
    ASSERT_EQ(sink.tokens.size(), 20u);
    for (int32_t t : sink.tokens) {
      EXPECT_GE(t, 200);
      EXPECT_LT(t, 210);
    }
    EXPECT_GT(c.mask_calls, 0);  // the fake model's argmax is almost never in the range
  }
}

TEST(Generator, ConstraintIsNotAskedToMaskWhenTheDrawnTokenIsAllowed) {
  Fixture f;
  f.model.script = {300, 301, 302, 303};
  f.model.script_from = 5;
  Generator g(f.model, f.text);
  const auto prompt = iota_prompt(5);
  RangeConstraint c(300, 304, kEos, 100);
  RecordingSink sink;
  GenerateRequest req;
  req.prompt = prompt;
  req.options = greedy();
  req.options.num_predict = 4;
  req.constraint = &c;
  g.generate(req, sink);
  EXPECT_EQ(sink.tokens, (std::vector<int32_t>{300, 301, 302, 303}));
  EXPECT_EQ(c.mask_calls, 0);
}

}  // namespace
}  // namespace locus::runtime
