#include "server/backend.h"

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gguf/file.h"
#include "model/gemma4_gguf.h"
#include "model/kv_cache.h"
#include "server/backend_internal.h"
#include "server/generation_sink.h"
#include "text/chat_renderer.h"
#include "text/json_grammar.h"

namespace locus::server {
namespace {

using Clock = std::chrono::steady_clock;

// The server's sink, timed: its CPU time on the scheduler thread is server overhead (ServerMetrics::sink_ns).
class TimedSink final : public runtime::GenerateSink {
 public:
  TimedSink(std::shared_ptr<runtime::GenerateSink> inner, std::atomic<uint64_t>& ns) : inner_(std::move(inner)), ns_(ns) {}
  void on_text(std::string_view text) override {
    const uint64_t t0 = thread_cpu_ns();
    inner_->on_text(text);
    add(t0);
  }
  void on_token(int32_t token, const runtime::TokenLogprobs* logprobs) override {
    const uint64_t t0 = thread_cpu_ns();
    inner_->on_token(token, logprobs);
    add(t0);
  }
  void on_done(const runtime::GenerateResult& result) override {
    const uint64_t t0 = thread_cpu_ns();
    inner_->on_done(result);
    add(t0);
  }

 private:
  void add(uint64_t t0) { ns_.fetch_add(thread_cpu_ns() - t0, std::memory_order_relaxed); }
  std::shared_ptr<runtime::GenerateSink> inner_;
  std::atomic<uint64_t>& ns_;
};

int64_t ns_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

ApiError api_error(int status, std::string message, std::string param = {}) {
  return ApiError{status, std::move(message), std::move(param)};
}

double gib(uint64_t bytes) { return static_cast<double>(bytes) / double(uint64_t{1} << 30); }

// A resolved load-only answer: nothing to generate, one done event.
StartResult done_only(FinishReason reason, int64_t load_ns, Clock::time_point t0, const std::string& model) {
  StartResult r;
  r.model = model;
  r.generation.events = std::make_shared<EventChannel>();
  r.generation.cancel = std::make_shared<std::atomic<bool>>(false);
  GenerationEvent e;
  e.kind = GenerationEvent::Kind::kDone;
  e.done.reason = reason;
  e.done.load_duration_ns = load_ns;
  e.done.total_duration_ns = ns_since(t0);
  r.generation.events->push(std::move(e));
  return r;
}

void log_line(const nlohmann::ordered_json& j) {
  const std::string s = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  std::fwrite(s.data(), 1, s.size(), stderr);
}

}  // namespace

std::string format_time(std::chrono::system_clock::time_point t) { return format_rfc3339_nano(t); }

std::optional<uint64_t> mem_available_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit) {
    if (key == "MemAvailable:") return kb * 1024;
  }
  return std::nullopt;
}

std::string memory_refusal(const std::string& model, uint64_t weights, uint64_t kv_per_slot, int n_slots,
                           uint64_t headroom, uint64_t available) {
  const uint64_t need = weights + kv_per_slot * static_cast<uint64_t>(n_slots) + headroom;
  if (need <= available) return {};
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "model \"%s\" needs %.2f GiB of memory (weights %.2f GiB + KV cache %.2f GiB for %d slot%s + %.2f GiB "
                "headroom) but only %.2f GiB is available; lower --slots / LOCUS_NUM_PARALLEL or --ctx / "
                "LOCUS_CONTEXT_LENGTH, or free memory",
                model.c_str(), gib(need), gib(weights), gib(kv_per_slot * static_cast<uint64_t>(n_slots)), n_slots,
                n_slots == 1 ? "" : "s", gib(headroom), gib(available));
  return buf;
}

ApiError store_error_to_api(const runtime::StoreError& e, const std::string& model) {
  switch (e.kind()) {
    case runtime::StoreErrorKind::not_found: return model_not_found(model);
    case runtime::StoreErrorKind::invalid_name: return api_error(400, e.what(), "model");
    case runtime::StoreErrorKind::read_only: return api_error(403, e.what(), "model");
    case runtime::StoreErrorKind::bad_input: return api_error(400, e.what(), "model");
    default: return api_error(500, e.what());
  }
}

RuntimeBackend::RuntimeBackend(runtime::ModelStore& store, BackendOptions options)
    : store_(store), options_(options) {
  reaper_ = std::thread([this] { reap_loop(); });
}

RuntimeBackend::~RuntimeBackend() {
  cancel_all();
  reap_wake_.notify_all();
  if (reaper_.joinable()) reaper_.join();
  std::map<std::string, std::shared_ptr<Loaded>> models;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    models.swap(models_);
  }
  models.clear();  // each scheduler ends its requests (cancelled) and joins its thread
}

void RuntimeBackend::cancel_all() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = true;
  for (auto& w : cancels_) {
    if (auto c = w.lock()) c->store(true);
  }
  cancels_.clear();
  reap_wake_.notify_all();
}

const ServedFile* RuntimeBackend::served_file(const runtime::ModelName& name) const {
  for (const ServedFile& f : options_.files) {
    if (f.name.same_model_as(name)) return &f;
  }
  return nullptr;
}

