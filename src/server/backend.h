// What the HTTP server asks of the engine side, as an interface so that the routes are tested with a fake:
// start a generation for a parsed request, and the model-management answers (/api/tags, /api/show, /api/ps,
// delete, copy, /v1/models). RuntimeBackend is the real one: the model store, one Gemma4Engine and one
// runtime::Scheduler per loaded model, keep_alive, and the memory check before loading.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/media_prompt.h"
#include "server/api_request.h"
#include "server/embed_api.h"
#include "server/event_channel.h"
#include "server/metrics.h"
#include "server/served_models.h"

namespace locus::runtime {
class ModelStore;
struct ResolvedModel;
}

namespace locus::server {

struct StartResult {
  std::optional<ApiError> error;  // the request was refused before anything was generated
  int retry_after_s = 0;          // with a 503: the Retry-After header
  Generation generation;          // when !error: its events end with exactly one kDone or kError
  std::string model;              // the model's display name (for the access log)
};

// A JSON answer, or an error (the HTTP side picks the envelope by path).
struct JsonReply {
  std::optional<ApiError> error;
  nlohmann::ordered_json body = nlohmann::ordered_json::object();
};

// A blob question or upload: an error, or whether the blob was (already) there.
struct BlobReply {
  std::optional<ApiError> error;
  bool existed = false;
};
// Hands the request body, chunk by chunk, to `chunk`; false when it could not be read to its end.
using BodyReader = std::function<bool(const std::function<void(std::string_view chunk)>& chunk)>;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual StartResult generate(ApiRequest request) = 0;
  virtual JsonReply tags() = 0;                            // GET /api/tags
  virtual JsonReply show(const std::string& model, bool verbose) = 0;  // POST /api/show
  virtual JsonReply ps() = 0;                              // GET /api/ps
  virtual JsonReply remove(const std::string& model) = 0;  // DELETE /api/delete
  virtual JsonReply copy(const std::string& source, const std::string& destination) = 0;  // POST /api/copy
  virtual JsonReply openai_models() = 0;                   // GET /v1/models
  virtual JsonReply openai_model(const std::string& model) = 0;  // GET /v1/models/{model}

  // POST /api/embed, /api/embeddings, /v1/embeddings: every input one embedding job on the model's scheduler.
  // Blocks until all are done; `abandoned` is polled while waiting (the client left, the server stops) and,
  // when true, cancels what is left. The defaults answer 501 so that test fakes need not implement these.
  virtual EmbedResult embed(const EmbedRequest& request, const std::function<bool()>& abandoned);
  // POST /api/pull: runs the pull on the calling thread, handing each progress line (Ollama's shape, ending
  // with {"status":"success"}) to on_line; `cancel` stops it. Pulls run one at a time. The error's status
  // follows runtime::PullErrorKind (404 no such model, 401 credentials wanted, 502 the registry failed, ...).
  virtual JsonReply pull(const std::string& model, bool insecure,
                         const std::function<void(const nlohmann::json& line)>& on_line,
                         const std::atomic<bool>& cancel);
  // POST /api/push (backend_push.cpp): like pull, the other way; lines end with {"status":"success"}. 404 for a
  // model the store does not have, 401 when the registry wants credentials, 502 when it (or the way to it)
  // fails. Holds the store's write lock, so that no removal collects the blobs being sent.
  virtual JsonReply push(const std::string& model, bool insecure,
                         const std::function<void(const nlohmann::json& line)>& on_line,
                         const std::atomic<bool>& cancel);
  // POST /api/create (Ollama's body as sent): each step's status to on_status; 501 when this build has no
  // runtime::create_model_from_api.
  virtual JsonReply create(const nlohmann::json& body, const std::function<void(const std::string& status)>& on_status);
  // HEAD /api/blobs/<digest> and POST /api/blobs/<digest> (backend_blobs.cpp), `digest` already checked to be
  // sha256:<64 lower-case hex>. has_blob asks the locus store only: create writes there, and the read-only
  // Ollama store is no place to upload to. receive_blob reads the whole body through read_body (each chunk to
  // its argument; false when the body ended early), always to its end, so that the connection stays usable.
  // The defaults answer 501.
  virtual BlobReply has_blob(const std::string& digest);
  virtual BlobReply receive_blob(const std::string& digest, const BodyReader& read_body);

  // Shutdown: cancels everything running or queued; later generate() calls are refused with 503.
  virtual void cancel_all() = 0;

  // GET /metrics: the totals (the HTTP side adds its write times) and the gauges of loaded models.
  ServerMetrics& metrics() { return metrics_; }
  virtual MetricsGauges gauges() { return {}; }

