// Gemma4Model::embed: the pooled, normalized hidden state after output_norm, against a plain double-precision
// forward pass; determinism, batch-size independence, what it leaves in the sequence's cache, refusals, and
// no allocation on a warm call.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <ostream>
#include <vector>

#include "gguf/test_helpers.h"
#include "model/gemma4_model.h"
#include "model/test_model.h"
#include "tensor/quantize.h"

#include "tensor/counting_new.h"

namespace locus::model {
namespace {

using gguf::GgmlType;

using testing::random_tokens;

std::string write_model(const std::string& name, const Gemma4Config& c, GgmlType type) {
  return testing::write_temp_model("model_embedding", name, c, type);
}

Gemma4ModelOptions options(uint32_t n_ctx, uint32_t n_batch) { return testing::model_options(n_ctx, n_batch); }

std::vector<float> embed(Gemma4Model& m, const std::vector<int32_t>& tokens, EmbeddingOptions eo = {},
                         SequenceId seq = kDefaultSequence) {
  std::vector<float> out(m.n_embd());
  m.embed(seq, tokens, out, eo);
  return out;
}

double norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  return std::sqrt(s);
}

double cosine(const std::vector<float>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += a[i] * b[i];
    aa += double(a[i]) * a[i];
    bb += b[i] * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(double(a[i]) - b[i]));
  return d;
}

std::vector<double> as_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// The reference's embedding: its output-normed rows, averaged (or the last one), optionally L2-normalized.
std::vector<double> reference_embedding(const std::string& path, const Gemma4Config& c,
                                        const std::vector<int32_t>& tokens, EmbeddingPooling pooling,
                                        bool normalize) {
  const gguf::GgufFile f = gguf::GgufFile::open(path);
  std::vector<std::vector<double>> hidden;
  testing::reference_forward(f, c, tokens, &hidden);
  std::vector<double> e(c.n_embd, 0.0);
  const size_t first = pooling == EmbeddingPooling::kLast ? hidden.size() - 1 : 0;
  for (size_t t = first; t < hidden.size(); ++t) {
    for (size_t i = 0; i < e.size(); ++i) e[i] += hidden[t][i];
  }
  for (double& x : e) x /= double(hidden.size() - first);
  if (normalize) {
    double s = 0;
    for (double x : e) s += x * x;
    for (double& x : e) x /= std::sqrt(s);
  }
  return e;
}

// ---- against the double-precision forward pass, every model feature, both poolings, raw and normalized

struct ReferenceCase {
  const char* name;
  Gemma4Config config;
  GgmlType type;
};
void PrintTo(const ReferenceCase& c, std::ostream* os) { *os << c.name; }

class EmbeddingReferenceTest : public ::testing::TestWithParam<ReferenceCase> {};

TEST_P(EmbeddingReferenceTest, MatchesDoublePrecisionForward) {
  const auto& [name, c, type] = GetParam();
  // (temp_path would name the file after the test, whose parameterized name holds a '/'.)
  const std::string path = ::testing::TempDir() + "model_embedding_reference_" + name;
  testing::write_test_model(path, c, type);
  // 20 tokens over a window of 8 and steps of 7: the sliding layers' ring wraps and the pool spans steps.
  const auto tokens = random_tokens(20, c.n_vocab, 11);
  auto m = Gemma4Model::load(path, options(64, 7));
  for (const EmbeddingPooling pooling : {EmbeddingPooling::kMean, EmbeddingPooling::kLast}) {
    for (const bool normalize : {true, false}) {
      SCOPED_TRACE(std::string(pooling == EmbeddingPooling::kMean ? "mean" : "last") +
                   (normalize ? ", normalized" : ", raw"));
      const auto got = embed(*m, tokens, {pooling, normalize});
      const auto want = reference_embedding(path, c, tokens, pooling, normalize);
      const double scale = normalize ? 1.0 / std::sqrt(double(c.n_embd)) : 1.0;  // a typical element
      std::printf("  %s %s %s: max diff %.3g of an element, 1 - cosine %.3g\n", name,
                  pooling == EmbeddingPooling::kMean ? "mean" : "last", normalize ? "normalized" : "raw",
                  max_abs_diff(got, want) / scale, 1 - cosine(got, want));
      // The engine's f16 KV cache and GELU table keep it within a few 1e-3 of an element's size with F32
      // weights (measured: at most 3e-3, 1 - cosine 7e-7); Q8_0 adds the activations' conversion to q8_0
      // for the products, which the reference does not do (measured: 0.07, 1 - cosine 3e-4).
      const bool f32 = type == GgmlType::F32;
      EXPECT_LT(max_abs_diff(got, want) / scale, f32 ? 1e-2 : 0.2);
      EXPECT_LT(1 - cosine(got, want), f32 ? 5e-6 : 2e-3);
    }
  }
  std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(
    Features, EmbeddingReferenceTest,
    ::testing::Values(ReferenceCase{"dense_f32", testing::small_config(), GgmlType::F32},
                      ReferenceCase{"dense_q8_0", testing::small_config(), GgmlType::Q8_0},
                      ReferenceCase{"ple_shared_kv", testing::small_config_ple_shared_kv(), GgmlType::F32},
                      ReferenceCase{"moe", testing::small_config_moe(), GgmlType::F32}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- properties

class EmbeddingTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = write_model("m", c_, GgmlType::F32); }
  void TearDown() override { std::remove(path_.c_str()); }
  Gemma4Config c_ = testing::small_config();
  std::string path_;
};

TEST_F(EmbeddingTest, UnitNormAndDeterministic) {
  auto m = Gemma4Model::load(path_, options(64, 16));
  const auto tokens = random_tokens(23, c_.n_vocab, 3);
  const auto a = embed(*m, tokens);
  EXPECT_NEAR(norm(a), 1.0, 1e-6);
  // Again, after other work on the model: the same bits.
  std::vector<float> logits(m->n_vocab());
  m->forward(random_tokens(9, c_.n_vocab, 4), 0, logits, false);
  const SequenceId other = m->add_sequence();
  const auto b = embed(*m, tokens, {}, other);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, embed(*m, tokens, {}, other));
  // A different text gives a different embedding (the output is not a constant).
  const auto d = embed(*m, random_tokens(23, c_.n_vocab, 5));
  EXPECT_LT(cosine(a, as_double(d)), 0.999);
  // The mean differs from the last token's alone.
  EXPECT_LT(cosine(a, as_double(embed(*m, tokens, {EmbeddingPooling::kLast}))), 0.999);
}

