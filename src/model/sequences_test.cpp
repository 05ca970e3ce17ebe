// Several sequences in one model: forward_batch against decoding each sequence alone, sequences added and
// removed on the way, and what forward_batch refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "gguf/test_helpers.h"
#include "model/gemma4_model.h"
#include "model/test_model.h"

#include "tensor/counting_new.h"

namespace locus::model {
namespace {

using gguf::GgmlType;

using testing::random_tokens;

std::string write_model(const std::string& name, const Gemma4Config& c, GgmlType type) {
  return testing::write_temp_model("model_sequences", name, c, type);
}

Gemma4ModelOptions options(uint32_t n_ctx, uint32_t n_batch) { return testing::model_options(n_ctx, n_batch); }

// One sequence's work: a prompt, then tokens fed one at a time (fixed, not sampled, so that a rounding
// difference cannot change what follows).
struct Script {
  std::vector<int32_t> prompt;
  std::vector<int32_t> next;
};

// The logits rows of `s.next` when the sequence runs alone in a fresh model, token by token.
std::vector<float> alone(const std::string& path, const Gemma4ModelOptions& o, const Script& s) {
  auto m = Gemma4Model::load(path, o);
  const size_t V = m->n_vocab();
  std::vector<float> rows(s.next.size() * V), last(V);
  m->forward(s.prompt, 0, last, false);
  for (size_t i = 0; i < s.next.size(); ++i) {
    m->forward({&s.next[i], 1}, m->n_past(), {rows.data() + i * V, V}, false);
  }
  return rows;
}

// Largest |a - b| over a row relative to the row's range in b.
double relative_diff(const float* a, const float* b, size_t V) {
  const auto [mn, mx] = std::minmax_element(b, b + V);
  double d = 0;
  for (size_t i = 0; i < V; ++i) d = std::max(d, std::abs(double(a[i]) - double(b[i])));
  return d / (double(*mx) - double(*mn));
}

// How close a batched row comes to the sequence decoded alone. The per-token work (norms, RoPE, attention,
// KV writes) is the same arithmetic either way; only the matrix products see B tokens instead of one.
//  - kSameProducts: B under the weight type's GEMM threshold (GemmKernels::min_tokens, e.g. 4 for Q8_0 on
//    AVX-512; F32 and F16 have no GEMM kernel). The gemv kernel computes each of its up to 4 tokens exactly
//    as it computes one, so rows come out equal (measured: 0). The bound leaves room for a SIMD level that
//    sums a token group differently.
//  - kGemmProducts: from the threshold on, the GEMM kernel sums each output in another order (1e-5 of
//    sum |w x|, tensor/matmul_test.cpp). The q8_0 re-quantization of every matmul input and the f16 K/V
//    cache turn such last-bit differences into whole rounding steps now and then, and these small random
//    networks carry them on: measured up to 1.4e-2 of a row's range on Q8_0, the same size as the
//    single-sequence path shows between n_batch 1 and 4 (8.8e-3 on the same kind of model), and within the
//    Q8_0 bound of gemma4_model_test against the exact reference.
// A wrong position, cache or mask for one item changes its rows by far more than kSameProducts.
constexpr double kSameProducts = 1e-6;
constexpr double kGemmProducts = 3e-2;

// Decodes the scripts in lockstep (all prompts first, each with forward() on its own sequence, then one
// forward_batch per step over the sequences that still have tokens) and compares every row with the
// sequence decoded alone. Returns the worst relative difference.
double lockstep_vs_alone(const std::string& path, const Gemma4ModelOptions& o, const std::vector<Script>& scripts,
                         double bound) {
  auto m = Gemma4Model::load(path, o);
  const size_t V = m->n_vocab();
  std::vector<SequenceId> ids;
  std::vector<float> last(V);
  for (size_t i = 0; i < scripts.size(); ++i) {
    ids.push_back(i == 0 ? kDefaultSequence : m->add_sequence());
    m->forward(ids.back(), scripts[i].prompt, 0, last, false);
  }
  std::vector<std::vector<float>> got(scripts.size());
  for (size_t i = 0; i < scripts.size(); ++i) got[i].resize(scripts[i].next.size() * V);
  std::vector<float> out(scripts.size() * V);
  for (size_t step = 0;; ++step) {
    std::vector<BatchItem> items;
    std::vector<size_t> who;
    for (size_t i = 0; i < scripts.size(); ++i) {
      if (step >= scripts[i].next.size()) continue;
      items.push_back({ids[i], scripts[i].next[step], m->n_past(ids[i])});
      who.push_back(i);
    }
    if (items.empty()) break;
    m->forward_batch(items, out);
    for (size_t k = 0; k < who.size(); ++k) {
      std::copy(out.begin() + k * V, out.begin() + (k + 1) * V, got[who[k]].begin() + step * V);
    }
  }
  double worst = 0;
  for (size_t i = 0; i < scripts.size(); ++i) {
    EXPECT_EQ(m->n_past(ids[i]), static_cast<int32_t>(scripts[i].prompt.size() + scripts[i].next.size()));
    const auto ref = alone(path, o, scripts[i]);
    for (size_t r = 0; r < scripts[i].next.size(); ++r) {
      const double d = relative_diff(got[i].data() + r * V, ref.data() + r * V, V);
      EXPECT_LE(d, bound) << "sequence " << i << " step " << r;
      worst = std::max(worst, d);
    }
  }
  return worst;
}

std::vector<Script> scripts(const std::vector<std::pair<size_t, size_t>>& lengths, uint32_t n_vocab, uint64_t seed) {
  std::vector<Script> s;
  for (const auto& [p, n] : lengths) {
    s.push_back({random_tokens(p, n_vocab, seed), random_tokens(n, n_vocab, seed + 1000)});
    ++seed;
  }
  return s;
}

TEST(Gemma4SequencesTest, LockstepBatchEqualsDecodingEachSequenceAlone) {
  // Sequences at different positions: prompts of 1 to 37 tokens, then 30 tokens each, so that every
  // sequence crosses the window of 8 and its ring (8 + n_batch cells) wraps while the others are elsewhere.
  // Q8_0 with 3 sequences stays on the gemv kernel, with 4 it takes the GEMM one (where the CPU has it).
  const Gemma4Config c = testing::small_config(6, 8);
  const auto four = scripts({{1, 30}, {11, 30}, {20, 30}, {37, 30}}, c.n_vocab, 10);
  const std::vector<Script> three(four.begin(), four.begin() + 3);
  for (const auto& [type, ss, bound] : {std::tuple{GgmlType::F32, &four, kSameProducts},
                                        std::tuple{GgmlType::F16, &four, kSameProducts},
                                        std::tuple{GgmlType::Q8_0, &three, kSameProducts},
                                        std::tuple{GgmlType::Q8_0, &four, kGemmProducts}}) {
    const std::string name(gguf::ggml_type_info(type).name);
    const std::string path = write_model("lockstep-" + name + ".gguf", c, type);
    const double worst = lockstep_vs_alone(path, options(128, 8), *ss, bound);
    std::printf("[ measured ] %s, %zu sequences: worst row difference %.3g of the row's range\n", name.c_str(),
                ss->size(), worst);
  }
}

TEST(Gemma4SequencesTest, PerLayerEmbeddingsSharedKvAndExpertsBatchToo) {
  for (const auto& [name, c, type] : {std::tuple{"ple", testing::small_config_ple_shared_kv(), GgmlType::Q8_0},
                                      std::tuple{"moe", testing::small_config_moe(), GgmlType::F16}}) {
    const std::string path = write_model(std::string("features-") + name + ".gguf", c, type);
    const double worst =
        lockstep_vs_alone(path, options(96, 8), scripts({{5, 20}, {14, 20}, {2, 20}}, c.n_vocab, 20), kSameProducts);
    std::printf("[ measured ] %s: worst row difference %.3g of the row's range\n", name, worst);
  }
}

TEST(Gemma4SequencesTest, MoreItemsThanNBatchRunInSteps) {
  // n_batch 2: five sequences go through in steps of 2, 2 and 1; uneven script lengths drop out on the way.
  const Gemma4Config c = testing::small_config(6, 8);
  const std::string path = write_model("steps.gguf", c, GgmlType::Q8_0);
  const double worst =
      lockstep_vs_alone(path, options(64, 2), scripts({{3, 12}, {9, 4}, {1, 12}, {17, 8}, {6, 12}}, c.n_vocab, 30),
                        kSameProducts);
  std::printf("[ measured ] n_batch 2: worst row difference %.3g of the row's range\n", worst);
}

// A prompt evaluated in chunks inside other sequences' decode steps (as the scheduler does while streams
// generate): its tokens first, several of one sequence in one call, only its last token giving logits. Every
// decode row and the prompt's last row match each sequence run alone; so does the prompt's sequence decoding on
// afterwards (its cache holds what a plain forward() writes, to rounding).
TEST(Gemma4SequencesTest, PromptChunksRideAlongWithDecodeSteps) {
  const Gemma4Config c = testing::small_config(6, 8);
  for (const auto& [type, bound] : {std::pair{GgmlType::F32, kSameProducts}, std::pair{GgmlType::Q8_0, kGemmProducts}}) {
    const std::string name(gguf::ggml_type_info(type).name);
    const std::string path = write_model("mixed-" + name + ".gguf", c, type);
    const Gemma4ModelOptions o = options(128, 16);
    // b and c decode 12 tokens each while a's prompt of 29 tokens goes in chunks of 5 (the last of 4), then a
    // decodes 6 tokens beside them.
    const auto sc = scripts({{29, 6}, {7, 12}, {15, 12}}, c.n_vocab, 40);
    auto m = Gemma4Model::load(path, o);
    const size_t V = m->n_vocab();
    const SequenceId a = kDefaultSequence, b = m->add_sequence(), cc = m->add_sequence();
    std::vector<float> last(V);
    m->forward(b, sc[1].prompt, 0, last, false);
    m->forward(cc, sc[2].prompt, 0, last, false);
    std::vector<float> out(3 * V), a_prompt_last(V), a_rows, b_rows, c_rows;
    size_t a_pos = 0, step = 0;
    while (step < 12) {
      std::vector<BatchItem> items;
      const size_t n = std::min<size_t>(5, sc[0].prompt.size() - a_pos);
      for (size_t i = 0; i < n; ++i) items.push_back({a, sc[0].prompt[a_pos + i], static_cast<int32_t>(a_pos + i)});
      const bool ends = n > 0 && a_pos + n == sc[0].prompt.size();
      const bool a_decodes = n == 0 && step >= 6;  // a's prompt done: its 6 tokens from step 6 on
      if (a_decodes) items.push_back({a, sc[0].next[step - 6], m->n_past(a)});
      items.push_back({b, sc[1].next[step], m->n_past(b)});
      items.push_back({cc, sc[2].next[step], m->n_past(cc)});
      const size_t first = n - (ends ? 1 : 0);
      m->forward_batch(items, {out.data(), (items.size() - first) * V}, first);
      size_t r = 0;
      if (ends) std::copy(out.begin(), out.begin() + V, a_prompt_last.begin()), ++r;
      if (a_decodes) a_rows.insert(a_rows.end(), out.begin() + r * V, out.begin() + (r + 1) * V), ++r;
      b_rows.insert(b_rows.end(), out.begin() + r * V, out.begin() + (r + 1) * V), ++r;
      c_rows.insert(c_rows.end(), out.begin() + r * V, out.begin() + (r + 1) * V);
      a_pos += n;
      ++step;
    }
    EXPECT_EQ(m->n_past(a), static_cast<int32_t>(sc[0].prompt.size() + 6));
    // References: each sequence alone.
    auto ref_model = Gemma4Model::load(path, o);
    std::vector<float> ref_last(V);
    ref_model->forward(sc[0].prompt, 0, ref_last, false);
    double worst = relative_diff(a_prompt_last.data(), ref_last.data(), V);
    EXPECT_LE(worst, bound) << name << ": the prompt's last row";
    const auto check = [&](const std::vector<float>& got, const Script& s, size_t rows, const char* who) {
      const auto ref = alone(path, o, s);
      for (size_t r = 0; r < rows; ++r) {
        const double d = relative_diff(got.data() + r * V, ref.data() + r * V, V);
        EXPECT_LE(d, bound) << name << " " << who << " step " << r;
        worst = std::max(worst, d);
      }
    };
    check(a_rows, sc[0], 6, "a");
    check(b_rows, sc[1], 12, "b");
    check(c_rows, sc[2], 12, "c");
    std::printf("[ measured ] %s, prompt chunks with decode steps: worst row difference %.3g of the row's range\n",
                name.c_str(), worst);
  }
}

TEST(Gemma4SequencesTest, SequencesComeAndGoAndRemovedIdsAreReused) {
  const Gemma4Config c = testing::small_config(6, 8);
  const std::string path = write_model("come-and-go.gguf", c, GgmlType::Q8_0);
  const Gemma4ModelOptions o = options(96, 8);
  auto m = Gemma4Model::load(path, o);
  const size_t V = m->n_vocab();
  const uint64_t per_sequence = m->sequence_kv_bytes();
  EXPECT_EQ(m->kv_cache_bytes(), per_sequence);
  EXPECT_EQ(m->n_sequences(), 1u);

  // Three sequences decode together; after 10 steps sequence 1 leaves and a new one takes its id, starts
  // from its own prompt and joins the others (listed in another order).
  const auto s = scripts({{4, 40}, {9, 10}, {13, 40}, {7, 24}}, c.n_vocab, 40);
  const SequenceId a = kDefaultSequence, b = m->add_sequence(), d = m->add_sequence();
  ASSERT_EQ(b, 1);
  ASSERT_EQ(d, 2);
  EXPECT_EQ(m->kv_cache_bytes(), 3 * per_sequence);
  std::vector<float> last(V), out(3 * V);
  m->forward(a, s[0].prompt, 0, last, false);
  m->forward(b, s[1].prompt, 0, last, false);
  m->forward(d, s[2].prompt, 0, last, false);
  std::vector<float> got_a(40 * V), got_b(10 * V), got_d(40 * V), got_e(24 * V);
  for (size_t i = 0; i < 10; ++i) {
    const BatchItem items[] = {{d, s[2].next[i], m->n_past(d)}, {a, s[0].next[i], m->n_past(a)},
                               {b, s[1].next[i], m->n_past(b)}};
    m->forward_batch(items, out);
    std::copy_n(out.begin(), V, got_d.begin() + i * V);
    std::copy_n(out.begin() + V, V, got_a.begin() + i * V);
    std::copy_n(out.begin() + 2 * V, V, got_b.begin() + i * V);
  }
  m->remove_sequence(b);
  EXPECT_FALSE(m->has_sequence(b));
  EXPECT_EQ(m->n_sequences(), 2u);
  EXPECT_EQ(m->kv_cache_bytes(), 2 * per_sequence);
  const SequenceId e = m->add_sequence();
  EXPECT_EQ(e, b);                       // the free id again ...
  EXPECT_EQ(m->n_past(e), 0);            // ... with an empty cache
  m->forward(e, s[3].prompt, 0, last, false);
  for (size_t i = 10; i < 40; ++i) {
    std::vector<BatchItem> items = {{a, s[0].next[i], m->n_past(a)}, {d, s[2].next[i], m->n_past(d)}};
    if (i - 10 < 24) items.insert(items.begin(), {e, s[3].next[i - 10], m->n_past(e)});
    m->forward_batch(items, out);
    const size_t k = items.size() == 3 ? 1 : 0;
    if (k == 1) std::copy_n(out.begin(), V, got_e.begin() + (i - 10) * V);
    std::copy_n(out.begin() + k * V, V, got_a.begin() + i * V);
    std::copy_n(out.begin() + (k + 1) * V, V, got_d.begin() + i * V);
  }
  // Removing the last id and adding again also gives the lowest free one.
  m->remove_sequence(e);
  EXPECT_EQ(m->add_sequence(), e);

  double worst = 0;
  for (const auto& [got, script] : {std::pair{&got_a, &s[0]}, std::pair{&got_b, &s[1]}, std::pair{&got_d, &s[2]},
                                    std::pair{&got_e, &s[3]}}) {
    const auto ref = alone(path, o, *script);
    for (size_t r = 0; r < script->next.size(); ++r) {
      const double diff = relative_diff(got->data() + r * V, ref.data() + r * V, V);
      EXPECT_LE(diff, kSameProducts) << "row " << r;  // 3 sequences of Q8_0: the gemv kernel
      worst = std::max(worst, diff);
    }
  }
  std::printf("[ measured ] come and go: worst row difference %.3g of the row's range\n", worst);
}

TEST(Gemma4SequencesTest, SequenceCallsKeepToTheirOwnCache) {
  // forward() on one sequence leaves the others alone, and the calls without a sequence are sequence 0's.
  const Gemma4Config c = testing::small_config(6, 8);
  const std::string path = write_model("own-cache.gguf", c, GgmlType::F32);
  auto m = Gemma4Model::load(path, options(64, 8));
  const size_t V = m->n_vocab();
  const SequenceId b = m->add_sequence(20);
  EXPECT_EQ(m->n_ctx(b), 20u);
  EXPECT_EQ(m->n_ctx(kDefaultSequence), 64u);
  EXPECT_EQ(m->kv_cache_bytes(b), m->sequence_kv_bytes(20));
  const auto p = random_tokens(12, c.n_vocab, 50);
  std::vector<float> x(V), y(V);
  m->forward(p, 0, x, false);
  EXPECT_EQ(m->n_past(), 12);
  EXPECT_EQ(m->n_past(b), 0);
  m->forward(b, p, 0, y, false);
  EXPECT_EQ(x, y);  // the same computation on another cache
  m->reset();
  EXPECT_EQ(m->n_past(b), 12);
  ASSERT_TRUE(m->can_truncate(b, 10));
  m->truncate(b, 10);
  EXPECT_EQ(m->n_past(b), 10);
  m->reset(b);
  EXPECT_EQ(m->n_past(b), 0);
}

TEST(Gemma4SequencesTest, ForwardBatchRefusesBadItemsAndLeavesEveryCacheUnchanged) {
  const Gemma4Config c = testing::small_config(6, 8);
  const std::string path = write_model("refuse.gguf", c, GgmlType::F32);
  auto m = Gemma4Model::load(path, options(64, 8));
  const size_t V = m->n_vocab();
  const SequenceId b = m->add_sequence(6);  // a short context, filled below
  const SequenceId gone = m->add_sequence();
  const SequenceId d = m->add_sequence();
  m->remove_sequence(gone);
  std::vector<float> row(V), out(3 * V);
  m->forward(random_tokens(5, c.n_vocab, 60), 0, row, false);
  m->forward(b, random_tokens(6, c.n_vocab, 61), 0, row, false);

  auto refused = [&](std::vector<BatchItem> items, const std::string& expected, size_t out_floats = 0) {
    std::vector<float> o(out_floats == 0 ? items.size() * V : out_floats);
    std::string msg = "(no error)";
    try {
      m->forward_batch(items, o);
    } catch (const std::invalid_argument& e) {
      msg = e.what();
    }
    EXPECT_NE(msg.find(expected), std::string::npos) << msg;
    EXPECT_EQ(m->n_past(kDefaultSequence), 5);
    EXPECT_EQ(m->n_past(b), 6);
    EXPECT_EQ(m->n_past(d), 0);
  };
  refused({{d, 1, 0}, {7, 1, 0}}, "item 1 (sequence 7): no such sequence");
  refused({{-1, 1, 0}}, "no such sequence");
  refused({{gone, 1, 0}}, "no such sequence");
  refused({{0, 1, 4}}, "position 4, expected 5 (its n_past)");   // behind n_past
  refused({{d, 1, 0}, {0, 1, 6}}, "position 6, expected 5 (its n_past)");  // ahead of it
  refused({{0, 1, 5}, {b, 1, 6}}, "context of 6 positions is full");
  refused({{0, 1, 5}, {d, 1, 0}, {0, 2, 5}}, "item 2 (sequence 0): position 5, expected 6 (the previous item's + 1)");
  refused({{0, 1, 5}, {0, 2, 7}}, "item 1 (sequence 0): position 7, expected 6");  // a gap
  refused({{d, static_cast<int32_t>(c.n_vocab), 0}}, "token 300 outside [0, 300)");
  refused({{d, 1, 0}, {0, 1, 5}}, "logits_out holds", V);
  {
    std::vector<float> o(V);
    EXPECT_THROW(m->forward_batch(std::vector<BatchItem>{{d, 1, 0}}, o, 2), std::invalid_argument);  // first row past the end
    EXPECT_EQ(m->n_past(d), 0);
  }
  EXPECT_THROW(m->remove_sequence(kDefaultSequence), std::invalid_argument);
  EXPECT_THROW(m->remove_sequence(gone), std::invalid_argument);
  EXPECT_THROW(m->n_past(gone), std::invalid_argument);
  EXPECT_THROW(m->forward(gone, std::vector<int32_t>{1}, 0, row, false), std::invalid_argument);

  // Nothing was written: the same batch after the refusals gives what it gives on a fresh pair.
  const BatchItem ok[] = {{0, 3, 5}, {d, 4, 0}};
  m->forward_batch(ok, out);
  EXPECT_EQ(m->n_past(kDefaultSequence), 6);
  EXPECT_EQ(m->n_past(d), 1);
  auto fresh = Gemma4Model::load(path, options(64, 8));
  std::vector<float> ref(2 * V);
  fresh->forward(random_tokens(5, c.n_vocab, 60), 0, row, false);
  const SequenceId fd = fresh->add_sequence();
  const BatchItem ok2[] = {{0, 3, 5}, {fd, 4, 0}};
  fresh->forward_batch(ok2, ref);
  EXPECT_TRUE(std::equal(ref.begin(), ref.end(), out.begin()));
  // An empty batch is no work.
  m->forward_batch({}, {});
  EXPECT_EQ(m->n_past(d), 1);
}

TEST(Gemma4SequencesTest, WarmBatchStepsAllocateNothing) {
  // The server's decode loop: after a first step has grown the matmul scratch, steps of 1 to 4 sequences
  // (MoE included, whose expert gathers vary per step) allocate nothing.
  const Gemma4Config c = testing::small_config_moe();
  const std::string path = write_model("alloc.gguf", c, GgmlType::Q8_0);
  auto m = Gemma4Model::load(path, options(64, 8));
  const size_t V = m->n_vocab();
  std::vector<SequenceId> ids = {kDefaultSequence, m->add_sequence(), m->add_sequence(), m->add_sequence()};
  std::vector<float> out(4 * V);
  std::vector<BatchItem> items(4);
  for (size_t i = 0; i < 4; ++i) items[i] = {ids[i], static_cast<int32_t>(7 * i + 1), 0};
  auto decode = [&](size_t b) {
    m->forward_batch({items.data(), b}, {out.data(), b * V});
    for (size_t i = 0; i < b; ++i) {
      items[i].token = static_cast<int32_t>(std::max_element(out.begin() + i * V, out.begin() + (i + 1) * V) -
                                            (out.begin() + i * V));
      items[i].pos = m->n_past(ids[i]);
    }
  };
  for (size_t b = 1; b <= 4; ++b) decode(b);  // warm-up
  const long before = allocations_so_far();
  for (size_t step = 0; step < 8; ++step) decode(4 - step % 4);
  EXPECT_EQ(allocations_so_far() - before, 0);
}

}  // namespace
}  // namespace locus::model
