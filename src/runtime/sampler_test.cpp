// Each sampling stage against hand-computed expectations, the chain order, the draw, seeds, log-probs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "runtime/sampler.h"

namespace locus::runtime {
namespace {

// Logits whose softmax is exactly the given probabilities.
std::vector<float> logits_for(std::vector<double> probs) {
  std::vector<float> out;
  for (double p : probs) out.push_back(static_cast<float>(std::log(p)));
  return out;
}

SamplingOptions plain() {  // every truncation off, temperature 1
  SamplingOptions o;
  o.temperature = 1.0f;
  o.top_k = 0;
  o.top_p = 1.0f;
  o.min_p = 0.0f;
  o.typical_p = 1.0f;
  o.seed = 42;
  return o;
}

std::set<int32_t> kept_ids(const Sampler& s) {
  std::set<int32_t> ids;
  for (const auto& c : s.last_candidates()) ids.insert(c.id);
  return ids;
}

std::map<int32_t, double> kept_probs(const Sampler& s) {
  std::map<int32_t, double> m;
  for (const auto& c : s.last_candidates()) m[c.id] = c.p;
  return m;
}

// softmax(logits / t) over the ids in `keep`
std::map<int32_t, double> softmax_over(const std::vector<float>& logits, std::set<int32_t> keep, double t = 1) {
  std::map<int32_t, double> m;
  double sum = 0;
  for (int32_t id : keep) sum += std::exp(logits[static_cast<size_t>(id)] / t);
  for (int32_t id : keep) m[id] = std::exp(logits[static_cast<size_t>(id)] / t) / sum;
  return m;
}

void expect_probs_near(const std::map<int32_t, double>& got, const std::map<int32_t, double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [id, p] : want) {
    ASSERT_TRUE(got.count(id)) << "token " << id << " missing";
    EXPECT_NEAR(got.at(id), p, 1e-5) << "token " << id;
  }
}

TEST(Sampler, GreedyPicksTheArgmaxAndTheLowerIdOnTies) {
  SamplingOptions o = plain();
  o.temperature = 0.0f;
  Sampler s(o, 5);
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 2.0f, 1.5f};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s.sample(logits, {}), 1);
}

TEST(Sampler, GreedyAppliesPenalties) {
  SamplingOptions o = plain();
  o.temperature = 0.0f;
  o.repeat_penalty = 2.0f;
  Sampler s(o, 3);
  const std::vector<float> logits = {3.0f, 2.0f, 0.0f};
  const std::vector<int32_t> history = {0};
  EXPECT_EQ(s.sample(logits, history), 1);  // 3 / 2 = 1.5 < 2
}

TEST(Sampler, TopKKeepsTheKHighest) {
  SamplingOptions o = plain();
  o.top_k = 3;
  Sampler s(o, 8);
  const std::vector<float> logits = {0.5f, 3.0f, -2.0f, 2.5f, 1.0f, 2.9f, 0.0f, -1.0f};
  s.sample(logits, {});
  EXPECT_EQ(kept_ids(s), (std::set<int32_t>{1, 3, 5}));
  expect_probs_near(kept_probs(s), softmax_over(logits, {1, 3, 5}));
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
  const std::vector<float> logits = logits_for({0.5, 0.25, 0.15, 0.1});
  const std::vector<std::pair<float, std::set<int32_t>>> cases = {
      {0.0f, {0}}, {0.4f, {0}}, {0.6f, {0, 1}}, {0.8f, {0, 1, 2}}, {0.95f, {0, 1, 2, 3}}};
  for (const auto& [p, want] : cases) {
    SamplingOptions o = plain();
    o.top_p = p;
    Sampler s(o, 4);
    s.sample(logits, {});
    EXPECT_EQ(kept_ids(s), want) << "top_p " << p;
    expect_probs_near(kept_probs(s), softmax_over(logits, want));
  }
}

TEST(Sampler, MinPKeepsTokensWithinAFactorOfTheBest) {
  const std::vector<float> logits = logits_for({0.5, 0.25, 0.15, 0.1});
  // min_p 0.25: p >= 0.125 -> {0,1,2}; 0.35: p >= 0.175 -> {0,1}; 0.9: p >= 0.45 -> {0}
  const std::vector<std::pair<float, std::set<int32_t>>> cases = {
      {0.15f, {0, 1, 2, 3}}, {0.25f, {0, 1, 2}}, {0.35f, {0, 1}}, {0.9f, {0}}};
  for (const auto& [p, want] : cases) {
    SamplingOptions o = plain();
    o.min_p = p;
    Sampler s(o, 4);
    s.sample(logits, {});
    EXPECT_EQ(kept_ids(s), want) << "min_p " << p;
  }
}