TEST_F(EmbeddingTest, BatchSizeIndependent) {
  // 100 tokens over a window of 8: one step of 512, or steps of 1, 7 and 39 that wrap the sliding layers' ring.
  const auto tokens = random_tokens(100, c_.n_vocab, 21);
  auto big = Gemma4Model::load(path_, options(128, 512));
  const auto want = as_double(embed(*big, tokens));
  for (const uint32_t n_batch : {1u, 7u, 39u}) {
    SCOPED_TRACE("n_batch " + std::to_string(n_batch));
    auto m = Gemma4Model::load(path_, options(128, n_batch));
    const auto got = embed(*m, tokens);
    std::printf("  n_batch %u against 512: max diff %.3g of an element, 1 - cosine %.3g\n", n_batch,
                max_abs_diff(got, want) * std::sqrt(double(c_.n_embd)), 1 - cosine(got, want));
    // Only the attention's numerics change with the step size (f16 accumulation below 64 tokens, f32 at 64
    // and above, as llama.cpp): measured 2e-3 of an element, 1 - cosine 3e-7.
    EXPECT_LT(max_abs_diff(got, want) * std::sqrt(double(c_.n_embd)), 1e-2);
    EXPECT_LT(1 - cosine(got, want), 5e-6);
  }
  // With f32 attention throughout, the steps change nothing but the matrix products' grouping of tokens
  // (measured: equal).
  Gemma4ModelOptions f32 = options(128, 512);
  f32.attention = AttentionPrecision::kF32;
  auto a = Gemma4Model::load(path_, f32);
  f32.n_batch = 1;
  auto b = Gemma4Model::load(path_, f32);
  const auto ea = embed(*a, tokens), eb = embed(*b, tokens);
  std::printf("  f32 attention, n_batch 1 against 512: max diff %.3g of an element\n",
              max_abs_diff(ea, as_double(eb)) * std::sqrt(double(c_.n_embd)));
  EXPECT_LT(max_abs_diff(ea, as_double(eb)) * std::sqrt(double(c_.n_embd)), 1e-4);
}

TEST_F(EmbeddingTest, TheLastTokensRawEmbeddingIsTheLmHeadsInput) {
  // Unnormalized, last-token pooling is the output-normed hidden state the LM head multiplies: the tied
  // head (token_embd) and the softcap applied to it must give forward()'s logits.
  auto m = Gemma4Model::load(path_, options(64, 16));
  const auto tokens = random_tokens(12, c_.n_vocab, 8);
  const auto y = embed(*m, tokens, {EmbeddingPooling::kLast, false});
  std::vector<float> logits(m->n_vocab());
  m->forward(tokens, 0, logits, false);
  const gguf::GgufFile f = gguf::GgufFile::open(path_);
  const gguf::TensorInfo* t = f.find_tensor("token_embd.weight");
  ASSERT_NE(t, nullptr);
  std::vector<float> head(t->n_elements());
  tensor::dequantize_row(t->type, f.tensor_data(*t).data(), head.data(), static_cast<int64_t>(head.size()));
  double worst = 0;
  for (uint32_t v = 0; v < c_.n_vocab; ++v) {
    double dot = 0;
    for (uint32_t i = 0; i < c_.n_embd; ++i) dot += double(head[size_t(v) * c_.n_embd + i]) * y[i];
    const double want = c_.final_logit_softcap * std::tanh(dot / c_.final_logit_softcap);
    worst = std::max(worst, std::abs(want - logits[v]));
  }
  EXPECT_LT(worst, 1e-4);
}

