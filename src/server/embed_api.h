// The three embedding endpoints (api-compat.md §2.6, §2.10 item 10): Ollama `POST /api/embed`, its legacy
// `POST /api/embeddings`, and OpenAI `POST /v1/embeddings`, parsed into one EmbedRequest and written back from
// one EmbedResult. Pure: no model, no HTTP.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/api_request.h"

namespace locus::server {

enum class EmbedApi {
  kOllamaEmbed,       // POST /api/embed
  kOllamaEmbeddings,  // POST /api/embeddings (legacy: one prompt, one vector)
  kOpenAi,            // POST /v1/embeddings
};

// One input: text to tokenize, or (OpenAI) token ids as sent.
struct EmbedInput {
  std::string text;
  std::vector<int32_t> tokens;
  bool is_tokens = false;
};

struct EmbedRequest {
  EmbedApi api = EmbedApi::kOllamaEmbed;
  std::string model;
  std::vector<EmbedInput> inputs;         // never empty once parsed
  bool truncate = true;                   // an input longer than the context: cut to it, or 400
  std::optional<int32_t> dimensions;      // >= 1 here; <= n_embd is checked once the model is known
  std::optional<KeepAlive> keep_alive;
  bool base64 = false;                    // OpenAI encoding_format "base64"
  std::vector<std::string> warnings;      // accepted but without effect (unknown options keys, ...)
};

struct EmbedParse {
  EmbedRequest request;
  std::optional<ApiError> error;
  bool ok() const { return !error.has_value(); }
};

EmbedParse parse_ollama_embed(const nlohmann::ordered_json& body);
EmbedParse parse_ollama_embeddings(const nlohmann::ordered_json& body);
EmbedParse parse_openai_embeddings(const nlohmann::ordered_json& body);

struct EmbedResult {
  std::optional<ApiError> error;
  int retry_after_s = 0;                   // with a 503
  std::string model;                       // display name, for the log
  std::vector<std::vector<float>> embeddings;  // one per input, in order
  int64_t total_duration_ns = 0;
  int64_t load_duration_ns = 0;
  int32_t prompt_tokens = 0;               // summed over the inputs, after truncation
};

// Ollama's `dimensions` / OpenAI's: keep the first `dimensions` floats and L2-normalize them again (the model's
// vectors are normalized over all n_embd, so a prefix alone would not be unit length).
void reduce_dimensions(std::vector<float>& v, size_t dimensions);

// The answer body for `request.api` (the model named as the client sent it).
nlohmann::ordered_json embed_response_json(const EmbedRequest& request, const EmbedResult& result);

}  // namespace locus::server