TEST(Sampler, TypicalKeepsTokensClosestToTheEntropy) {
  const std::vector<double> probs = {0.5, 0.25, 0.15, 0.1};
  // H = 1.2080 nats; |-ln p - H| = 0.515, 0.178, 0.689, 1.095, so the typical order is 1, 0, 2, 3.
  double h = 0;
  for (double p : probs) h -= p * std::log(p);
  ASSERT_NEAR(h, 1.2080, 1e-4);
  const std::vector<float> logits = logits_for(probs);
  const std::vector<std::pair<float, std::set<int32_t>>> cases = {
      {0.2f, {1}}, {0.5f, {0, 1}}, {0.8f, {0, 1, 2}}, {0.95f, {0, 1, 2, 3}}};
  for (const auto& [p, want] : cases) {
    SamplingOptions o = plain();
    o.typical_p = p;
    Sampler s(o, 4);
    s.sample(logits, {});
    EXPECT_EQ(kept_ids(s), want) << "typical_p " << p;
    expect_probs_near(kept_probs(s), softmax_over(logits, want));
  }
}

TEST(Sampler, TemperatureScalesTheFinalDistribution) {
  const std::vector<float> logits = {1.0f, 0.0f, -1.0f, 0.5f};
  for (float t : {0.5f, 1.0f, 2.0f}) {
    SamplingOptions o = plain();
    o.temperature = t;
    Sampler s(o, 4);
    s.sample(logits, {});
    expect_probs_near(kept_probs(s), softmax_over(logits, {0, 1, 2, 3}, t));
  }
}

TEST(Sampler, TinyTemperatureIsGreedyNotNan) {
  SamplingOptions o = plain();
  o.temperature = 1e-30f;
  Sampler s(o, 4);
  const std::vector<float> logits = {1.0f, 3.0f, 2.9999f, -1.0f};
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s.sample(logits, {}), 1);
}

TEST(Sampler, PenaltiesFollowLlamaCppFormulas) {
  SamplingOptions o = plain();
  o.repeat_penalty = 2.0f;
  o.frequency_penalty = 0.5f;
  o.presence_penalty = 0.25f;
  Sampler s(o, 5);
  const std::vector<float> logits = {2.0f, -1.0f, 0.5f, 3.0f, 1.0f};
  const std::vector<int32_t> history = {0, 1, 0, 3};
  s.sample(logits, history);
  // token 0 (twice): 2/2 - (2*0.5 + 0.25) = -0.25; token 1 (once, negative): -1*2 - 0.75 = -2.75;
  // token 3 (once): 3/2 - 0.75 = 0.75; tokens 2 and 4 untouched.
  const std::vector<float> want = {-0.25f, -2.75f, 0.5f, 0.75f, 1.0f};
  expect_probs_near(kept_probs(s), softmax_over(want, {0, 1, 2, 3, 4}));
}

TEST(Sampler, PenaltiesLookOnlyAtTheLastRepeatLastNTokens) {
  const std::vector<float> logits = {1.0f, 1.0f, 1.0f};
  const std::vector<int32_t> history = {0, 0, 0, 1};
  auto probs_with = [&](int32_t last_n) {
    SamplingOptions o = plain();
    o.presence_penalty = 1.0f;
    o.repeat_last_n = last_n;
    Sampler s(o, 3);
    s.sample(logits, history);
    return kept_probs(s);
  };
  expect_probs_near(probs_with(1), softmax_over({1.0f, 0.0f, 1.0f}, {0, 1, 2}));
  expect_probs_near(probs_with(0), softmax_over({1.0f, 1.0f, 1.0f}, {0, 1, 2}));
  expect_probs_near(probs_with(-1), softmax_over({0.0f, 0.0f, 1.0f}, {0, 1, 2}));
  expect_probs_near(probs_with(64), softmax_over({0.0f, 0.0f, 1.0f}, {0, 1, 2}));
}

