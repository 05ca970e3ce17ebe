// The token loop allocates nothing: global operator new is replaced here to count allocations while armed.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <numeric>
#include <vector>

#include "runtime/generator.h"
#include "runtime/test_fakes.h"

namespace {

std::atomic<bool> g_armed{false};
std::atomic<long> g_allocations{0};

void* counted_alloc(std::size_t size, std::size_t align) {
  if (g_armed.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  void* p = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (size + align - 1) / align * align)
                                              : std::malloc(size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t size) { return counted_alloc(size, 0); }
void* operator new[](std::size_t size) { return counted_alloc(size, 0); }
void* operator new(std::size_t size, std::align_val_t a) { return counted_alloc(size, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t size, std::align_val_t a) { return counted_alloc(size, static_cast<std::size_t>(a)); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try { return counted_alloc(size, 0); } catch (...) { return nullptr; }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try { return counted_alloc(size, 0); } catch (...) { return nullptr; }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace locus::runtime {
namespace {

using testing::FakeModel;
using testing::FakeText;

// Arms the counter after a few tokens (so per-request setup is excluded) and disarms it when done.
class ArmingSink : public GenerateSink {
 public:
  explicit ArmingSink(int arm_after) : arm_after_(arm_after) {}
  void on_text(std::string_view text) override { bytes += text.size(); }
  void on_token(int32_t, const TokenLogprobs* lp) override {
    if (lp != nullptr) logprob_sum += lp->chosen.logprob;
    if (++tokens == arm_after_) g_armed.store(true);
  }
  void on_done(const GenerateResult&) override { g_armed.store(false); }
  int tokens = 0;
  size_t bytes = 0;
  double logprob_sum = 0;

 private:
  int arm_after_;
};

struct Case {
  const char* name;
  int32_t n_vocab;
  int32_t n_tokens;
  SamplingOptions options;
  int32_t top_logprobs;
};

void expect_no_allocations(const Case& c) {
  FakeModel model(c.n_vocab, 4096);
  FakeText text(c.n_vocab);
  text.set_eog(1);
  model.banned = {1};
  // Long and multi-byte pieces and a stop string that keeps matching partially without completing.
  text.set(7, "ST");
  text.set(8, "\xE4\xB8");
  text.set(9, "\x96 and a fairly long piece of text that is longer than the small-string buffer");
  const std::vector<int32_t> suppress = {2, 3};
  Generator g(model, text, suppress);
  std::vector<int32_t> prompt(300);
  std::iota(prompt.begin(), prompt.end(), 10);
  GenerateRequest req;
  req.prompt = prompt;
  req.options = c.options;
  req.options.num_predict = c.n_tokens;
  req.options.stop = {"STOP", "\n\nUser:", "<end_of_turn>"};
  req.top_logprobs = c.top_logprobs;
  req.logprobs = c.top_logprobs > 0;
  std::atomic<bool> cancel{false};
  req.cancel = &cancel;

  ArmingSink sink(8);
  g_allocations.store(0);
  const GenerateResult r = g.generate(req, sink);
  g_armed.store(false);
  ASSERT_EQ(r.reason, DoneReason::length) << c.name << ": " << r.error;
  ASSERT_EQ(r.eval_count, c.n_tokens) << c.name;
  EXPECT_EQ(g_allocations.load(), 0) << c.name << ": allocations during " << (c.n_tokens - 8) << " tokens";
}

TEST(NoAllocationsPerToken, OllamaDefaults) {
  SamplingOptions o;
  o.seed = 1;
  expect_no_allocations({"defaults", 262144, 40, o, 0});
}

TEST(NoAllocationsPerToken, EveryStageAndLogprobs) {
  SamplingOptions o;
  o.seed = 2;
  o.top_k = 100;
  o.typical_p = 0.9f;
  o.top_p = 0.95f;
  o.min_p = 0.01f;
  o.repeat_penalty = 1.2f;
  o.repeat_last_n = -1;
  o.presence_penalty = 0.5f;
  o.frequency_penalty = 0.3f;
  expect_no_allocations({"every stage", 262144, 40, o, 20});
}

TEST(NoAllocationsPerToken, NucleusOverTheWholeVocabulary) {
  SamplingOptions o;
  o.seed = 3;
  o.top_k = 0;  // top_p's lazy sort grows over the full vocabulary
  o.top_p = 0.99f;
  o.temperature = 1.5f;
  expect_no_allocations({"full nucleus", 262144, 20, o, 5});
}

TEST(NoAllocationsPerToken, Greedy) {
  SamplingOptions o;
  o.temperature = 0.0f;
  o.repeat_penalty = 1.3f;
  expect_no_allocations({"greedy", 32000, 100, o, 3});
}

TEST(NoAllocationsPerToken, CounterWorks) {
  g_allocations.store(0);
  g_armed.store(true);
  auto* p = new std::vector<int>(10);
  g_armed.store(false);
  delete p;
  EXPECT_GE(g_allocations.load(), 1);
}

}  // namespace
}  // namespace locus::runtime

#include "runtime/grammar_constraint.h"
#include "text/json_grammar.h"

namespace locus::runtime {
namespace {

// Structured output: mask computation, the mask cache (misses and hits) and the matcher allocate nothing per
// token either. A vocabulary of single bytes plus the end of generation, under a schema whose strings are
// bounded, so the generation runs through keys, strings, numbers and arrays.
TEST(NoAllocationsPerToken, StructuredOutput) {
  std::vector<std::pair<ConstraintVocab::Kind, std::string>> pieces;
  pieces.emplace_back(ConstraintVocab::kEog, "");
  for (int b = 1; b < 256; ++b) pieces.emplace_back(ConstraintVocab::kText, std::string(1, static_cast<char>(b)));
  for (const char* t : {"{\"", "\":", "\",", "name", "tags", "12", "abc"}) pieces.emplace_back(ConstraintVocab::kText, t);
  const int32_t n_vocab = static_cast<int32_t>(pieces.size());
  auto vocab = ConstraintVocab::from_pieces(pieces);
  const text::GrammarResult g = text::compile_json_schema(nlohmann::ordered_json::parse(
      R"({"type":"object","properties":{"name":{"type":"string","maxLength":400},"tags":{"type":"array",
          "items":{"type":"number"},"maxItems":50}},"required":["name","tags"]})"));
  ASSERT_TRUE(g.grammar) << g.error;
  GrammarConstraint constraint(vocab, {StructuredOutput::Kind::json, g.grammar});

  FakeModel model(n_vocab, 4096);
  FakeText text(n_vocab);
  for (int32_t id = 1; id < n_vocab; ++id) text.set(id, pieces[static_cast<size_t>(id)].second);
  text.set_eog(0);
  model.banned = {0};
  Generator gen(model, text);
  std::vector<int32_t> prompt(20);
  std::iota(prompt.begin(), prompt.end(), 40);
  GenerateRequest req;
  req.prompt = prompt;
  req.options.seed = 5;
  req.options.num_predict = 120;
  req.loop_guard_tokens = 0;
  req.constraint = &constraint;
  ArmingSink sink(8);
  g_allocations.store(0);
  const GenerateResult r = gen.generate(req, sink);
  g_armed.store(false);
  ASSERT_NE(r.reason, DoneReason::error) << r.error;
  EXPECT_GT(r.eval_count, 40);
  EXPECT_GT(constraint.cache_misses(), 8u);  // the mask was recomputed while armed, not only looked up
  EXPECT_EQ(g_allocations.load(), 0) << "allocations during " << (r.eval_count - 8) << " constrained tokens";
}

}  // namespace
}  // namespace locus::runtime
