#include "model/gemma4_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "gguf/test_helpers.h"
#include "model/test_model.h"

namespace locus::model {
namespace {

using gguf::GgmlType;

std::vector<int32_t> random_tokens(size_t n, uint32_t n_vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> t(n);
  for (int32_t& x : t) x = static_cast<int32_t>(rng() % n_vocab);
  return t;
}

class Gemma4ModelTest : public ::testing::Test {
 protected:
  std::string model(const std::string& name, const Gemma4Config& c, GgmlType type) {
    const std::string path = gguf::testing::temp_path("model_forward", name);
    testing::write_test_model(path, c, type);
    return path;
  }

  // All-position logits of `tokens` evaluated in steps of n_batch.
  std::vector<float> logits(const std::string& path, const std::vector<int32_t>& tokens, uint32_t n_batch,
                            AttentionPrecision precision = AttentionPrecision::kLikeLlamaCpp, int threads = 2) {
    Gemma4ModelOptions o;
    o.n_ctx = 256;
    o.n_batch = n_batch;
    o.n_threads = threads;
    o.attention = precision;
    auto m = Gemma4Model::load(path, o);
    std::vector<float> out(tokens.size() * m->n_vocab());
    m->forward(tokens, 0, out, true);
    return out;
  }
};

// Largest |a - b| over a row, relative to the row's range in b.
double worst_relative_diff(const std::vector<float>& a, const std::vector<double>& b, size_t V) {
  double worst = 0;
  for (size_t r = 0; r < b.size() / V; ++r) {
    const auto [mn, mx] = std::minmax_element(b.begin() + r * V, b.begin() + (r + 1) * V);
    double d = 0;
    for (size_t i = r * V; i < (r + 1) * V; ++i) d = std::max(d, std::abs(double(a[i]) - b[i]));
    worst = std::max(worst, d / (*mx - *mn));
  }
  return worst;
}

// Bounds on the largest logit difference relative to the row's range. The engine rounds K and V to f16 (the
// cache), GELU through an f16 table and, for quantized weights, the matmul's activations (q8_0 here), as
// llama.cpp does; the exact reference does not. A structural mistake (mask, RoPE, a missing norm) shows up
// as differences of 0.1 and more.
double bound_for(GgmlType type) { return type == GgmlType::Q8_0 ? 4e-2 : 3e-3; }

TEST_F(Gemma4ModelTest, MatchesThePlainReferenceForwardPass) {
  // 40 tokens cross the window of 8 several times.
  const Gemma4Config c = testing::small_config(6, 8);
  for (GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::Q8_0}) {
    const std::string path = model(std::string(gguf::ggml_type_info(type).name) + ".gguf", c, type);
    const auto tokens = random_tokens(40, c.n_vocab, 1);
    const auto exact = testing::reference_forward(gguf::GgufFile::open(path), c, tokens);
    // Steps under 64 tokens take the f16-accumulating attention, bigger ones the f32 one.
    for (uint32_t n_batch : {1u, 5u, 40u}) {
      for (AttentionPrecision precision : {AttentionPrecision::kLikeLlamaCpp, AttentionPrecision::kF32}) {
        const auto out = logits(path, tokens, n_batch, precision);
        EXPECT_LT(worst_relative_diff(out, exact, c.n_vocab), bound_for(type))
            << gguf::ggml_type_info(type).name << " batch " << n_batch;
      }
    }
  }
}

TEST_F(Gemma4ModelTest, PerLayerEmbeddingsSharedKvAndExpertsMatchTheReference) {
  // The features of the other sizes: E2B/E4B (per-layer embeddings, KV-shared layers, double-wide MLP) and
  // 26B A4B (routed experts beside the dense MLP). Experts are checked in F16: with q8_0 activations a token
  // whose 3rd and 4th expert are nearly tied may pick the other one than the exact reference, and the
  // logits then differ by far more than rounding.
  for (const auto& [name, c, types] :
       {std::tuple{"ple", testing::small_config_ple_shared_kv(), std::vector{GgmlType::F32, GgmlType::Q8_0}},
        std::tuple{"moe", testing::small_config_moe(), std::vector{GgmlType::F32, GgmlType::F16}}}) {
    for (GgmlType type : types) {
      const std::string path = model(std::string(name) + "-" + std::string(gguf::ggml_type_info(type).name) + ".gguf", c, type);
      const auto tokens = random_tokens(30, c.n_vocab, 6);
      const auto exact = testing::reference_forward(gguf::GgufFile::open(path), c, tokens);
      for (uint32_t n_batch : {1u, 30u}) {
        const auto out = logits(path, tokens, n_batch);
        EXPECT_LT(worst_relative_diff(out, exact, c.n_vocab), bound_for(type))
            << name << " " << gguf::ggml_type_info(type).name << " batch " << n_batch;
      }
    }
  }
}

TEST_F(Gemma4ModelTest, StepsAndRingWrapsDoNotChangeTheResult) {
  // With f32 attention every token's computation is the same whatever the batching: a prompt run in one
  // step, in steps of 7 (sliding rings of 8 + 7 cells wrapping) and token by token agree to rounding.
  const Gemma4Config c = testing::small_config(6, 8);
  const std::string path = model("steps.gguf", c, GgmlType::F32);
  const auto tokens = random_tokens(50, c.n_vocab, 2);
  const auto one = logits(path, tokens, 64, AttentionPrecision::kF32);
  for (uint32_t n_batch : {7u, 1u}) {
    const auto stepped = logits(path, tokens, n_batch, AttentionPrecision::kF32);
    double d = 0;
    for (size_t i = 0; i < one.size(); ++i) d = std::max(d, double(std::abs(one[i] - stepped[i])));
    EXPECT_LT(d, 1e-4) << "n_batch " << n_batch;
  }
}

TEST_F(Gemma4ModelTest, ThreadCountDoesNotChangeTheResult) {
  const Gemma4Config c = testing::small_config(6, 8);
  const std::string path = model("threads.gguf", c, GgmlType::Q8_0);
  const auto tokens = random_tokens(20, c.n_vocab, 3);
  EXPECT_EQ(logits(path, tokens, 4, AttentionPrecision::kLikeLlamaCpp, 1),
            logits(path, tokens, 4, AttentionPrecision::kLikeLlamaCpp, 3));
}

TEST_F(Gemma4ModelTest, LastRowEqualsTheLastOfAllRowsAndGenerationContinues) {
  const Gemma4Config c = testing::small_config(6, 8);
  const std::string path = model("last.gguf", c, GgmlType::F16);
  const auto tokens = random_tokens(30, c.n_vocab, 4);
  Gemma4ModelOptions o;
  o.n_ctx = 64;
  o.n_batch = 8;
  auto m = Gemma4Model::load(path, o);
  std::vector<float> all(tokens.size() * c.n_vocab), last(c.n_vocab);
  m->forward(tokens, 0, all, true);
  EXPECT_EQ(m->n_past(), 30);
  m->reset();
  m->forward(tokens, 0, last, false);
  EXPECT_TRUE(std::equal(last.begin(), last.end(), all.end() - c.n_vocab));
  // Token by token from there, then the same continuation evaluated after a roll back.
  std::vector<float> a(c.n_vocab), b(c.n_vocab);
  const int32_t next[] = {5, 17, 250};
  for (int32_t t : next) m->forward({&t, 1}, m->n_past(), a, false);
  EXPECT_EQ(m->n_past(), 33);
  ASSERT_TRUE(m->can_truncate(31));
  m->forward({next + 1, 2}, 31, b, false);  // rolls back to 31 and evaluates the last two again
  EXPECT_EQ(m->n_past(), 33);
  double d = 0;
  for (uint32_t i = 0; i < c.n_vocab; ++i) d = std::max(d, double(std::abs(a[i] - b[i])));
  EXPECT_LT(d, 1e-4);
}

TEST_F(Gemma4ModelTest, RefusesWhatItCannotDo) {
  const Gemma4Config c = testing::small_config(6, 8);
  const std::string path = model("refuse.gguf", c, GgmlType::F32);
  Gemma4ModelOptions o;
  o.n_ctx = 40;
  o.n_batch = 8;
  auto m = Gemma4Model::load(path, o);
  std::vector<float> row(c.n_vocab);
  const int32_t bad = static_cast<int32_t>(c.n_vocab);
  EXPECT_THROW(m->forward({&bad, 1}, 0, row, false), std::invalid_argument);
  EXPECT_EQ(m->n_past(), 0);
  const int32_t ok = 1;
  EXPECT_THROW(m->forward({&ok, 1}, 3, row, false), std::invalid_argument);  // a gap after n_past
  std::vector<float> small(c.n_vocab - 1);
  EXPECT_THROW(m->forward({&ok, 1}, 0, small, false), std::invalid_argument);
  const auto tokens = random_tokens(40, c.n_vocab, 5);
  m->forward(tokens, 0, row, false);
  EXPECT_THROW(m->forward({&ok, 1}, 40, row, false), std::invalid_argument);  // context full
  // After 40 positions the sliding rings (8 + 8 cells) no longer hold what position 10 needs.
  EXPECT_FALSE(m->can_truncate(10));
  EXPECT_THROW(m->forward({&ok, 1}, 10, row, false), std::invalid_argument);
  EXPECT_EQ(m->n_past(), 40);
}

TEST_F(Gemma4ModelTest, LoadRejectsInconsistentFiles) {
  // KV-shared layers must read a layer of their own kind: with full layers every 3rd, the shared sliding
  // layer 4 would read layer 2, a full one.
  Gemma4Config shared = testing::small_config(6, 8);
  shared.shared_kv_layers = 2;
  const std::string shared_path = model("shared.gguf", shared, GgmlType::F32);
  const std::string msg = gguf::testing::error_of([&] { Gemma4Model::load(shared_path); });
  EXPECT_NE(msg.find("KV-shared layer 4 reads layer 2"), std::string::npos) << msg;

  // A file whose tensors do not have the shapes its metadata implies.
  Gemma4Config wrong = testing::small_config(6, 8);
  const std::string wrong_path = gguf::testing::temp_path("model_forward", "wrong.gguf");
  {
    Gemma4Config lying = wrong;
    lying.n_ff.assign(6, 96);  // tensors written 96 wide ...
    gguf::GgufWriter w;
    write_gemma4_metadata(w, wrong, FileType::ALL_F32, "wrong");  // ... metadata says 128
    const auto layout = gemma4_tensor_layout(lying);
    for (const auto& t : layout) w.add_tensor(t.name, t.shape, GgmlType::F32);
    w.begin_data(wrong_path);
    for (const auto& t : layout) w.write_tensor(std::vector<uint8_t>(t.n_elements() * 4, 0));
    w.finish();
  }
  const std::string shape_msg = gguf::testing::error_of([&] { Gemma4Model::load(wrong_path); });
  EXPECT_NE(shape_msg.find("blk.0.ffn_gate.weight"), std::string::npos) << shape_msg;
  EXPECT_NE(shape_msg.find("expected [64, 128], found [64, 96]"), std::string::npos) << shape_msg;
}

}  // namespace
}  // namespace locus::model