TEST_F(EmbeddingTest, LeavesTheSequenceEmptyAndOthersUntouched) {
  const auto prompt = random_tokens(10, c_.n_vocab, 1), text = random_tokens(15, c_.n_vocab, 2);
  const int32_t next = 7;
  std::vector<float> want(c_.n_vocab), got(c_.n_vocab);
  {
    auto fresh = Gemma4Model::load(path_, options(64, 16));
    fresh->forward(prompt, 0, want, false);
    fresh->forward({&next, 1}, 10, want, false);
  }
  auto m = Gemma4Model::load(path_, options(64, 16));
  const auto alone = embed(*m, text);
  EXPECT_EQ(m->n_past(), 0);

  // Sequence 0 holds a prompt; embedding on sequence 1 leaves it as it was, and sequence 1 empty.
  m->forward(prompt, 0, got, false);
  const SequenceId s = m->add_sequence();
  m->forward(s, random_tokens(5, c_.n_vocab, 3), 0, got, false);
  EXPECT_EQ(embed(*m, text, {}, s), alone);  // what the sequence held before does not matter
  EXPECT_EQ(m->n_past(s), 0);
  EXPECT_EQ(m->n_past(0), 10);
  m->forward({&next, 1}, 10, got, false);
  EXPECT_EQ(got, want);

  // Embedding on the sequence itself drops what it held; it can then start over from position 0.
  EXPECT_EQ(embed(*m, text), alone);
  EXPECT_EQ(m->n_past(), 0);
  m->forward(prompt, 0, got, false);
  m->forward({&next, 1}, 10, got, false);
  EXPECT_EQ(got, want);
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_F(EmbeddingTest, RefusesBadInputLeavingTheCacheAsItWas) {
  auto m = Gemma4Model::load(path_, options(16, 8));
  std::vector<float> logits(m->n_vocab()), out(m->n_embd());
  m->forward(random_tokens(5, c_.n_vocab, 1), 0, logits, false);
  const std::vector<int32_t> empty;
  EXPECT_EQ(error_of([&] { m->embed(0, empty, out); }), "embed: no tokens (an embedding needs at least one)");
  EXPECT_EQ(error_of([&] { m->embed(0, random_tokens(17, c_.n_vocab, 2), out); }),
            "embed: 17 tokens exceed the context of 16 positions of sequence 0");
  EXPECT_EQ(error_of([&] { m->embed(0, std::vector<int32_t>{1, 300, 2}, out); }), "embed: token 300 outside [0, 300)");
  EXPECT_EQ(error_of([&] { m->embed(0, std::vector<int32_t>{1, -1}, out); }), "embed: token -1 outside [0, 300)");
  std::vector<float> small(m->n_embd() - 1);
  EXPECT_EQ(error_of([&] { m->embed(0, std::vector<int32_t>{1}, small); }),
            "embed: out holds 63 floats, expected n_embd 64");
  EXPECT_EQ(error_of([&] { m->embed(3, std::vector<int32_t>{1}, out); }), "no sequence 3");
  EXPECT_EQ(m->n_past(), 5);
  // A whole context is allowed; a sequence with a smaller context of its own is held to it.
  EXPECT_NO_THROW(m->embed(0, random_tokens(16, c_.n_vocab, 3), out));
  const SequenceId s = m->add_sequence(4);
  EXPECT_EQ(error_of([&] { m->embed(s, random_tokens(5, c_.n_vocab, 4), out); }),
            "embed: 5 tokens exceed the context of 4 positions of sequence 1");
  EXPECT_NO_THROW(m->embed(s, random_tokens(4, c_.n_vocab, 4), out));
}

TEST_F(EmbeddingTest, WarmCallAllocatesNothing) {
  auto m = Gemma4Model::load(path_, options(64, 8));
  const auto tokens = random_tokens(30, c_.n_vocab, 6);
  std::vector<float> out(m->n_embd());
  m->embed(0, tokens, out);  // first call: thread pool and kernels' lazy state
  const long before = allocations_so_far();
  m->embed(0, tokens, out);
  m->embed(0, tokens, out, {EmbeddingPooling::kLast, false});
  EXPECT_EQ(allocations_so_far() - before, 0);
}

}  // namespace
}  // namespace locus::model
