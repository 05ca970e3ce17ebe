// Pushing a model from the store to a registry that speaks the Docker distribution v2 / OCI upload protocol,
// the reverse of pull (model_pull.h): `locus push HOST/NAMESPACE/MODEL:TAG`, POST /api/push.
//
// Protocol, as we understand it (the tests serve it on loopback; not checked here against the live registries):
//   for each blob of the manifest, layers first, then the config:
//     HEAD {scheme}://{host}/v2/{namespace}/{model}/blobs/{digest}    200: the registry has it, skip it
//     POST {scheme}://{host}/v2/{namespace}/{model}/blobs/uploads/    202 with Location (absolute or relative)
//     PUT  {Location}?digest={digest} (or &digest=...), the blob's bytes streamed from the store file,
//          Content-Type: application/octet-stream                      201 (200, 202 and 204 are accepted too)
//   PUT {scheme}://{host}/v2/{namespace}/{model}/manifests/{tag} with the manifest's bytes exactly as stored,
//       Content-Type: application/vnd.docker.distribution.manifest.v2+json   201 (or another 2xx)
// Progress lines follow Ollama's push: "retrieving manifest"; per blob "pushing <first 12 hex digits>" with
// digest, total and completed; "pushing manifest"; "success".
//
// The model may live in either store root (Ollama's read-only root is only read). Each blob is hashed as it
// streams out; a blob whose bytes no longer match its digest is caught before its last bytes are sent, so a
// damaged store file never completes an upload. No credentials: a registry that asks for them (401 / 403)
// fails the push with PullErrorKind::unauthorized. Errors are PullError, with pull's kinds and transport rules
// (loopback always plain http, other hosts https unless `insecure`; connect and stall timeouts; cancel flag).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runtime/model_name.h"
#include "runtime/model_pull.h"
#include "runtime/model_store.h"

namespace locus::runtime {

// One step of a push, in the shape of Ollama's ProgressResponse (the same fields as a pull's).
using PushProgress = PullProgress;

struct PushOptions {
  // Allows plain http to any host; loopback registries always use http.
  bool insecure = false;
  // Called on the pushing thread. Blob lines come at most every progress_interval_ms, plus one when the blob
  // starts and one when it is complete (or found already in the registry).
  std::function<void(const PushProgress&)> progress;
  const std::atomic<bool>* cancel = nullptr;  // checked at least once a second while transferring

  int progress_interval_ms = 100;
  int connect_timeout_ms = 30'000;
  int stall_timeout_ms = 60'000;  // a transfer that moves nothing for this long fails
  std::string user_agent = "locus";
};

struct PushResult {
  ModelName name;
  std::string manifest_digest;    // sha256 hex of the manifest bytes sent
  uint64_t bytes_uploaded = 0;    // blob bytes sent by this push
  uint64_t bytes_skipped = 0;     // blob bytes the registry already had
  uint64_t bytes_total = 0;       // config and layers, as the manifest says
};

// Pushes the store's model `name` to the registry its name points at. Throws PullError: not_found when the
// store has no such model (or a blob it names is missing), unauthorized for 401 / 403, insecure, network,
// bad_response (an unexpected status, no Location), digest_mismatch (a damaged store blob), cancelled.
PushResult push_model(const ModelStore& store, const ModelName& name, const PushOptions& options = {});

// "pushing 1a2b3c4d5e6f": the first 12 hex digits, as Ollama shows a blob.
std::string push_status_for_digest(std::string_view digest);

// /api/push's work in one call: parses `model`, pushes it, and hands each progress line (pull_progress_json's
// shape) to on_line, ending with {"status":"success"}. Throws StoreError (invalid_name) or PullError.
PushResult push_model_for_api(const ModelStore& store, std::string_view model, bool insecure,
                              const std::function<void(const nlohmann::json& line)>& on_line,
                              const std::atomic<bool>* cancel = nullptr);

}  // namespace locus::runtime