TEST(Sampler, ChainAppliesTopKBeforeTopP) {
  // top_k 2 renormalises {0.4, 0.3} to {4/7, 3/7}; top_p 0.5 then keeps one token. Applied to the full
  // distribution first, top_p 0.5 would have kept two.
  SamplingOptions o = plain();
  o.top_k = 2;
  o.top_p = 0.5f;
  Sampler s(o, 4);
  s.sample(logits_for({0.4, 0.3, 0.2, 0.1}), {});
  EXPECT_EQ(kept_ids(s), (std::set<int32_t>{0}));
}

TEST(Sampler, ChainChoosesTheSetAtTemperatureOneAndThenScales) {
  SamplingOptions o = plain();
  o.top_p = 0.7f;
  o.temperature = 2.0f;
  Sampler s(o, 4);
  const std::vector<float> logits = logits_for({0.5, 0.25, 0.15, 0.1});
  s.sample(logits, {});
  // The set is {0, 1} at temperature 1 (0.75 >= 0.7); probabilities are then sqrt(p) renormalised.
  expect_probs_near(kept_probs(s), softmax_over(logits, {0, 1}, 2.0));
}

TEST(Sampler, DrawsFollowTheDistribution) {
  SamplingOptions o = plain();
  Sampler s(o, 4);
  const std::vector<double> probs = {0.5, 0.25, 0.15, 0.1};
  const std::vector<float> logits = logits_for(probs);
  std::vector<int> counts(4, 0);
  const int n = 200000;
  for (int i = 0; i < n; ++i) ++counts[static_cast<size_t>(s.sample(logits, {}))];
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(counts[i] / double(n), probs[i], 0.005) << "token " << i;
}

std::vector<int32_t> draw_sequence(Sampler& s, const std::vector<float>& logits, int n) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(s.sample(logits, out));
  return out;
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> logits(1000);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(std::sin(i * 0.37) * 3);
  SamplingOptions o;  // Ollama defaults: top_k 40, top_p 0.9, temperature 0.8
  o.seed = 1234;
  o.repeat_penalty = 1.1f;
  Sampler a(o, 1000), b(o, 1000);
  EXPECT_EQ(a.seed(), 1234u);
  const auto first = draw_sequence(a, logits, 300);
  EXPECT_EQ(first, draw_sequence(b, logits, 300));
  a.reset();
  EXPECT_EQ(first, draw_sequence(a, logits, 300));
  o.seed = 1235;
  Sampler c(o, 1000);
  EXPECT_NE(first, draw_sequence(c, logits, 300));
}

TEST(Sampler, FirstDrawsOfAFixedSeedAreStable) {
  // Pins the draw algorithm (mt19937_64, 53-bit uniform, inverse CDF in chain order): a change here changes
  // every seeded output users may have recorded.
  SamplingOptions o = plain();
  o.seed = 7;
  Sampler s(o, 4);
  const std::vector<float> logits = logits_for({0.4, 0.3, 0.2, 0.1});
  std::vector<int32_t> got;
  for (int i = 0; i < 12; ++i) got.push_back(s.sample(logits, {}));
  std::mt19937_64 rng(7);
  std::vector<int32_t> want;
  for (int i = 0; i < 12; ++i) {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    want.push_back(u < 0.4 ? 0 : u < 0.7 ? 1 : u < 0.9 ? 2 : 3);
  }
  EXPECT_EQ(got, want);
}

TEST(Sampler, RandomSeedIsDrawnAndReported) {
  SamplingOptions o = plain();
  o.seed = -1;
  Sampler a(o, 4), b(o, 4);
  EXPECT_NE(a.seed(), b.seed());
}

TEST(Sampler, SuppressedTokensAreNeverPicked) {
  SamplingOptions o = plain();
  const std::vector<int32_t> suppress = {0, 2};
  Sampler s(o, 4, suppress);
  const std::vector<float> logits = {5.0f, 0.0f, 5.0f, 0.0f};
  for (int i = 0; i < 1000; ++i) {
    const int32_t t = s.sample(logits, {});
    EXPECT_TRUE(t == 1 || t == 3);
  }
  o.temperature = 0.0f;
  Sampler g(o, 4, suppress);
  EXPECT_EQ(g.sample(logits, {}), 1);
}

TEST(Sampler, NanLogitsAreIgnoredAndAllNanIsReported) {
  SamplingOptions o = plain();
  Sampler s(o, 3);
  const std::vector<float> some = {NAN, 1.0f, NAN};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.sample(some, {}), 1);
  const std::vector<float> all = {NAN, NAN, -INFINITY};
  EXPECT_EQ(s.sample(all, {}), -1);
  o.temperature = 0.0f;
  Sampler g(o, 3);
  EXPECT_EQ(g.sample(all, {}), -1);
}

