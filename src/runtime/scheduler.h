// Continuous batching on one loaded model: up to n_slots requests generate at once, each in its own sequence of
// the model's KV cache, and every step decodes one token of every active request in a single forward pass
// (model::Gemma4Model::forward_batch), so the weights are read once per step for all of them. A new request's
// prompt joins that pass in chunks (mixed_prompt_chunk) while others generate, or runs alone in bigger chunks.
//
//   Scheduler s(engine, {.n_slots = 4, .max_queue = 32});
//   auto job = std::make_shared<Job>();  job->prompt = ...;  job->sink = my_sink;
//   if (s.submit(job) == Scheduler::Submit::queue_full) -> 503
//
// Requests beyond the free slots wait in a bounded queue (FIFO). A prompt is evaluated in chunks, inside the
// decode steps of the streams already running, so that a long prompt does not stall them. Prompt cache: a slot keeps the tokens
// its sequence holds after a request; a new request goes to the free slot sharing the longest prefix with its
// prompt and evaluates only the rest (GenerateResult::prompt_cached_tokens), as far as the sliding-window layers
// allow rolling back (model::Gemma4Model::can_truncate).
//
// Embedding requests (Job::embed) queue and take a slot like generations, for one model call each.
//
// Sinks are called on the scheduler's thread, one request's events in order, ending with exactly one on_done
// (also for requests cancelled in the queue and at shutdown). A sink must not block for long: every stream
// waits for it. Cancellation (Job::cancel) is seen between steps; the slot is freed at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "model/gemma4_model.h"
#include "runtime/generator.h"
#include "runtime/grammar_constraint.h"
#include "runtime/media_prompt.h"
#include "runtime/sampling_options.h"

namespace locus::runtime {

class Gemma4Engine;

struct Job {
  std::vector<int32_t> prompt;  // rendered and tokenized, BOS included
  // Media rows in the prompt (media_prompt.h: expand_media), in position order. Each block is evaluated alone
  // (an image as one bidirectional step), not inside other streams' decode steps; a prompt with media is never
  // truncated. The projection runs on the scheduler's thread (Gemma4Engine::embed_media, cached by content).
  std::vector<MediaBlock> media;
  SamplingOptions options;      // num_ctx beyond the slot's context is capped to it
  bool truncate = true;         // a prompt longer than the context: drop from the middle (Ollama) or fail
  bool logprobs = false;
  int32_t top_logprobs = 0;
  int32_t loop_guard_tokens = RepetitionGuard::kDefaultMinTokens;
  std::optional<StructuredOutput> structured;  // the scheduler builds the GrammarConstraint
  std::shared_ptr<std::atomic<bool>> cancel;   // may be null; set from any thread
  std::shared_ptr<GenerateSink> sink;          // required
  // An embedding request instead of a generation: the prompt's pooled, normalized embedding
  // (model::Gemma4Model::embed) is written to `embedding` before sink->on_done (reason stop,
  // prompt_eval_count = the tokens; no text, no tokens). It runs in a free slot, whose prompt cache it clears;
  // a prompt longer than the slot's context is cut to it when truncate is set, else an error.
  bool embed = false;
  std::vector<float> embedding;
};

// Running totals of where the scheduler's thread spends its time, for a metrics page and the overhead
// benchmark (bench/serve_parallel.sh). Added to once per round with relaxed atomics: no lock, no allocation.
// Several schedulers (one per loaded model) may add to one set.
struct SchedulerCounters {
  std::atomic<uint64_t> rounds{0};          // step() calls that did any work
  std::atomic<uint64_t> decode_tokens{0};   // tokens evaluated by decode steps (one per stream per step)
  std::atomic<uint64_t> prompt_tokens{0};   // prompt tokens evaluated (cached ones not counted)
  std::atomic<uint64_t> round_ns{0};        // inside those rounds, everything included
  std::atomic<uint64_t> model_prompt_ns{0};  // in the model evaluating prompt chunks (and embeddings)
  std::atomic<uint64_t> model_decode_ns{0};  // in the model's batched decode steps
  std::atomic<uint64_t> token_ns{0};  // in TokenStepper::step: sampling, stop strings, detokenizing, the sinks
};

struct SchedulerOptions {
  int n_slots = 4;           // requests generating at once
  int max_queue = 32;        // requests waiting for a slot; beyond it submit() refuses
  uint32_t slot_ctx = 4096;  // context (KV positions) of each slot
  int prompt_chunk = 256;    // prompt tokens evaluated at once while no other request is generating
  // While other requests generate, a prompt is evaluated in chunks of this many tokens inside their decode
  // steps (one pass over the weights for both), so their streams slow down during a long prompt but never stall.
  int mixed_prompt_chunk = 64;
  SchedulerCounters* counters = nullptr;  // added to when set; must outlive the scheduler
};

class Scheduler {
 public:
  // Creates n_slots sequences in the engine's model (KV memory for all of them now) and starts the thread.
  // Throws std::invalid_argument for bad options and what the model throws when memory runs out.
  Scheduler(Gemma4Engine& engine, SchedulerOptions options);
  // Ends every queued and running request (on_done with DoneReason::cancelled) and joins the thread.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  enum class Submit { accepted, queue_full };
  Submit submit(std::shared_ptr<Job> job);

  struct Stats {
    int active = 0;  // requests in slots
    int queued = 0;  // waiting for one
    std::chrono::steady_clock::time_point last_activity;  // the last time a request ended (or was submitted)
  };
  Stats stats() const;

  const SchedulerOptions& options() const { return options_; }

 private:
  struct Slot;
  void run();
  void step();  // one scheduling round: admit, cancel, one prompt chunk, one decode step
  // A round that threw (a bug or memory exhausted): every request in a slot ends with the error.
  void fail_all_active(const std::string& message);
  void end_job(Slot& s);  // on_done, keeps what the cache holds for the prompt cache, frees the slot
  void fail_sequence(Slot& s, const std::string& message);  // ends with an error and clears the cache

  Gemma4Engine& engine_;
  SchedulerOptions options_;
  std::vector<std::unique_ptr<Slot>> slots_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;
  // Buffers of a decode step, sized for n_slots once (the scheduler thread only).
  std::vector<float> batch_logits_;
  std::vector<model::BatchItem> batch_items_;
  std::vector<Slot*> batch_owners_;
  bool stopping_ = false;
  int active_ = 0;
  std::chrono::steady_clock::time_point last_activity_;
  std::thread thread_;
};

}  // namespace locus::runtime
