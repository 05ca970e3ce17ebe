// RuntimeBackend's per-model state, shared by backend.cpp (loading, generation, keep_alive) and
// backend_models.cpp (/api/ps). Internal to src/server.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "runtime/gemma4_engine.h"
#include "runtime/model_store.h"
#include "runtime/scheduler.h"
#include "server/backend.h"

namespace locus::server {

// How a loaded model is found: its GGUF and the projector it runs with (two names for one file, one with a
// projector and one without, are two loaded models).
inline std::string loaded_key(const runtime::ResolvedModel& m) {
  std::string key = m.model_path.string();
  if (m.projector) {
    key += '\n';
    key += m.projector->path.string();
  }
  return key;
}

struct RuntimeBackend::Loaded {
  std::string name;  // display name: "gemma4:12b", or a served file's name ("tiny:latest")
  runtime::ResolvedModel resolved;
  runtime::ModelDetails details;
  // Declared before the scheduler so that it is destroyed after it (the scheduler's thread uses the engine).
  std::unique_ptr<runtime::Gemma4Engine> engine;
  std::unique_ptr<runtime::Scheduler> scheduler;
  uint64_t size_bytes = 0;  // weights + KV of every slot
  // Guarded by RuntimeBackend::mutex_:
  KeepAlive keep_alive;     // the last request's (Ollama: the latest keep_alive wins)
  std::chrono::steady_clock::time_point last_used;
  int pending = 0;          // requests between acquire() and submit(): never reaped under them
};

// A model store error as the HTTP answer (not_found 404 with Ollama's "try pulling it first", ...).
ApiError store_error_to_api(const runtime::StoreError& e, const std::string& model);

// RFC 3339 time for expires_at / modified_at.
std::string format_time(std::chrono::system_clock::time_point t);

}  // namespace locus::server