TEST(Sampler, FullVocabularyNucleusWithoutTopK) {
  // 262,144 nearly uniform logits: the nucleus spans most of the vocabulary, so the lazy sort has to
  // grow from 256 candidates to all of them.
  const int32_t n = 262144;
  std::vector<float> logits(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) logits[static_cast<size_t>(i)] = static_cast<float>((i * 7919) % 1000) * 1e-4f;
  SamplingOptions o = plain();
  o.top_p = 0.9f;
  Sampler s(o, n);
  const int32_t t = s.sample(logits, {});
  ASSERT_GE(t, 0);
  const auto kept = s.last_candidates();
  EXPECT_GT(kept.size(), 230000u);
  EXPECT_LT(kept.size(), 240000u);
  for (size_t i = 1; i < kept.size(); ++i) ASSERT_GE(kept[i - 1].logit, kept[i].logit);
  double mass = 0;
  for (const auto& c : kept) mass += c.p;
  EXPECT_NEAR(mass, 1.0, 1e-3);
}

// The nucleus by definition: sort everything (logit descending, id ascending), keep the shortest prefix
// whose mass reaches top_p. Probabilities are computed the way the sampler computes them.
std::set<int32_t> reference_nucleus(const std::vector<float>& logits, float top_p) {
  float max_logit = -INFINITY;
  for (float l : logits) max_logit = std::max(max_logit, l);
  std::vector<float> e(logits.size());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    e[i] = std::exp(logits[i] - max_logit);
    sum += e[i];
  }
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  std::set<int32_t> kept;
  double cumulative = 0;
  const double inv = 1.0 / sum;
  for (int32_t id : order) {
    kept.insert(id);
    cumulative += static_cast<float>(e[static_cast<size_t>(id)] * inv);
    if (cumulative >= top_p) break;
  }
  return kept;
}

TEST(Sampler, LargeNucleusMatchesTheSortedDefinition) {
  std::mt19937 rng(5);
  struct Shape { int32_t n; float spread; int levels; };  // levels > 0: logits quantised (many ties)
  const Shape shapes[] = {{262144, 3.0f, 0}, {262144, 0.5f, 0}, {262144, 8.0f, 0}, {5000, 2.0f, 0},
                          {262144, 2.0f, 7}, {100000, 1.0f, 50}};
  for (const Shape& shape : shapes) {
    std::normal_distribution<float> dist(0.0f, shape.spread);
    std::vector<float> logits(static_cast<size_t>(shape.n));
    for (auto& l : logits) {
      l = dist(rng);
      if (shape.levels > 0) l = std::round(l * shape.levels / shape.spread) / shape.levels;
    }
    logits[17] = 10.0f;
    for (float top_p : {0.1f, 0.5f, 0.9f, 0.99f}) {
      SamplingOptions o = plain();
      o.top_p = top_p;
      Sampler s(o, shape.n);
      ASSERT_GE(s.sample(logits, {}), 0);
      EXPECT_EQ(kept_ids(s), reference_nucleus(logits, top_p)) << "n " << shape.n << " spread " << shape.spread
                                                               << " levels " << shape.levels << " top_p " << top_p;
    }
  }
}

TEST(Sampler, LogprobsAreLogSoftmaxOfTheRawLogits) {
  SamplingOptions o = plain();
  o.temperature = 0.3f;        // must not affect reported log-probabilities
  o.repeat_penalty = 3.0f;     // nor must penalties
  Sampler s(o, 10);
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, 0.0f, 1.0f, -3.0f, 0.25f, 1.5f, -0.5f};
  const std::vector<int32_t> history = {1, 3};
  const int32_t chosen = s.sample(logits, history);
  TokenLogprobs lp;
  s.logprobs(logits, chosen, 10, lp);

  double z = 0;
  for (float l : logits) z += std::exp(l);
  EXPECT_EQ(lp.chosen.token, chosen);
  EXPECT_NEAR(lp.chosen.logprob, logits[static_cast<size_t>(chosen)] - std::log(z), 1e-6);
  ASSERT_EQ(lp.n_top, 10);
  double total = 0;
  for (const auto& t : lp.top()) total += std::exp(t.logprob);
  EXPECT_NEAR(total, 1.0, 1e-6);
  // Descending, ties to the lower id: 1 and 3 share the top logit.
  EXPECT_EQ(lp.top()[0].token, 1);
  EXPECT_EQ(lp.top()[1].token, 3);
  EXPECT_EQ(lp.top()[2].token, 8);
  for (int i = 1; i < lp.n_top; ++i) EXPECT_GE(lp.top()[i - 1].logprob, lp.top()[i].logprob);

  s.logprobs(logits, chosen, 3, lp);
  EXPECT_EQ(lp.n_top, 3);
  s.logprobs(logits, chosen, 0, lp);
  EXPECT_EQ(lp.n_top, 0);
  s.logprobs(logits, chosen, 99, lp);
  EXPECT_EQ(lp.n_top, 10);  // capped by the vocabulary here, by kMaxTopLogprobs in general
}

