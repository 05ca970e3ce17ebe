// Pulling a model from a registry that speaks the Ollama (Docker distribution v2) protocol into the locus
// store: registry.ollama.ai, Hugging Face's GGUF repositories (hf.co/USER/REPO:QUANT), or any mirror.
//
// Protocol, as we understand it (not checked here against the live registries; the tests serve it on
// loopback):
//   GET {scheme}://{host}/v2/{namespace}/{model}/manifests/{tag}
//       Accept: application/vnd.docker.distribution.manifest.v2+json  -> the manifest JSON (manifest.h)
//   GET {scheme}://{host}/v2/{namespace}/{model}/blobs/{digest}       -> the blob's bytes, often through a
//       redirect (307) to a CDN; `Range: bytes=N-` resumes a partial download (206).
// Hugging Face serves the same protocol at hf.co for GGUF repositories: namespace = user, model = repository,
// tag = quantization ("latest" when none is given).
//
// Phases and status strings follow Ollama's pull, so that clients that parse /api/pull's lines work:
//   "pulling manifest"; per blob "pulling <first 12 hex digits>" with digest, total and completed;
//   "verifying sha256 digest"; "writing manifest"; "success".
// A blob's sha256 is computed as its bytes stream in (BlobWriter) and checked before it gets its final name;
// the manifest is written only after every blob it names is in place, so a failed pull never leaves a model
// that resolves. A failed or cancelled pull keeps its partial blobs; the next pull resumes them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runtime/model_name.h"
#include "runtime/model_store.h"
#include "runtime/store_error.h"

namespace locus::runtime {

// One step of a pull, in the shape of Ollama's ProgressResponse.
struct PullProgress {
  std::string status;     // "pulling manifest", "pulling 1a2b3c4d5e6f", "verifying sha256 digest", ...
  std::string digest;     // "sha256:<hex>" on a blob's lines, else empty
  uint64_t total = 0;     // the blob's size from the manifest (blob lines only)
  uint64_t completed = 0;  // bytes of the blob in the store so far, resumed bytes included
};

// What went wrong, finer than StoreErrorKind, so the server can choose a status and the CLI a hint.
enum class PullErrorKind {
  not_found,        // the registry has no such model or tag (HTTP 404): StoreErrorKind::not_found
  unauthorized,     // HTTP 401 / 403: the registry wants credentials locus does not have
  insecure,         // plain http to a host that is not loopback without `insecure`
  network,          // connection refused, DNS, TLS, timeout, a transfer cut short
  bad_response,     // an HTTP error status, a manifest that does not parse, sizes that disagree
  digest_mismatch,  // a blob whose sha256 is not its digest: StoreErrorKind::digest_mismatch
  cancelled,        // the caller's cancel flag
};

class PullError : public StoreError {
 public:
  PullError(PullErrorKind kind, const std::string& message);
  PullErrorKind pull_kind() const { return pull_kind_; }

 private:
  PullErrorKind pull_kind_;
};

struct PullOptions {
  // Allows plain http to any host. Loopback hosts (127.0.0.0/8, localhost, [::1]) always use http, so a
  // registry served on this machine needs no flag.
  bool insecure = false;
  // Called on the pulling thread. Blob lines come at most every progress_interval_ms, plus one when the blob
  // starts and one when it is complete.
  std::function<void(const PullProgress&)> progress;
  const std::atomic<bool>* cancel = nullptr;  // checked at least once a second while transferring

  // Tuning; the defaults suit real registries, tests shorten them.
  int progress_interval_ms = 100;
  int connect_timeout_ms = 30'000;
  int stall_timeout_ms = 60'000;  // a transfer that receives nothing for this long fails (and may retry)
  int blob_attempts = 3;          // tries per blob on network errors, each resuming where the last stopped
  int retry_delay_ms = 1'000;     // doubled after each failed try
  std::string user_agent = "locus";
};

struct PullResult {
  ModelName name;
  std::string manifest_digest;     // sha256 hex of the manifest as stored
  uint64_t bytes_downloaded = 0;   // this pull only (resumed and skipped bytes are not counted)
  uint64_t bytes_total = 0;        // config and layers, as the manifest says
};

// Pulls `name` into the store's locus root. Throws PullError (a StoreError) with one line naming the model
// or blob and what was expected and found; StoreError from the store itself (disk full, ...).
PullResult pull_model(ModelStore& store, const ModelName& name, const PullOptions& options = {});

// ---- for the HTTP endpoint /api/pull ----

// One NDJSON object of /api/pull in Ollama's shape: {"status"} plus "digest", "total", "completed" when
// they are set (Ollama omits empty and zero fields).
nlohmann::json pull_progress_json(const PullProgress& p);

// /api/pull's work in one call: parses `model` (the request's "model", or "name" from older clients),
// pulls it, and hands each progress line to on_line, ending with {"status":"success"}. Throws StoreError
// (invalid_name for a bad name) or PullError before or after some lines were sent; the caller then answers
// with an HTTP error, or, when streaming has begun, a last line {"error": e.what()}.
PullResult pull_model_for_api(ModelStore& store, std::string_view model, bool insecure,
                              const std::function<void(const nlohmann::json& line)>& on_line,
                              const std::atomic<bool>* cancel = nullptr);

// ---- registry addresses (pure functions; no network) ----

// True for 127.0.0.0/8, "localhost" and "[::1]", with or without ":port".
bool is_loopback_host(std::string_view host);
// "http" for loopback hosts or when insecure, else "https".
std::string registry_scheme(const ModelName& name, bool insecure);
std::string registry_manifest_url(const ModelName& name, bool insecure);
std::string registry_blob_url(const ModelName& name, std::string_view digest, bool insecure);
// "pulling 1a2b3c4d5e6f": the first 12 hex digits, as Ollama shows a blob.
std::string pull_status_for_digest(std::string_view digest);

}  // namespace locus::runtime
