#include "runtime/scheduler.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "runtime/gemma4_engine.h"
#include "runtime/token_stepper.h"

namespace locus::runtime {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

uint64_t ns_between(Clock::time_point a, Clock::time_point b) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

// One round's timings, added to SchedulerCounters at its end (whatever way the round ends).
struct RoundTimes {
  explicit RoundTimes(SchedulerCounters* c) : counters(c), start(Clock::now()) {}
  ~RoundTimes() {
    if (counters == nullptr || (model_prompt_ns == 0 && model_decode_ns == 0 && token_ns == 0)) return;
    constexpr auto r = std::memory_order_relaxed;
    counters->rounds.fetch_add(1, r);
    counters->decode_tokens.fetch_add(decode_tokens, r);
    counters->prompt_tokens.fetch_add(prompt_tokens, r);
    counters->round_ns.fetch_add(ns_between(start, Clock::now()), r);
    counters->model_prompt_ns.fetch_add(model_prompt_ns, r);
    counters->model_decode_ns.fetch_add(model_decode_ns, r);
    counters->token_ns.fetch_add(token_ns, r);
  }
  RoundTimes(const RoundTimes&) = delete;
  RoundTimes& operator=(const RoundTimes&) = delete;

  SchedulerCounters* counters;
  Clock::time_point start;
  uint64_t decode_tokens = 0, prompt_tokens = 0, model_prompt_ns = 0, model_decode_ns = 0, token_ns = 0;
};

bool is_cancelled(const Job& job) { return job.cancel != nullptr && job.cancel->load(std::memory_order_relaxed); }

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

}  // namespace

struct Scheduler::Slot {
  Slot(Gemma4Engine& engine, model::SequenceId seq_id)
      : seq(seq_id),
        stepper(engine, engine.n_vocab(), engine.suppress_tokens()),
        logits(static_cast<size_t>(engine.n_vocab())) {}

  model::SequenceId seq;
  std::vector<int32_t> cached;  // what the sequence's KV cache holds, position by position
  std::shared_ptr<Job> job;     // null: free
  TokenStepper stepper;
  std::optional<GrammarConstraint> constraint;
  std::vector<int32_t> tokens;  // the request's sequence: prompt (fitted) then generated tokens, all evaluated
  std::vector<float> logits;
  int32_t n_prompt = 0;         // tokens of the fitted prompt
  int32_t n_ctx = 0;
  int32_t next = -1;            // decoding: the token to evaluate in the next step
  bool decoding = false;
  GenerateResult result;
  Clock::time_point t_start, t_prompt_done;
};

Scheduler::Scheduler(Gemma4Engine& engine, SchedulerOptions options) : engine_(engine), options_(options) {
  if (options_.n_slots < 1 || options_.max_queue < 0 || options_.prompt_chunk < 1 || options_.mixed_prompt_chunk < 1) {
    throw std::invalid_argument("scheduler: needs n_slots >= 1, max_queue >= 0, prompt_chunk >= 1, mixed_prompt_chunk >= 1");
  }
  model::Gemma4Model& m = engine_.model();
  // Slot 0 is the model's own sequence (sized when it was loaded); the others get slot_ctx positions.
  for (int i = 0; i < options_.n_slots; ++i) {
    const model::SequenceId seq = i == 0 ? model::kDefaultSequence : m.add_sequence(options_.slot_ctx);
    slots_.push_back(std::make_unique<Slot>(engine_, seq));
  }
  batch_logits_.resize(slots_.size() * static_cast<size_t>(engine_.n_vocab()));
  batch_items_.reserve(slots_.size() + static_cast<size_t>(options_.mixed_prompt_chunk));
  batch_owners_.reserve(slots_.size());
  last_activity_ = Clock::now();
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Scheduler::Submit Scheduler::submit(std::shared_ptr<Job> job) {
  if (job == nullptr || job->sink == nullptr) throw std::invalid_argument("scheduler: a job needs a sink");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const int free_slots = static_cast<int>(slots_.size()) - active_;
    if (static_cast<int>(queue_.size()) >= options_.max_queue + std::max(0, free_slots)) return Submit::queue_full;
    queue_.push_back(std::move(job));
    last_activity_ = Clock::now();
  }
  wake_.notify_all();
  return Submit::accepted;
}

Scheduler::Stats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {active_, static_cast<int>(queue_.size()), last_activity_};
}

