// RuntimeBackend::embed: /api/embed, /api/embeddings and /v1/embeddings on the model's scheduler, each input
// one runtime::Job with embed set, so embeddings queue and take slots like generations.
#include <condition_variable>
#include <cstdio>

#include "server/backend.h"
#include "server/backend_internal.h"

namespace locus::server {
namespace {

using Clock = std::chrono::steady_clock;

// Tells the waiting handler that one embedding job ended (the scheduler writes Job::embedding before on_done).
class EmbedSink final : public runtime::GenerateSink {
 public:
  void on_text(std::string_view) override {}
  void on_done(const runtime::GenerateResult& result) override {
    std::lock_guard<std::mutex> lock(mutex_);
    result_ = result;
    done_ = true;
    ready_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return ready_.wait_for(lock, timeout, [this] { return done_; });
  }
  runtime::GenerateResult result() {
    std::lock_guard<std::mutex> lock(mutex_);
    return result_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  bool done_ = false;
  runtime::GenerateResult result_;
};

std::string input_path(const EmbedRequest& req, size_t i) {
  if (req.api == EmbedApi::kOllamaEmbeddings) return "prompt";
  return req.inputs.size() == 1 ? "input" : "input[" + std::to_string(i) + "]";
}

}  // namespace

EmbedResult RuntimeBackend::embed(const EmbedRequest& req, const std::function<bool()>& abandoned) {
  const auto t0 = Clock::now();
  EmbedResult r;
  auto refuse = [&](int status, std::string message, std::string param = {}) {
    r.error = ApiError{status, std::move(message), std::move(param)};
    return r;
  };
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return refuse(503, "the server is shutting down");
  }
  const KeepAlive ka = req.keep_alive.value_or(options_.keep_alive);
  Acquired a = acquire(req.model);
  if (a.error) {
    r.error = a.error;
    return r;
  }
  std::shared_ptr<Loaded> m = a.model;
  r.model = m->name;
  bool released = false;
  auto release = [&] {
    if (released) return;
    released = true;
    std::lock_guard<std::mutex> lock(mutex_);
    m->pending--;
    m->keep_alive = ka;
    m->last_used = Clock::now();
  };

  const uint32_t n_embd = m->engine->model().n_embd();
  if (req.dimensions && static_cast<uint32_t>(*req.dimensions) > n_embd) {
    release();
    return refuse(400, "dimensions: expected 1 to " + std::to_string(n_embd) + " (the model's embedding size), found " +
                           std::to_string(*req.dimensions), "dimensions");
  }

  // Tokenize every input first, so that a bad one refuses the request before any work is queued.
  const text::Tokenizer& tok = m->engine->tokenizer();
  const auto n_vocab = static_cast<int64_t>(m->engine->n_vocab());
  const size_t ctx = options_.slot_ctx;
  std::vector<std::shared_ptr<runtime::Job>> jobs;
  std::vector<std::shared_ptr<EmbedSink>> sinks;
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  for (size_t i = 0; i < req.inputs.size(); ++i) {
    const EmbedInput& in = req.inputs[i];
    auto job = std::make_shared<runtime::Job>();
    job->embed = true;
    if (in.is_tokens) {
      for (size_t k = 0; k < in.tokens.size(); ++k) {
        if (in.tokens[k] >= n_vocab) {
          release();
          return refuse(400, input_path(req, i) + "[" + std::to_string(k) + "]: expected a token id below " +
                                 std::to_string(n_vocab) + ", found " + std::to_string(in.tokens[k]), "input");
        }
      }
      job->prompt = in.tokens;
    } else {
      job->prompt = tok.encode(in.text, tok.wants_bos(), true);
    }
    if (job->prompt.size() > ctx) {
      if (!req.truncate) {
        release();
        return refuse(400, input_path(req, i) + ": the input is " + std::to_string(job->prompt.size()) +
                               " tokens but the context holds " + std::to_string(ctx) +
                               " (server --ctx / LOCUS_CONTEXT_LENGTH); shorten it or allow truncate",
                      req.api == EmbedApi::kOllamaEmbed ? "truncate" : "input");
      }
      // Ollama keeps the head of an input that is too long; the scheduler's own truncation would keep the
      // head and the tail, which is right for a chat but not for a text to embed.
      job->prompt.resize(ctx);
    }
    job->truncate = false;
    job->cancel = cancel;
    auto sink = std::make_shared<EmbedSink>();
    job->sink = sink;
    jobs.push_back(std::move(job));
    sinks.push_back(std::move(sink));
  }

  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      m->pending--;
      released = true;
      return refuse(503, "the server is shutting down");
    }
    for (const auto& job : jobs) {
      if (m->scheduler->submit(job) == runtime::Scheduler::Submit::queue_full) {
        cancel->store(true);  // the inputs already queued end at once
        r.retry_after_s = 2;
        r.error = ApiError{503,
                           "server busy: " + std::to_string(options_.n_slots) + " requests are running and " +
                               std::to_string(options_.max_queue) + " waiting for model \"" + m->name +
                               "\"; retry later (LOCUS_MAX_QUEUE)",
                           ""};
        break;
      }
    }
    m->pending--;
    m->keep_alive = ka;
    m->last_used = Clock::now();
    released = true;
    std::erase_if(cancels_, [](const auto& w) { return w.expired(); });
    cancels_.push_back(cancel);
  }
  if (r.error) return r;

  for (auto& sink : sinks) {
    while (!sink->wait(std::chrono::milliseconds(250))) {
      if (!cancel->load() && abandoned && abandoned()) cancel->store(true);  // the scheduler still ends each job
    }
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    const runtime::GenerateResult res = sinks[i]->result();
    if (res.reason == runtime::DoneReason::cancelled) {
      return refuse(503, "the embedding request was cancelled (the client left or the server is shutting down)");
    }
    if (res.reason != runtime::DoneReason::stop || jobs[i]->embedding.size() != n_embd) {
      return refuse(500, input_path(req, i) + ": " + (res.error.empty() ? "no embedding was computed" : res.error));
    }
    std::vector<float> v = std::move(jobs[i]->embedding);
    if (req.dimensions) reduce_dimensions(v, static_cast<size_t>(*req.dimensions));
    r.embeddings.push_back(std::move(v));
    r.prompt_tokens += res.prompt_eval_count;
  }
  if (ka.unload_now()) reap_wake_.notify_all();
  r.load_duration_ns = a.load_ns;
  r.total_duration_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  return r;
}

}  // namespace locus::server