 private:
  ServerMetrics metrics_;
};

struct BackendOptions {
  // How media are decoded and sized unless a request says otherwise (docs/media.md).
  runtime::MediaSettings media;
  int n_slots = 4;
  int max_queue = 32;
  uint32_t slot_ctx = 4096;
  KeepAlive keep_alive{false, 5 * 60 * 1000};
  int n_threads = 0;
  int32_t loop_guard_tokens = 256;  // runtime::Job::loop_guard_tokens; 0 disables
  // Memory kept free beyond weights and KV when deciding whether a model fits (activations, the process).
  uint64_t headroom_bytes = uint64_t{512} << 20;
  std::chrono::milliseconds reap_interval{250};
  // GGUF files the operator serves by name (locus serve --model, --model-dir), already checked at start-up.
  // Their names come before the stores' (a file given at start is what the operator asked for).
  std::vector<ServedFile> files;
};

// Bytes of MemAvailable in /proc/meminfo, or nothing when it cannot be read (then no check is made).
std::optional<uint64_t> mem_available_bytes();

// The refusal when a model does not fit, with the numbers; empty when it fits.
std::string memory_refusal(const std::string& model, uint64_t weights_bytes, uint64_t kv_bytes, int n_slots,
                           uint64_t headroom_bytes, uint64_t available_bytes);

class RuntimeBackend final : public Backend {
 public:
  RuntimeBackend(runtime::ModelStore& store, BackendOptions options);
  ~RuntimeBackend() override;  // unloads every model (running requests end cancelled)

  StartResult generate(ApiRequest request) override;
  JsonReply tags() override;
  JsonReply show(const std::string& model, bool verbose) override;
  JsonReply ps() override;
  JsonReply remove(const std::string& model) override;
  JsonReply copy(const std::string& source, const std::string& destination) override;
  JsonReply openai_models() override;
  JsonReply openai_model(const std::string& model) override;
  EmbedResult embed(const EmbedRequest& request, const std::function<bool()>& abandoned) override;
  JsonReply pull(const std::string& model, bool insecure, const std::function<void(const nlohmann::json& line)>& on_line,
                 const std::atomic<bool>& cancel) override;
  JsonReply push(const std::string& model, bool insecure, const std::function<void(const nlohmann::json& line)>& on_line,
                 const std::atomic<bool>& cancel) override;
  JsonReply create(const nlohmann::json& body, const std::function<void(const std::string& status)>& on_status) override;
  BlobReply has_blob(const std::string& digest) override;
  BlobReply receive_blob(const std::string& digest, const BodyReader& read_body) override;
  void cancel_all() override;
  MetricsGauges gauges() override;

  struct Loaded;  // backend.cpp

 private:
  struct Acquired {
    std::shared_ptr<Loaded> model;
    int64_t load_ns = 0;
    std::optional<ApiError> error;
  };
  // A request's model name (never a path: check_requested_model) to the served file or store model it
  // names; the error is the API's answer (404 for an unknown or invalid name).
  std::optional<ApiError> lookup(const std::string& model, runtime::ResolvedModel& out) const;
  const ServedFile* served_file(const runtime::ModelName& name) const;
  Acquired acquire(const std::string& model);
  void reap_loop();
  // Takes write_mutex_ into `lock` (which must not own it), however long that takes, unless `cancel` is set
  // meanwhile (a client that gave up while waiting must not start a pull or push): then false, unlocked.
  bool lock_for_write(std::unique_lock<std::timed_mutex>& lock, const std::atomic<bool>& cancel);

  runtime::ModelStore& store_;
  BackendOptions options_;
  std::mutex mutex_;       // models_, cancels_, stopping_
  std::mutex load_mutex_;  // one load at a time (each takes most of the memory bandwidth anyway)
  std::mutex store_mutex_; // store changes (remove, copy) against each other
  // Pulls and creates one at a time, and remove() waits for them: removing collects unreferenced blobs, which
  // would take the blobs a pull has written before its manifest names them.
  std::timed_mutex write_mutex_;
  // Blob uploads in progress, by digest: a second upload of the same blob waits for the first (they would
  // share its partial file).
  std::mutex uploads_mutex_;
  std::condition_variable uploads_done_;
  std::set<std::string> uploading_;
  std::map<std::string, std::shared_ptr<Loaded>> models_;  // by GGUF path
  std::vector<std::weak_ptr<std::atomic<bool>>> cancels_;
  bool stopping_ = false;
  std::condition_variable reap_wake_;
  std::thread reaper_;
};

}  // namespace locus::server