void Scheduler::run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || active_ > 0; });
      if (stopping_) break;
    }
    try {
      step();
    } catch (const std::exception& e) {
      fail_all_active(std::string("scheduler: ") + e.what());
    }
  }
  // Shutdown: every request still here ends, cancelled.
  std::deque<std::shared_ptr<Job>> queued;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queued.swap(queue_);
  }
  for (auto& job : queued) {
    GenerateResult r;
    r.reason = DoneReason::cancelled;
    job->sink->on_done(r);
  }
  for (auto& slot : slots_) {
    if (slot->job == nullptr) continue;
    slot->result.reason = DoneReason::cancelled;
    slot->stepper.finish(slot->result, *slot->job->sink);
    slot->job.reset();
  }
}

void Scheduler::end_job(Slot& s) {
  if (s.decoding) s.result.eval_seconds = seconds_between(s.t_prompt_done, Clock::now());
  // The slot counts as free before the sink hears of the end, so that whoever waits for the answer sees the
  // request gone from stats() (only this thread fills slots, so nothing takes it in between).
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --active_;
    last_activity_ = Clock::now();
  }
  s.stepper.finish(s.result, *s.job->sink);
  // What the sequence's cache now holds, for the next request's prompt cache.
  s.cached.assign(s.tokens.begin(), s.tokens.begin() + std::min<size_t>(s.tokens.size(),
                                                                        static_cast<size_t>(engine_.model().n_past(s.seq))));
  s.job.reset();
  s.constraint.reset();
  s.decoding = false;
}

void Scheduler::fail_sequence(Slot& s, const std::string& message) {
  s.result.reason = DoneReason::error;
  s.result.error = message;
  engine_.model().reset(s.seq);
  s.tokens.clear();
  end_job(s);
}