std::optional<ApiError> RuntimeBackend::lookup(const std::string& model, runtime::ResolvedModel& out) const {
  RequestedModel requested = check_requested_model(model);
  if (requested.error) return requested.error;
  if (const ServedFile* f = served_file(*requested.name)) {
    try {
      out = resolve_served_file(*f);
    } catch (const runtime::StoreError& e) {
      // The operator's file changed since start-up: their problem to fix, not the client's.
      return api_error(500, "model \"" + f->name.display() + "\" (served from a file given at start-up): " + e.what());
    }
    return std::nullopt;
  }
  try {
    out = store_.resolve(*requested.name);
  } catch (const runtime::StoreError& e) {
    return store_error_to_api(e, model);
  }
  return std::nullopt;
}

RuntimeBackend::Acquired RuntimeBackend::acquire(const std::string& model) {
  Acquired out;
  runtime::ResolvedModel resolved;
  if (auto error = lookup(model, resolved)) {
    out.error = std::move(error);
    return out;
  }
  const std::string key = loaded_key(resolved);
  auto find = [&]() -> bool {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = models_.find(key);
    if (it == models_.end()) return false;
    out.model = it->second;
    out.model->pending++;
    out.model->last_used = Clock::now();
    return true;
  };
  if (find()) return out;
  std::lock_guard<std::mutex> load_lock(load_mutex_);
  if (find()) return out;  // another request loaded it while this one waited

  const auto t0 = Clock::now();
  const std::string name = resolved.display_name;
  uint64_t weights = 0, kv_per_slot = 0;
  try {
    weights = std::filesystem::file_size(resolved.model_path);
    if (resolved.projector) weights += std::filesystem::file_size(resolved.projector->path);
    const auto file = gguf::GgufFile::open(resolved.model_path.string());
    // With a projector the sliding rings and step buffers hold a 1120-token image block.
    kv_per_slot = model::KvCache::bytes_for(model::read_gemma4_config(file), options_.slot_ctx,
                                            resolved.projector ? 1120 : 512);
  } catch (const std::exception& e) {
    out.error = api_error(400, "model \"" + name + "\" cannot be loaded: " + e.what(), "model");
    return out;
  }
  auto refusal = [&]() -> std::string {
    const auto avail = mem_available_bytes();
    if (!avail) return {};
    return memory_refusal(name, weights, kv_per_slot, options_.n_slots, options_.headroom_bytes, *avail);
  };
  if (!refusal().empty()) {
    // Idle models go first, as their keep_alive would have let them go anyway once memory is wanted.
    std::vector<std::shared_ptr<Loaded>> idle;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = models_.begin(); it != models_.end();) {
        const auto st = it->second->scheduler->stats();
        if (it->second->pending == 0 && st.active == 0 && st.queued == 0) {
          idle.push_back(it->second);
          it = models_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& m : idle) log_line({{"event", "unload"}, {"model", m->name}, {"reason", "memory wanted for " + name}});
    idle.clear();
  }
  if (std::string why = refusal(); !why.empty()) {
    out.error = api_error(500, why);
    return out;
  }

  auto loaded = std::make_shared<Loaded>();
  loaded->name = name;
  loaded->resolved = resolved;
  try {
    loaded->details = store_.details(resolved);
  } catch (const std::exception&) {
    // details are only for /api/ps; a model that loads is served without them
  }
  try {
    runtime::EngineOptions eo;
    eo.n_ctx = options_.slot_ctx;
    eo.n_threads = options_.n_threads;
    if (resolved.projector) eo.mmproj = resolved.projector->path.string();
    loaded->engine = runtime::Gemma4Engine::load(resolved.model_path.string(), eo);
    runtime::SchedulerOptions so;
    so.n_slots = options_.n_slots;
    so.max_queue = options_.max_queue;
    so.slot_ctx = options_.slot_ctx;
    so.counters = &metrics().scheduler;
    loaded->scheduler = std::make_unique<runtime::Scheduler>(*loaded->engine, so);
  } catch (const std::exception& e) {
    out.error = api_error(500, "model \"" + name + "\" failed to load: " + e.what());
    return out;
  }
  loaded->size_bytes = weights + loaded->engine->model().kv_cache_bytes();
  loaded->keep_alive = options_.keep_alive;
  loaded->last_used = Clock::now();
  loaded->pending = 1;
  out.load_ns = ns_since(t0);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    models_[key] = loaded;
  }
  log_line({{"event", "load"}, {"model", name}, {"path", resolved.model_path.string()}, {"size", loaded->size_bytes},
            {"slots", options_.n_slots}, {"ctx", options_.slot_ctx}, {"load_ms", out.load_ns / 1000000}});
  out.model = std::move(loaded);
  return out;
}

