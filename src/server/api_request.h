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
  // POST /v1/audio/transcriptions (multipart, transcription.h): a user turn of the audio and an instruction to
  // transcribe it, thinking off; the answer is written as {"text"}, plain text or verbose_json.
  kOpenAiTranscription,
};
const char* api_name(Api api);  // "ollama_chat", ...
inline bool is_openai(Api api) {
  return api == Api::kOpenAiChat || api == Api::kOpenAiCompletions || api == Api::kOpenAiTranscription;
}

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
  // The bytes, decoded from base64 (empty only while `url` waits to be fetched).
  std::string bytes;
  // As declared by the client: a data: URI's type ("image/png"), "audio/<format>" for OpenAI input_audio, a
  // transcription upload's part Content-Type; else empty. Never trusted: the media layer identifies content
  // by its bytes, so a type that lies about them is no error.
  std::string mime;
  // Per input token budget (soft tokens of an image, or of each frame of a video), from OpenAI's `detail`:
  // "low" 70, "high" 1120, "auto" (or none) unset. When set it wins over MediaOptions::image_tokens.
  std::optional<int32_t> max_tokens;
  // An http(s) URL the client sent instead of bytes (OpenAI image_url / video_url / input_video), with `bytes`
  // empty; `param` is the field's path for errors. The HTTP side fetches it when the server allows fetching
  // (ServeOptions::allow_media_urls) and refuses the request otherwise; nothing below the server sees one.
  std::string url;
  std::string param;
};

// How a request's media become tokens (docs/serve.md, "Media"). Unset fields take the server's defaults:
// Google's size rule and layout, 280 tokens per image, 32 frames of 70 tokens per video, no video sound.
// Ollama sends these in `options`, OpenAI as top-level fields of the chat body, under the same names.
struct MediaOptions {
  // How an image is sized for the vision projector (media::SizeRule): Google's processor (its token ladder,
  // no letterbox) or llama.cpp's smart resize with letterbox (any budget in 70..1120).
  enum class SizeRule { kGoogle, kLlamaCpp };
  // How a video's frames are sampled and laid out in the prompt: Google's processor (frames spread evenly,
  // an MM:SS timestamp before each) or llama.cpp's helper (by fps, a timestamp every 5 s).
  enum class VideoLayout { kGoogle, kLlamaCpp };

  std::optional<int32_t> image_tokens;        // `image_tokens`: soft tokens per image (kImageTokenLadder / 70..1120)
  std::optional<SizeRule> image_size_rule;    // `image_size_rule`: "google" | "llama.cpp"
  std::optional<int32_t> video_frames;        // `video_frames`: frames sampled per video, 1..kMaxVideoFrames
  std::optional<int32_t> video_frame_tokens;  // `video_frame_tokens`: soft tokens per frame (ladder / 70..1120)
  std::optional<bool> video_audio;            // `video_audio`: also feed the video's sound track
  std::optional<VideoLayout> video_layout;    // `video_layout`: "google" | "llama.cpp"

  bool operator==(const MediaOptions&) const = default;
};

// Google's budgets (the only ones its size rule takes); llama.cpp's rule takes any value between the ends.
inline constexpr int32_t kImageTokenLadder[] = {70, 140, 280, 560, 1120};
inline constexpr int32_t kMinImageTokens = 70;
inline constexpr int32_t kMaxImageTokens = 1120;
inline constexpr int32_t kMaxVideoFrames = 64;
// OpenAI `detail`.
inline constexpr int32_t kDetailLowTokens = 70;
inline constexpr int32_t kDetailHighTokens = 1120;

// POST /v1/audio/transcriptions: what the answer looks like and what the instruction said.
struct TranscriptionOptions {
  enum class Format { kJson, kText, kVerboseJson };
  Format format = Format::kJson;
  std::string language;  // as sent (ISO-639-1 "en" is what OpenAI documents); empty when not given
  std::string prompt;    // as sent; empty when not given
  // (`temperature` goes to ApiRequest::options, 0 when not given.)
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
  MediaOptions media_options;
  TranscriptionOptions transcription;  // kOpenAiTranscription only

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

// Whether the options' budgets fit their rules: image_tokens against image_size_rule (default_rule when the
// request names none), video_frame_tokens against video_layout's rule (default_layout likewise; Google's
// layout sizes frames by Google's rule), video_frames in 1..kMaxVideoFrames. (A MediaInput's max_tokens comes
// from `detail`, whose values every rule takes.) The parsers check requests against Google's defaults; a
// server whose defaults differ checks again with its own. The error (400) names the field with `prefix`
// ("options." for Ollama, "" for OpenAI) and says what was expected and what was found.
std::optional<ApiError> check_media_options(const MediaOptions& options, const std::string& prefix,
                                            MediaOptions::SizeRule default_rule = MediaOptions::SizeRule::kGoogle,
                                            MediaOptions::VideoLayout default_layout = MediaOptions::VideoLayout::kGoogle);
// Whether `tokens` is a budget `rule` takes.
bool valid_image_tokens(int64_t tokens, MediaOptions::SizeRule rule);
// "google" | "llama.cpp".
const char* size_rule_name(MediaOptions::SizeRule rule);
const char* video_layout_name(MediaOptions::VideoLayout layout);

// Either a request or the error; C++20 has no std::expected.
struct ParseResult {
  ApiRequest request;  // meaningful only when ok()
  std::optional<ApiError> error;
  bool ok() const { return !error.has_value(); }
};

}  // namespace locus::server