void Scheduler::step() {
  model::Gemma4Model& m = engine_.model();
  const int32_t n_vocab = engine_.n_vocab();
  RoundTimes times(options_.counters);

  // 1. Admit queued requests into free slots, preferring the slot whose cache shares the longest prefix.
  for (;;) {
    std::shared_ptr<Job> job;
    Slot* best = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (queue_.empty() || active_ >= static_cast<int>(slots_.size())) break;
      job = std::move(queue_.front());
      queue_.pop_front();
      size_t best_len = 0;
      for (auto& slot : slots_) {
        if (slot->job != nullptr) continue;
        const size_t len = common_prefix(slot->cached, job->prompt);
        if (best == nullptr || len > best_len) {
          best = slot.get();
          best_len = len;
        }
      }
      ++active_;
    }
    Slot& s = *best;
    s.job = job;
    s.result = GenerateResult{};
    s.t_start = Clock::now();
    s.decoding = false;
    s.n_ctx = static_cast<int32_t>(m.n_ctx(s.seq));
    if (job->options.num_ctx > 0) s.n_ctx = std::min(s.n_ctx, job->options.num_ctx);
    TokenConstraint* constraint = nullptr;
    if (job->structured) {
      s.constraint.emplace(engine_.constraint_vocab(), *job->structured);
      constraint = &*s.constraint;
    }
    s.stepper.start(job->options, constraint, job->loop_guard_tokens, job->logprobs, job->top_logprobs);
    s.result.seed = s.stepper.seed();
    if (is_cancelled(*job)) {
      s.result.reason = DoneReason::cancelled;
      end_job(s);
      continue;
    }
    std::optional<std::string> problem = check_request(job->prompt, job->options, job->top_logprobs, n_vocab, job->media);
    if (!problem && !job->media.empty() && job->embed) problem = "embeddings of media are not supported";
    if (!problem && !job->media.empty() && static_cast<int64_t>(job->prompt.size()) > s.n_ctx) {
      problem = "the prompt with its media is " + std::to_string(job->prompt.size()) + " tokens, over the context of " +
                std::to_string(s.n_ctx) + " (num_ctx); media cannot be cut: raise num_ctx or send less";
    }
    if (problem) {
      s.result.reason = DoneReason::error;
      s.result.error = *problem;
      end_job(s);
      continue;
    }
    Truncation cut;
    s.tokens.reserve(static_cast<size_t>(s.n_ctx) + 1);
    if (auto problem = fit_prompt(job->prompt, s.n_ctx, job->truncate, job->options.num_keep, s.tokens, cut)) {
      s.result.reason = DoneReason::error;
      s.result.error = *problem;
      s.tokens.assign(s.cached.begin(), s.cached.end());
      end_job(s);
      continue;
    }
    s.result.prompt_tokens_dropped = cut.drop;
    s.n_prompt = static_cast<int32_t>(s.tokens.size());
    if (job->embed) {
      // One call does it all; the slot's cache is cleared by it.
      try {
        job->embedding.assign(m.n_embd(), 0.0f);
        const auto t0 = Clock::now();
        m.embed(s.seq, s.tokens, job->embedding);
        times.model_prompt_ns += ns_between(t0, Clock::now());
        times.prompt_tokens += s.tokens.size();
        s.result.prompt_eval_count = s.n_prompt;
        s.result.prompt_eval_seconds = seconds_between(s.t_start, Clock::now());
        s.result.reason = DoneReason::stop;
        s.tokens.clear();
        end_job(s);
      } catch (const std::exception& e) {
        job->embedding.clear();
        fail_sequence(s, std::string("embedding failed: ") + e.what());
      }
      continue;
    }
    // Prompt cache: keep what the sequence already holds of this prompt, at least one token left to evaluate
    // (its logits start the answer), as far back as the sliding-window layers can roll.
    int32_t keep = static_cast<int32_t>(std::min<size_t>(common_prefix(s.cached, s.tokens),
                                                         static_cast<size_t>(s.n_prompt - 1)));
    keep = std::min(keep, m.n_past(s.seq));
    // A media block is evaluated whole: a cached prefix ending inside one goes back to its start.
    for (const MediaBlock& b : job->media) {
      if (keep > b.offset && keep < b.offset + b.n) keep = b.offset;
    }
    if (keep > 0 && !m.can_truncate(s.seq, keep)) keep = 0;
    if (keep == 0) m.reset(s.seq);
    else m.truncate(s.seq, keep);
    s.cached.resize(static_cast<size_t>(keep));
    s.result.prompt_cached_tokens = keep;
  }

  // 2. Cancellations, then one prompt chunk (the slot furthest from done first, so short prompts are not stuck
  //    behind long ones: the one with the fewest tokens left).
  Slot* prompt_slot = nullptr;
  for (auto& slot : slots_) {
    Slot& s = *slot;
    if (s.job == nullptr) continue;
    if (is_cancelled(*s.job)) {
      s.result.reason = DoneReason::cancelled;
      if (!s.decoding) s.result.prompt_eval_count = m.n_past(s.seq) - s.result.prompt_cached_tokens;
      end_job(s);
      continue;
    }
    if (s.decoding) continue;
    const int32_t left = s.n_prompt - m.n_past(s.seq);
    if (prompt_slot == nullptr || left < prompt_slot->n_prompt - m.n_past(prompt_slot->seq)) prompt_slot = &s;
  }
  // 3. One pass: a decode step for every slot that has a token to evaluate, with the prompt chunk riding along
  //    when there is one (its tokens first; only its last token, when it ends the prompt, gives logits). With
  //    nobody decoding, the prompt runs alone, in bigger chunks and with the one-sequence attention.
  std::vector<model::BatchItem>& items = batch_items_;
  std::vector<Slot*>& owners = batch_owners_;
  items.clear();
  owners.clear();
  for (auto& slot : slots_) {
    Slot& s = *slot;
    if (s.job == nullptr || !s.decoding || s.next < 0) continue;
    owners.push_back(&s);
  }
  const auto prompt_done = [&](Slot& s, std::span<const float> logits) {
    s.t_prompt_done = Clock::now();
    s.result.prompt_eval_count = s.n_prompt - s.result.prompt_cached_tokens;
    s.result.prompt_eval_seconds = seconds_between(s.t_start, s.t_prompt_done);
    s.decoding = true;
    const auto t0 = Clock::now();
    s.next = s.stepper.step(logits, s.tokens, s.n_prompt, s.n_ctx, *s.job->sink, s.result);
    times.token_ns += ns_between(t0, Clock::now());
    if (s.next < 0) end_job(s);
  };
  // A media block at the prompt's position runs alone, now: projected (or taken from the engine's cache) and
  // evaluated in one call; the other streams' decode step follows in this round.
  const MediaBlock* next_block = nullptr;
  if (prompt_slot != nullptr) {
    const int32_t at = m.n_past(prompt_slot->seq);
    for (const MediaBlock& b : prompt_slot->job->media) {
      if (b.offset + b.n > at) {
        next_block = &b;
        break;
      }
    }
    if (next_block != nullptr && next_block->offset <= at) {
      Slot& s = *prompt_slot;
      const MediaBlock& b = *next_block;
      prompt_slot = nullptr;
      next_block = nullptr;
      bool failed = false;
      try {
        const auto t0 = Clock::now();
        const auto rows = engine_.embed_media(*b.input);
        m.forward_embeddings(s.seq, *rows, b.offset, s.logits, false, b.bidirectional);
        times.model_prompt_ns += ns_between(t0, Clock::now());
        times.prompt_tokens += static_cast<uint64_t>(b.n);
      } catch (const std::exception& e) {
        fail_sequence(s, std::string("media evaluation failed: ") + e.what());
        failed = true;
      }
      if (!failed && b.offset + b.n == s.n_prompt) prompt_done(s, s.logits);
      if (owners.empty()) return;
    }
  }
  // The prompt chunk: n tokens from pos (up to the next media block); `ends` when it completes the prompt.
  int32_t chunk_pos = 0, chunk_n = 0;
  bool chunk_ends = false;
  if (prompt_slot != nullptr) {
    chunk_pos = m.n_past(prompt_slot->seq);
    const int32_t limit = owners.empty() ? options_.prompt_chunk : options_.mixed_prompt_chunk;
    chunk_n = std::min(limit, prompt_slot->n_prompt - chunk_pos);
    if (next_block != nullptr) chunk_n = std::min(chunk_n, next_block->offset - chunk_pos);
    chunk_ends = chunk_pos + chunk_n == prompt_slot->n_prompt;
  }
  if (owners.empty()) {
    if (prompt_slot == nullptr) return;
    Slot& s = *prompt_slot;
    try {
      const auto t0 = Clock::now();
      m.forward(s.seq, std::span<const int32_t>(s.tokens).subspan(static_cast<size_t>(chunk_pos), static_cast<size_t>(chunk_n)),
                chunk_pos, s.logits, false);
      times.model_prompt_ns += ns_between(t0, Clock::now());
      times.prompt_tokens += static_cast<uint64_t>(chunk_n);
    } catch (const std::exception& e) {
      fail_sequence(s, std::string("prompt evaluation failed: ") + e.what());
      return;
    }
    if (chunk_ends) prompt_done(s, s.logits);
    return;
  }
  for (int32_t i = 0; i < chunk_n; ++i) {
    items.push_back({prompt_slot->seq, prompt_slot->tokens[static_cast<size_t>(chunk_pos + i)], chunk_pos + i});
  }
  for (Slot* s : owners) items.push_back({s->seq, s->next, m.n_past(s->seq)});
  const size_t first_row = static_cast<size_t>(chunk_n - (chunk_ends ? 1 : 0));
  const size_t n_rows = items.size() - first_row;
  try {
    const auto t0 = Clock::now();
    m.forward_batch(items, std::span<float>(batch_logits_).first(n_rows * static_cast<size_t>(n_vocab)), first_row);
    const uint64_t ns = ns_between(t0, Clock::now());
    // The pass's time split by tokens between the prompt and the decode steps (counters only).
    const uint64_t prompt_share = ns * static_cast<uint64_t>(chunk_n) / items.size();
    times.model_prompt_ns += prompt_share;
    times.model_decode_ns += ns - prompt_share;
    times.prompt_tokens += static_cast<uint64_t>(chunk_n);
    times.decode_tokens += owners.size();
  } catch (const std::exception& e) {
    for (Slot* s : owners) fail_sequence(*s, std::string("token evaluation failed: ") + e.what());
    if (prompt_slot != nullptr) fail_sequence(*prompt_slot, std::string("prompt evaluation failed: ") + e.what());
    return;
  }
  const auto row = [&](size_t r) {
    return std::span<const float>(batch_logits_).subspan(r * static_cast<size_t>(n_vocab), static_cast<size_t>(n_vocab));
  };
  size_t r = 0;
  if (chunk_ends) prompt_done(*prompt_slot, row(r++));
  for (Slot* sp : owners) {
    Slot& s = *sp;
    s.tokens.push_back(s.next);
    const auto t0 = Clock::now();
    s.next = s.stepper.step(row(r++), s.tokens, static_cast<int32_t>(s.tokens.size()), s.n_ctx, *s.job->sink, s.result);
    times.token_ns += ns_between(t0, Clock::now());
    if (s.next < 0) end_job(s);
  }
}

void Scheduler::fail_all_active(const std::string& message) {
  for (auto& slot : slots_) {
    if (slot->job != nullptr) fail_sequence(*slot, message);
  }
}

}  // namespace locus::runtime
