// The continuous-batching scheduler on a real (tiny, random, F16) Gemma 4 model: requests run together give the
// tokens each gives alone, the prompt cache evaluates only what is new, the queue is bounded, cancellation frees
// the slot at once, structured output holds in a batch, and shutdown ends every request.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/gemma4_engine.h"
#include "runtime/scheduler.h"
#include "text/json_grammar.h"

namespace locus::runtime {
namespace {

namespace fs = std::filesystem;

// One tiny model for the whole file, written by locus-mkmodel (F16: batched and single decoding then agree
// exactly, see model/sequences_test.cpp).
const std::string& model_path() {
  static const std::string path = [] {
    const fs::path dir = fs::temp_directory_path() / ("locus_sched_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string out = (dir / "m.gguf").string();
    const std::string cmd = std::string(LOCUS_MKMODEL) + " --preset tiny --type F16 --layers 2 -q -o " + out;
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("mkmodel failed: " + cmd);
    return out;
  }();
  return path;
}

std::unique_ptr<Gemma4Engine> load(uint32_t n_ctx = 512) {
  EngineOptions o;
  o.n_ctx = n_ctx;
  o.n_threads = 2;
  o.mmap = true;
  return Gemma4Engine::load(model_path(), o);
}

class Recorder : public GenerateSink {
 public:
  void on_text(std::string_view t) override { text.append(t); }
  void on_token(int32_t token, const TokenLogprobs*) override { tokens.push_back(token); }
  void on_done(const GenerateResult& r) override {
    result = r;
    ++done_calls;
    done.set_value();
  }
  GenerateResult wait() {
    EXPECT_EQ(future.wait_for(std::chrono::seconds(120)), std::future_status::ready);
    return result;
  }
  std::string text;
  std::vector<int32_t> tokens;
  GenerateResult result;
  int done_calls = 0;
  std::promise<void> done;
  std::future<void> future = done.get_future();
};

std::vector<int32_t> prompt_of(Gemma4Engine& e, const std::string& text) {
  return e.tokenizer().encode(text, true, false);
}

std::shared_ptr<Job> greedy_job(std::vector<int32_t> prompt, int32_t n, std::shared_ptr<Recorder> sink) {
  auto job = std::make_shared<Job>();
  job->prompt = std::move(prompt);
  job->options.temperature = 0.0f;
  job->options.num_predict = n;
  job->loop_guard_tokens = 0;
  job->sink = std::move(sink);
  return job;
}

TEST(Scheduler, BatchedRequestsGiveTheTokensEachGivesAlone) {
  auto engine = load();
  const std::vector<std::string> texts = {"Hello there", "A longer prompt about the weather in Paris today",
                                          "x", "Numbers: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15"};
  std::vector<std::vector<int32_t>> alone;
  {
    Generator gen(*engine, *engine, engine->suppress_tokens());
    for (const auto& t : texts) {
      Recorder r;
      GenerateRequest req;
      const auto p = prompt_of(*engine, t);
      req.prompt = p;
      req.options.temperature = 0.0f;
      req.options.num_predict = 24;
      req.loop_guard_tokens = 0;
      gen.generate(req, r);
      alone.push_back(r.tokens);
    }
  }
  // Prompts alone in chunks of 5, and in chunks of 3 inside the decode steps of the requests already generating.
  Scheduler s(*engine, {.n_slots = 4, .max_queue = 8, .slot_ctx = 512, .prompt_chunk = 5, .mixed_prompt_chunk = 3});
  std::vector<std::shared_ptr<Recorder>> sinks;
  for (const auto& t : texts) {
    sinks.push_back(std::make_shared<Recorder>());
    ASSERT_EQ(s.submit(greedy_job(prompt_of(*engine, t), 24, sinks.back())), Scheduler::Submit::accepted);
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    const GenerateResult r = sinks[i]->wait();
    EXPECT_EQ(r.reason, DoneReason::length) << r.error;
    EXPECT_EQ(sinks[i]->tokens, alone[i]) << "request " << i;
    EXPECT_EQ(sinks[i]->done_calls, 1);
  }
}

TEST(Scheduler, PromptCacheEvaluatesOnlyWhatIsNew) {
  auto engine = load();
  Scheduler s(*engine, {.n_slots = 2, .max_queue = 4, .slot_ctx = 512});
  const auto first = prompt_of(*engine, "The first turn of a conversation that goes on");
  auto a = std::make_shared<Recorder>();
  s.submit(greedy_job(first, 8, a));
  const GenerateResult ra = a->wait();
  EXPECT_EQ(ra.prompt_cached_tokens, 0);
  EXPECT_EQ(ra.prompt_eval_count, static_cast<int32_t>(first.size()));
  // The conversation continues: the earlier prompt and answer, then more.
  std::vector<int32_t> second = first;
  second.insert(second.end(), a->tokens.begin(), a->tokens.end());
  const auto more = prompt_of(*engine, " and then some more");
  second.insert(second.end(), more.begin() + 1, more.end());  // without its BOS
  auto b = std::make_shared<Recorder>();
  s.submit(greedy_job(second, 8, b));
  const GenerateResult rb = b->wait();
  // Everything evaluated before is reused: the prompt and all generated tokens but the last (never evaluated).
  EXPECT_EQ(rb.prompt_cached_tokens, static_cast<int32_t>(first.size() + a->tokens.size() - 1));
  EXPECT_EQ(rb.prompt_eval_count, static_cast<int32_t>(second.size()) - rb.prompt_cached_tokens);
  // And the answer is the one a fresh evaluation of the whole prompt gives (another engine, no cache).
  auto fresh = load();
  Generator gen(*fresh, *fresh, fresh->suppress_tokens());
  Recorder r;
  GenerateRequest req;
  req.prompt = second;
  req.options.temperature = 0.0f;
  req.options.num_predict = 8;
  req.loop_guard_tokens = 0;
  gen.generate(req, r);
  EXPECT_EQ(b->tokens, r.tokens);
  EXPECT_EQ(s.stats().active, 0);
}

TEST(Scheduler, CountersAddUpTheWork) {
  auto engine = load();
  SchedulerCounters c;
  const auto pa = prompt_of(*engine, "Counting the work of two requests");
  const auto pb = prompt_of(*engine, "and a second one");
  {
    Scheduler s(*engine, {.n_slots = 2, .max_queue = 4, .slot_ctx = 512, .counters = &c});
    auto a = std::make_shared<Recorder>(), b = std::make_shared<Recorder>();
    s.submit(greedy_job(pa, 10, a));
    s.submit(greedy_job(pb, 7, b));
    ASSERT_EQ(a->wait().reason, DoneReason::length);
    ASSERT_EQ(b->wait().reason, DoneReason::length);
    ASSERT_EQ(a->tokens.size(), 10u);
    ASSERT_EQ(b->tokens.size(), 7u);
  }
  // The first token of each answer comes from its prompt's logits; each later one from a decode step that
  // evaluated the token before it. The last token is never evaluated.
  EXPECT_EQ(c.decode_tokens.load(), 9u + 6u);
  EXPECT_EQ(c.prompt_tokens.load(), pa.size() + pb.size());
  EXPECT_GT(c.model_decode_ns.load(), 0u);
  EXPECT_GT(c.model_prompt_ns.load(), 0u);
  EXPECT_GT(c.token_ns.load(), 0u);
  EXPECT_GE(c.rounds.load(), 9u);  // at least one round per decode step of the longer request
  EXPECT_GE(c.round_ns.load(), c.model_decode_ns.load() + c.model_prompt_ns.load() + c.token_ns.load());
}

TEST(Scheduler, TheQueueIsBounded) {
  auto engine = load();
  Scheduler s(*engine, {.n_slots = 1, .max_queue = 1, .slot_ctx = 512});
  const auto p = prompt_of(*engine, "Hi");
  std::vector<std::shared_ptr<Recorder>> sinks;
  int refused = 0;
  for (int i = 0; i < 4; ++i) {
    sinks.push_back(std::make_shared<Recorder>());
    if (s.submit(greedy_job(p, 200, sinks.back())) == Scheduler::Submit::queue_full) ++refused;
  }
  // One generating (or about to) and one waiting; the rest refused. (Two may be accepted before the first is
  // admitted, since a free slot counts as room.)
  EXPECT_GE(refused, 1);
  EXPECT_LE(refused, 2);
}

TEST(Scheduler, CancellingFreesTheSlotAtOnce) {
  auto engine = load();
  Scheduler s(*engine, {.n_slots = 1, .max_queue = 4, .slot_ctx = 512});
  auto long_sink = std::make_shared<Recorder>();
  auto job = greedy_job(prompt_of(*engine, "Tell me a long story"), 100000, long_sink);
  job->options.num_predict = -1;
  job->cancel = std::make_shared<std::atomic<bool>>(false);
  s.submit(job);
  auto next = std::make_shared<Recorder>();
  s.submit(greedy_job(prompt_of(*engine, "Next"), 4, next));
  while (long_sink->tokens.size() < 5) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  job->cancel->store(true);
  EXPECT_EQ(long_sink->wait().reason, DoneReason::cancelled);
  const GenerateResult r = next->wait();
  EXPECT_EQ(r.reason, DoneReason::length) << r.error;
  EXPECT_EQ(next->tokens.size(), 4u);
}

TEST(Scheduler, StructuredOutputInABatch) {
  auto engine = load();
  Scheduler s(*engine, {.n_slots = 3, .max_queue = 4, .slot_ctx = 512});
  const text::GrammarResult g = text::compile_json_schema(nlohmann::ordered_json::parse(
      R"({"type":"object","properties":{"n":{"type":"integer","minimum":0,"maximum":99},"s":{"type":"string",
          "maxLength":6}},"required":["n","s"]})"));
  ASSERT_TRUE(g.grammar) << g.error;
  std::vector<std::shared_ptr<Recorder>> sinks;
  for (int i = 0; i < 3; ++i) {
    sinks.push_back(std::make_shared<Recorder>());
    auto job = greedy_job(prompt_of(*engine, "JSON please " + std::to_string(i)), 200, sinks.back());
    job->options.temperature = 1.0f;
    job->options.seed = i;
    job->structured = StructuredOutput{StructuredOutput::Kind::json, g.grammar, false, /*allow_thinking=*/false};
    s.submit(job);
  }
  for (auto& sink : sinks) {
    const GenerateResult r = sink->wait();
    ASSERT_EQ(r.reason, DoneReason::stop) << r.error << " " << sink->text;
    const auto j = nlohmann::json::parse(sink->text, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << sink->text;
    EXPECT_TRUE(j["n"].is_number_integer() && j["s"].is_string()) << sink->text;
  }
}

TEST(Scheduler, ShutdownEndsEveryRequest) {
  auto engine = load();
  std::vector<std::shared_ptr<Recorder>> sinks;
  {
    Scheduler s(*engine, {.n_slots = 1, .max_queue = 4, .slot_ctx = 512});
    for (int i = 0; i < 3; ++i) {
      sinks.push_back(std::make_shared<Recorder>());
      auto job = greedy_job(prompt_of(*engine, "Hi"), -1, sinks.back());
      s.submit(job);
    }
    while (sinks[0]->tokens.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (auto& sink : sinks) {
    EXPECT_EQ(sink->done_calls, 1);
    EXPECT_EQ(sink->result.reason, DoneReason::cancelled);
  }
}

TEST(Scheduler, BadRequestsEndWithAnError) {
  auto engine = load(64);
  Scheduler s(*engine, {.n_slots = 1, .max_queue = 4, .slot_ctx = 64});
  auto a = std::make_shared<Recorder>();
  auto job = greedy_job(std::vector<int32_t>(100, 5), 4, a);
  job->truncate = false;
  s.submit(job);
  EXPECT_EQ(a->wait().reason, DoneReason::error);
  EXPECT_NE(a->result.error.find("context"), std::string::npos) << a->result.error;
  auto b = std::make_shared<Recorder>();
  s.submit(greedy_job({}, 4, b));
  EXPECT_EQ(b->wait().reason, DoneReason::error);
  auto c = std::make_shared<Recorder>();  // and the slot still works
  s.submit(greedy_job(prompt_of(*engine, "Hi"), 3, c));
  EXPECT_EQ(c->wait().reason, DoneReason::length);
}

TEST(Scheduler, EmbeddingsTakeASlotAndAreNormalized) {
  auto engine = load();
  Scheduler s(*engine, {.n_slots = 2, .max_queue = 4, .slot_ctx = 512});
  auto gen_sink = std::make_shared<Recorder>();
  s.submit(greedy_job(prompt_of(*engine, "Hi"), 16, gen_sink));  // a generation running beside them
  std::vector<std::shared_ptr<Job>> jobs;
  std::vector<std::shared_ptr<Recorder>> sinks;
  for (const char* t : {"first text", "second, longer text to embed", "first text"}) {
    sinks.push_back(std::make_shared<Recorder>());
    auto job = greedy_job(prompt_of(*engine, t), 1, sinks.back());
    job->embed = true;
    jobs.push_back(job);
    s.submit(job);
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    const GenerateResult r = sinks[i]->wait();
    ASSERT_EQ(r.reason, DoneReason::stop) << r.error;
    EXPECT_EQ(r.prompt_eval_count, static_cast<int32_t>(jobs[i]->prompt.size()));
    ASSERT_EQ(jobs[i]->embedding.size(), engine->model().n_embd());
    double norm = 0;
    for (float v : jobs[i]->embedding) norm += double(v) * v;
    EXPECT_NEAR(norm, 1.0, 1e-4);
    EXPECT_TRUE(sinks[i]->tokens.empty());
  }
  EXPECT_EQ(jobs[0]->embedding, jobs[2]->embedding);  // same text, same vector
  EXPECT_NE(jobs[0]->embedding, jobs[1]->embedding);
  EXPECT_EQ(gen_sink->wait().reason, DoneReason::length);
  EXPECT_EQ(gen_sink->tokens.size(), 16u);
}

// A request the scheduler cannot even start (here: structured output without a grammar) ends with an error;
// the thread survives and serves the next request.
TEST(Scheduler, AFailedRoundEndsItsRequestsWithAnError) {
  auto engine = load();
  Scheduler s(*engine, {.n_slots = 1, .max_queue = 4, .slot_ctx = 512});
  auto a = std::make_shared<Recorder>();
  auto job = greedy_job(prompt_of(*engine, "Hi"), 4, a);
  job->structured = StructuredOutput{StructuredOutput::Kind::json, nullptr};
  s.submit(job);
  const GenerateResult r = a->wait();
  EXPECT_EQ(r.reason, DoneReason::error);
  EXPECT_NE(r.error.find("without a vocabulary or a grammar"), std::string::npos) << r.error;
  auto b = std::make_shared<Recorder>();
  s.submit(greedy_job(prompt_of(*engine, "Hi"), 3, b));
  EXPECT_EQ(b->wait().reason, DoneReason::length);
  EXPECT_EQ(s.stats().active, 0);
}

}  // namespace
}  // namespace locus::runtime
