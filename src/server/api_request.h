// The one request type both API families are parsed into (api-compat.md §2.2–2.4, §2.7). Layers below the
// server see this, never a wire format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/sampling_options.h"
#include "text/chat_renderer.h"

namespace locus::server {

// Which endpoint the request came from; it decides the response's wire format and a few defaults.
enum class Api {
  kOllamaChat,         // POST /api/chat
  kOllamaGenerate,     // POST /api/generate
  kOpenAiChat,         // POST /v1/chat/completions
  kOpenAiCompletions,  // POST /v1/completions
};
const char* api_name(Api api);  // "ollama_chat", ...
inline bool is_openai(Api api) { return api == Api::kOpenAiChat || api == Api::kOpenAiCompletions; }

// Structured output. Ollama `format:"json"` and OpenAI `json_object` are kJsonObject; a schema (Ollama `format`
// object, OpenAI `json_schema.schema`) is kJsonSchema.
struct Format {
  enum class Kind { kNone, kJsonObject, kJsonSchema };
  Kind kind = Kind::kNone;
  nlohmann::ordered_json schema;  // kJsonSchema: as sent, key order kept (property order matters to the grammar)
  std::string name;               // OpenAI json_schema.name
  bool strict = false;            // OpenAI json_schema.strict
};

// OpenAI tool_choice; Ollama has none, which is kAuto.
struct ToolChoice {
  enum class Kind { kAuto, kNone, kRequired, kNamed };
  Kind kind = Kind::kAuto;
  std::string name;  // kNamed: a declared tool's name
};

// Gemma 4 thinks or does not; there are no levels. The level the client asked for is kept so that answers
// and logs can say what was requested.
struct Think {
  enum class Mode { kUnset, kOff, kOn };  // kUnset: the client did not say; the model's default applies
  Mode mode = Mode::kUnset;
  // As requested: Ollama "low" | "medium" | "high" | "max" ("medium" for `think:true`), or OpenAI's
  // reasoning_effort ("minimal", "xhigh", ...). Empty for kOff and kUnset.
  std::string level;
};

// How long the model stays loaded after the request (Ollama `keep_alive`). A positive duration below one
// millisecond is rounded up to 1 ms so that only an explicit zero means "unload now".
struct KeepAlive {
  bool forever = false;     // a negative duration or number
  int64_t duration_ms = 0;  // when !forever
  bool unload_now() const { return !forever && duration_ms == 0; }
  bool operator==(const KeepAlive&) const = default;
};

// Bytes of one image, audio clip or video, decoded from base64 but not from their container format (that is
// src/media's job). text::ContentPart carries only the kind, so the bytes live here, pointing at their part.
struct MediaInput {
  static constexpr size_t kInPrompt = static_cast<size_t>(-1);
  text::ContentPartKind kind = text::ContentPartKind::kImage;
  // conversation.messages[message].parts[part] is this input's placeholder; both are kInPrompt for a raw
  // generate request, where the inputs are in the order they were sent.
  size_t message = kInPrompt;
  size_t part = kInPrompt;
  std::string bytes;
  std::string mime;  // from a data: URI ("image/png"), or "audio/<format>" for OpenAI input_audio; else empty
};

// Runner settings from Ollama `options` that are not sampling (§2.4); unset means automatic.
struct RunnerOptions {
  std::optional<int32_t> num_gpu;
  std::optional<int32_t> main_gpu;
  std::optional<int32_t> num_thread;
  std::optional<int32_t> draft_num_predict;
  std::optional<bool> use_mmap;
};

struct ApiRequest {
  Api api = Api::kOllamaChat;
  std::string model;  // as sent; resolving "name:tag" is the model store's job

  // Chat requests, and generate / completions requests that are templated (raw == false): the turns to
  // render. A non-raw generate request becomes [system?, user(prompt + images)], like a one-turn chat.
  text::Conversation conversation;
  std::vector<MediaInput> media;

  // Generate and completions: the prompt as sent. With raw, it is tokenized as is (no template).
  std::string prompt;
  bool raw = false;
  std::string system;  // Ollama generate `system` (also put first in conversation when not raw)
  std::string suffix;  // fill-in-the-middle text after the completion (generate, completions)
  std::string template_override;     // Ollama generate `template`: kept so the server can refuse or warn
  std::vector<int32_t> context;      // Ollama generate `context` (deprecated): token ids of an earlier answer
  // Ollama: an empty prompt (generate) or no messages (chat) asks only to load the model, or to unload it
  // with keep_alive 0 (§2.3); no generation happens.
  bool load_only = false;

  runtime::SamplingOptions options;  // Ollama's defaults, then `options` / OpenAI's fields on top
  RunnerOptions runner;
  Format format;
  ToolChoice tool_choice;
  bool parallel_tool_calls = true;
  Think think;

  bool stream = true;  // default true on Ollama, false on OpenAI
  bool include_usage = false;  // OpenAI stream_options.include_usage: a usage chunk before [DONE]
  std::optional<KeepAlive> keep_alive;  // unset: the server's default
  bool logprobs = false;
  int32_t top_logprobs = 0;  // [0, runtime::kMaxTopLogprobs]
  bool truncate = true;      // drop old prompt tokens past num_ctx instead of failing (Ollama's default)
  bool shift = true;         // context shift instead of erroring when generation fills the context

  // Things that were accepted but have no effect (unknown `options` keys, ignored fields), one line each, for
  // the log; never sent to the client as errors.
  std::vector<std::string> warnings;
};

// A request that cannot be served. `message` is one line naming the field, what was expected and what was
// found; `param` is the field's path (OpenAI's error envelope carries it).
struct ApiError {
  int http_status = 400;
  std::string message;
  std::string param;
  bool operator==(const ApiError&) const = default;
};

// Either a request or the error; C++20 has no std::expected.
struct ParseResult {
  ApiRequest request;  // meaningful only when ok()
  std::optional<ApiError> error;
  bool ok() const { return !error.has_value(); }
};

}  // namespace locus::server
