// Gemma4Model::forward_embeddings: media embeddings into the decoder. Causal rows computed from token embeddings
// give exactly forward()'s logits; a bidirectional block (an image) lets its tokens see each other on the
// sliding-window layers only, is one block whatever n_batch, and is refused beyond max_block.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/gemma4_model.h"
#include "model/test_model.h"
#include "tensor/matmul.h"

namespace locus::model {
namespace {

using gguf::GgmlType;
using testing::random_tokens;

std::string model_file(const std::string& name, const Gemma4Config& c, GgmlType type = GgmlType::F32) {
  return testing::write_temp_model("model_media_forward", name, c, type);
}

Gemma4ModelOptions options(uint32_t n_batch, uint32_t max_block = 0) {
  Gemma4ModelOptions o = testing::model_options(512, n_batch);
  o.max_block = max_block;
  return o;
}

// The rows forward() would feed for these tokens: the embedding table's rows scaled by sqrt(n_embd) as a float.
std::vector<float> token_rows(const Gemma4Model& m, const std::vector<int32_t>& tokens) {
  const uint32_t E = m.n_embd();
  std::vector<float> rows(tokens.size() * E);
  const float scale = std::sqrt(static_cast<float>(E));
  for (size_t t = 0; t < tokens.size(); ++t) {
    tensor::get_row(m.weights().token_embd, tokens[t], rows.data() + t * E);
    for (uint32_t i = 0; i < E; ++i) rows[t * E + i] *= scale;
  }
  return rows;
}

std::vector<float> random_rows(size_t n, uint32_t E, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n * E);
  for (float& x : v) x = d(rng);
  return v;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::abs(a[i] - b[i])));
  return m;
}

// A prompt of text, then media rows, then text; all logits of the media rows and the last logits.
struct Pass {
  std::vector<float> media_logits;
  std::vector<float> last;
};
Pass run(Gemma4Model& m, const std::vector<int32_t>& before, const std::vector<float>& rows,
        const std::vector<int32_t>& after, bool bidirectional) {
  const size_t V = m.n_vocab(), n = rows.size() / m.n_embd();
  Pass r;
  r.media_logits.resize(n * V);
  r.last.resize(V);
  m.reset();
  m.forward(kDefaultSequence, before, 0, r.last, false);
  m.forward_embeddings(kDefaultSequence, rows, m.n_past(), r.media_logits, true, bidirectional);
  if (!after.empty()) m.forward(kDefaultSequence, after, m.n_past(), r.last, false);
  return r;
}

TEST(MediaForward, CausalRowsOfTokenEmbeddingsGiveForwardsLogitsExactly) {
  const Gemma4Config c = testing::small_config(6, 8);
  for (GgmlType type : {GgmlType::F32, GgmlType::Q8_0}) {
    const std::string path = model_file(std::string("causal_") + std::string(gguf::ggml_type_info(type).name), c, type);
    for (uint32_t n_batch : {7u, 64u}) {
      auto m = Gemma4Model::load(path, options(n_batch));
      for (uint64_t seed = 1; seed <= 6; ++seed) {
        const auto before = random_tokens(3 + seed * 5, c.n_vocab, seed);
        const auto media = random_tokens(1 + seed * 13, c.n_vocab, seed + 50);
        const auto after = random_tokens(4, c.n_vocab, seed + 90);
        const Pass a = run(*m, before, token_rows(*m, media), after, false);
        // The same tokens as ids.
        std::vector<float> ids_logits(media.size() * c.n_vocab), last(c.n_vocab);
        m->reset();
        m->forward(kDefaultSequence, before, 0, last, false);
        m->forward(kDefaultSequence, media, m->n_past(), ids_logits, true);
        m->forward(kDefaultSequence, after, m->n_past(), last, false);
        EXPECT_EQ(a.media_logits, ids_logits) << "type " << gguf::ggml_type_info(type).name << " n_batch " << n_batch
                                              << " seed " << seed;
        EXPECT_EQ(a.last, last);
      }
    }
  }
}

TEST(MediaForward, ABidirectionalBlockOfOneRowIsCausal) {
  const Gemma4Config c = testing::small_config(6, 8);
  auto m = Gemma4Model::load(model_file("one_row", c), options(16));
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    const auto before = random_tokens(5 + seed, c.n_vocab, seed);
    const auto rows = random_rows(1, c.n_embd, seed);
    const auto after = random_tokens(3, c.n_vocab, seed + 7);
    EXPECT_EQ(run(*m, before, rows, after, true).last, run(*m, before, rows, after, false).last) << seed;
  }
}