// At Gemma 4's vocabulary size, with softcapped logits as the model gives them: the reported values against a
// log-softmax and a top-N computed here independently (double sums, a full sort of a copy).
TEST(Sampler, LogprobsOverAFullVocabularyMatchAnIndependentLogSoftmax) {
  constexpr int32_t kVocab = 262144;
  constexpr float kCap = 30.0f;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  std::vector<float> logits(kVocab);
  for (float& l : logits) l = kCap * std::tanh(normal(rng) / kCap);
  logits[777] = 25.0f;  // a clear favourite
  SamplingOptions o = plain();
  o.temperature = 0.7f;
  o.top_k = 40;
  Sampler s(o, kVocab);

  double max_logit = -1e30;
  for (float l : logits) max_logit = std::max(max_logit, static_cast<double>(l));
  double z = 0;
  for (float l : logits) z += std::exp(static_cast<double>(l) - max_logit);
  const double log_z = max_logit + std::log(z);

  std::vector<int32_t> order(kVocab);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });

  for (const int32_t n : {1, 5, kMaxTopLogprobs}) {
    for (const int32_t chosen : {777, order[3], order[1000], 12345}) {
      TokenLogprobs lp;
      s.logprobs(logits, chosen, n, lp);
      EXPECT_EQ(lp.chosen.token, chosen);
      EXPECT_NEAR(lp.chosen.logprob, logits[static_cast<size_t>(chosen)] - log_z, 1e-4);
      ASSERT_EQ(lp.n_top, n);
      bool chosen_listed = false;
      for (int32_t i = 0; i < n; ++i) {
        const TokenLogprob& t = lp.top()[static_cast<size_t>(i)];
        EXPECT_EQ(t.token, order[static_cast<size_t>(i)]) << "rank " << i;
        EXPECT_NEAR(t.logprob, logits[static_cast<size_t>(t.token)] - log_z, 1e-4);
        if (i > 0) {
          EXPECT_GE(lp.top()[static_cast<size_t>(i - 1)].logprob, t.logprob);
        }
        chosen_listed |= t.token == chosen;
      }
      const bool in_top_n = std::find(order.begin(), order.begin() + n, chosen) != order.begin() + n;
      EXPECT_EQ(chosen_listed, in_top_n) << "n " << n << " chosen " << chosen;
    }
  }

  // The values describe a whole distribution: with log Z recovered from one reported value, exp(logprob)
  // over the vocabulary sums to 1.
  TokenLogprobs lp;
  s.logprobs(logits, 777, 0, lp);
  const double reported_log_z = logits[777] - static_cast<double>(lp.chosen.logprob);
  double total = 0;
  for (float l : logits) total += std::exp(static_cast<double>(l) - reported_log_z);
  EXPECT_NEAR(total, 1.0, 1e-4);
  // The greedy pick is the top entry.
  o.temperature = 0.0f;
  s.set_options(o);
  const int32_t greedy = s.sample(logits, {});
  s.logprobs(logits, greedy, 3, lp);
  EXPECT_EQ(lp.top()[0].token, greedy);
  EXPECT_EQ(lp.top()[0].logprob, lp.chosen.logprob);
}

TEST(Sampler, LogprobsCapAtTwenty) {
  SamplingOptions o = plain();
  Sampler s(o, 100);
  std::vector<float> logits(100);
  std::iota(logits.begin(), logits.end(), 0.0f);
  TokenLogprobs lp;
  s.logprobs(logits, 5, 50, lp);
  ASSERT_EQ(lp.n_top, kMaxTopLogprobs);
  EXPECT_EQ(lp.top()[0].token, 99);
  EXPECT_EQ(lp.top()[19].token, 80);
}

}  // namespace
}  // namespace locus::runtime