StartResult RuntimeBackend::generate(ApiRequest req) {
  const auto t0 = Clock::now();
  StartResult r;
  auto refuse = [&](ApiError e) {
    r.error = std::move(e);
    return r;
  };
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return refuse(api_error(503, "the server is shutting down"));
  }
  if (!req.suffix.empty()) return refuse(api_error(400, "suffix (fill-in-the-middle): Gemma 4 has no such mode", "suffix"));
  const KeepAlive ka = req.keep_alive.value_or(options_.keep_alive);

  if (req.load_only && ka.unload_now()) {
    // Unload: only a model already loaded is touched; the reaper lets it go once its work is done.
    runtime::ResolvedModel resolved;
    if (auto error = lookup(req.model, resolved)) return refuse(std::move(*error));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (auto it = models_.find(loaded_key(resolved)); it != models_.end()) it->second->keep_alive = ka;
    }
    reap_wake_.notify_all();
    return done_only(FinishReason::kUnload, 0, t0, req.model);
  }

  Acquired a = acquire(req.model);
  if (a.error) return refuse(*a.error);
  std::shared_ptr<Loaded> m = a.model;
  r.model = m->name;
  // Every return below must release the pending mark, with the request's keep_alive applied.
  auto release = [&] {
    std::lock_guard<std::mutex> lock(mutex_);
    m->pending--;
    m->keep_alive = ka;
    m->last_used = Clock::now();
  };
  if (req.load_only) {
    release();
    reap_wake_.notify_all();
    return done_only(FinishReason::kLoad, a.load_ns, t0, req.model);
  }

  PreparedJob prep = prepare_job(req, *m->engine, options_.slot_ctx, options_.media);
  if (prep.error) {
    release();
    return refuse(*prep.error);
  }
  auto channel = std::make_shared<EventChannel>();
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  SinkContext ctx;
  ctx.parse = !req.raw;
  ctx.parser = prep.parser;
  ctx.audio_seconds = prep.audio_seconds;
  ctx.load_ns = a.load_ns;
  ctx.received = t0;
  ctx.model = m->name;
  if (req.api == Api::kOllamaGenerate && !req.raw) ctx.context_prefix = prep.job->prompt;
  ctx.keep_context = req.api == Api::kOllamaGenerate && !req.raw;
  if (req.logprobs || req.top_logprobs > 0) {
    // A token's running text; control tokens, which have none, by their name (<eos>) so alternatives stay readable.
    // The engine outlives the job: the scheduler that calls the sink is destroyed first.
    ctx.token_text = [engine = m->engine.get()](int32_t id) {
      const std::string_view piece = engine->piece(id);
      return piece.empty() ? engine->tokenizer().raw_piece(id) : piece;
    };
  }
  prep.job->loop_guard_tokens = options_.loop_guard_tokens;
  prep.job->cancel = cancel;
  prep.job->sink = std::make_shared<TimedSink>(make_channel_sink(channel, std::move(ctx)), metrics().sink_ns);
  metrics().requests.fetch_add(1, std::memory_order_relaxed);

  runtime::Scheduler::Submit submitted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      m->pending--;
      return refuse(api_error(503, "the server is shutting down"));
    }
    submitted = m->scheduler->submit(prep.job);
    m->pending--;
    m->keep_alive = ka;
    m->last_used = Clock::now();
    if (submitted == runtime::Scheduler::Submit::accepted) {
      std::erase_if(cancels_, [](const auto& w) { return w.expired(); });
      cancels_.push_back(cancel);
    }
  }
  if (submitted == runtime::Scheduler::Submit::queue_full) {
    r.retry_after_s = 2;
    return refuse(api_error(503, "server busy: " + std::to_string(options_.n_slots) + " requests are generating and " +
                                     std::to_string(options_.max_queue) +
                                     " waiting for model \"" + m->name + "\"; retry later (LOCUS_MAX_QUEUE)"));
  }
  r.generation = Generation{channel, cancel};
  return r;
}

MetricsGauges RuntimeBackend::gauges() {
  MetricsGauges g;
  std::lock_guard<std::mutex> lock(mutex_);
  g.models_loaded = static_cast<int>(models_.size());
  for (const auto& [key, m] : models_) {
    const auto st = m->scheduler->stats();
    g.active += st.active;
    g.queued += st.queued;
  }
  return g;
}

void RuntimeBackend::reap_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    reap_wake_.wait_for(lock, options_.reap_interval);
    if (stopping_) break;
    std::vector<std::shared_ptr<Loaded>> gone;
    const auto now = Clock::now();
    for (auto it = models_.begin(); it != models_.end();) {
      Loaded& m = *it->second;
      const auto st = m.scheduler->stats();
      const bool idle = m.pending == 0 && st.active == 0 && st.queued == 0;
      const auto last = std::max(st.last_activity, m.last_used);
      if (idle && !m.keep_alive.forever && now >= last + std::chrono::milliseconds(m.keep_alive.duration_ms)) {
        gone.push_back(it->second);
        it = models_.erase(it);
      } else {
        ++it;
      }
    }
    if (gone.empty()) continue;
    lock.unlock();
    for (auto& m : gone) {
      const std::string name = m->name;
      m.reset();  // joins the scheduler's thread, frees the KV cache and the weights
      log_line({{"event", "unload"}, {"model", name}, {"reason", "keep_alive expired"}});
    }
    lock.lock();
  }
}

}  // namespace locus::server