// Changing the block's last row changes what its first row gives when bidirectional (the first row saw it on the
// sliding layers), never when causal.
TEST(MediaForward, BlockRowsSeeLaterRowsOnlyWhenBidirectional) {
  const Gemma4Config c = testing::small_config(6, 8);
  auto m = Gemma4Model::load(model_file("later_rows", c), options(32));
  const size_t V = c.n_vocab;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    const size_t n = 3 + seed;  // within the window of 8: the first row's window reaches the last
    const auto before = random_tokens(4, c.n_vocab, seed);
    auto rows = random_rows(n, c.n_embd, seed);
    auto changed = rows;
    for (uint32_t i = 0; i < c.n_embd; ++i) changed[(n - 1) * c.n_embd + i] += 1.0f;
    for (bool bidi : {false, true}) {
      const Pass a = run(*m, before, rows, {}, bidi), b = run(*m, before, changed, {}, bidi);
      const std::vector<float> first_a(a.media_logits.begin(), a.media_logits.begin() + V);
      const std::vector<float> first_b(b.media_logits.begin(), b.media_logits.begin() + V);
      if (bidi) {
        EXPECT_GT(max_abs_diff(first_a, first_b), 1e-4) << "seed " << seed;
      } else {
        EXPECT_EQ(first_a, first_b) << "seed " << seed;
      }
    }
  }
}

// Only the sliding layers open up: with every layer full (no sliding layer), bidirectional equals causal.
TEST(MediaForward, FullLayersStayCausal) {
  Gemma4Config c = testing::small_config(4, 8);
  c.is_swa.assign(4, false);
  auto m = Gemma4Model::load(model_file("all_full", c), options(32));
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    const auto before = random_tokens(4, c.n_vocab, seed);
    const auto rows = random_rows(5 + seed, c.n_embd, seed);
    const Pass a = run(*m, before, rows, {3, 4}, true), b = run(*m, before, rows, {3, 4}, false);
    EXPECT_EQ(a.media_logits, b.media_logits) << seed;
    EXPECT_EQ(a.last, b.last) << seed;
  }
}

// A block longer than n_batch is still one block: a model with n_batch 8 (max_block 128) gives what one with
// n_batch 128 gives, for blocks longer than the window and than n_batch.
TEST(MediaForward, ABlockIsOneBlockWhateverNBatch) {
  const Gemma4Config c = testing::small_config(6, 8);
  const std::string path = model_file("n_batch", c);
  auto small = Gemma4Model::load(path, options(8, 128));
  auto big = Gemma4Model::load(path, options(128));
  EXPECT_EQ(small->max_block(), 128u);
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    const size_t n = 20 + seed * 17;  // 37..122 rows
    const auto before = random_tokens(5, c.n_vocab, seed);
    const auto rows = random_rows(n, c.n_embd, seed);
    const auto after = random_tokens(6, c.n_vocab, seed + 3);
    const Pass a = run(*small, before, rows, after, true), b = run(*big, before, rows, after, true);
    EXPECT_LT(max_abs_diff(a.media_logits, b.media_logits), 1e-4) << "seed " << seed << " rows " << n;
    EXPECT_LT(max_abs_diff(a.last, b.last), 1e-4) << "seed " << seed;
    // And it differs from the causal reading (so the test above can tell them apart).
    EXPECT_GT(max_abs_diff(a.media_logits, run(*big, before, rows, after, false).media_logits), 1e-3);
  }
}

TEST(MediaForward, RefusalsLeaveTheCacheUnchanged) {
  const Gemma4Config c = testing::small_config(6, 8);
  auto m = Gemma4Model::load(model_file("refusals", c), options(8, 16));
  std::vector<float> logits(size_t{64} * c.n_vocab);
  m->forward(kDefaultSequence, std::vector<int32_t>{1, 2, 3}, 0, logits, false);
  const auto rows = random_rows(17, c.n_embd, 1);
  EXPECT_THROW(m->forward_embeddings(kDefaultSequence, rows, 3, logits, false, true), std::invalid_argument);
  EXPECT_THROW(m->forward_embeddings(kDefaultSequence, std::span<const float>(rows.data(), c.n_embd + 1), 3, logits,
                                     false, false),
               std::invalid_argument);
  EXPECT_THROW(m->forward_embeddings(kDefaultSequence, {}, 3, logits, false, false), std::invalid_argument);
  EXPECT_THROW(m->forward_embeddings(kDefaultSequence, rows, 4, logits, false, false), std::invalid_argument);
  EXPECT_THROW(m->forward_embeddings(kDefaultSequence, rows, 3, std::span<float>(logits.data(), 10), false, false),
               std::invalid_argument);
  EXPECT_EQ(m->n_past(), 3);
  // Causal rows longer than max_block are fine (steps of n_batch).
  EXPECT_NO_THROW(m->forward_embeddings(kDefaultSequence, rows, 3, logits, false, false));
  EXPECT_EQ(m->n_past(), 20);

  auto ple = Gemma4Model::load(model_file("ple", testing::small_config_ple_shared_kv()), options(8));
  std::vector<float> out(c.n_vocab);
  EXPECT_THROW(ple->forward_embeddings(kDefaultSequence, random_rows(2, ple->n_embd(), 2), 0, out, false, false),
               std::invalid_argument);
}

}  // namespace
}  // namespace locus::model
