// Where the model-management commands (list, show, ps, cp, rm, stop, create, pull, push) do their work: a running locus
// server when one answers at LOCUS_HOST (as Ollama's CLI talks to its server), else the local model store.
// Both sides answer with the bodies of Ollama's API (api-compat.md §2.6), so the commands render one shape.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/model_pull.h"

namespace locus::cli {

class ModelClient {
 public:
  virtual ~ModelClient() = default;
  // "http://127.0.0.1:11434" for a server, empty for the local store.
  virtual std::string server_url() const = 0;

  virtual nlohmann::json tags() = 0;                            // GET /api/tags
  virtual nlohmann::json show(const std::string& model) = 0;    // POST /api/show
  // GET /api/ps; nothing when no server runs (nothing can be loaded then).
  virtual std::optional<nlohmann::json> ps() = 0;
  virtual void copy(const std::string& source, const std::string& destination) = 0;
  virtual void remove(const std::string& model) = 0;
  // Unloads a loaded model (POST /api/generate with keep_alive 0). Throws when no server runs.
  virtual void stop(const std::string& model) = 0;
  // Creates `name` from a Modelfile's text; relative FROM paths are relative to `base_dir`.
  virtual void create(const std::string& name, const std::string& modelfile, const std::filesystem::path& base_dir,
                      const std::optional<std::string>& quantize,
                      const std::function<void(const std::string& status)>& progress) = 0;
  // Downloads `model` from its registry into the store (POST /api/pull, or runtime::pull_model), each progress
  // line to `progress`; setting `cancel` abandons it (a pull keeps its partial blobs for the next one). Throws
  // runtime::PullError (store side) or std::runtime_error with the server's message.
  virtual void pull(const std::string& model, bool insecure, const std::atomic<bool>& cancel,
                    const std::function<void(const runtime::PullProgress&)>& progress) = 0;
  // Uploads `model` to the registry its name points at (POST /api/push, or runtime::push_model on the store),
  // each progress line to `progress`; setting `cancel` abandons it. Throws runtime::PullError (store side) or
  // std::runtime_error with the server's message.
  virtual void push(const std::string& model, bool insecure, const std::atomic<bool>& cancel,
                    const std::function<void(const runtime::PullProgress&)>& progress) = 0;
};

// The server at LOCUS_HOST (default 127.0.0.1:11434) when GET /api/version answers within a short timeout,
// else the local store ($LOCUS_MODELS). Throws std::runtime_error for a LOCUS_HOST that does not parse.
std::unique_ptr<ModelClient> connect_model_client();

// The base URL LOCUS_HOST names ("http://127.0.0.1:11434"); a wildcard listen address is reached on loopback.
std::string server_base_url();

}  // namespace locus::cli
