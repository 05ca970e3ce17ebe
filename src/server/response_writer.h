// What generation produces, written in each API's wire format (api-compat.md §2.5, §2.8, §2.9). The layers
// below report events (text, thinking, a tool call, done, error); a ResponseWriter made for the request turns
// each into the bytes to send: NDJSON lines for Ollama, SSE events for OpenAI, or, when the client did not ask
// to stream, nothing until done() returns the whole answer as one JSON object.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/generator.h"
#include "server/api_request.h"

namespace locus::server {

// Why a response ended, in the server's terms; each API spells it its own way.
enum class FinishReason {
  kStop,    // end of turn or a stop string (OpenAI: "tool_calls" when the turn made tool calls)
  kLength,  // num_predict, the context, or a repetition loop cut the answer short
  kLoad,    // Ollama: a request without a prompt only loaded the model
  kUnload,  // Ollama: ... or unloaded it (keep_alive 0)
};

struct DoneEvent {
  FinishReason reason = FinishReason::kStop;
  int32_t prompt_eval_count = 0;     // prompt tokens evaluated
  int32_t eval_count = 0;            // tokens generated
  int32_t cached_prompt_tokens = 0;  // prompt tokens served from a cache (OpenAI prompt_tokens_details)
  int32_t reasoning_tokens = 0;      // generated tokens that were thinking (OpenAI completion_tokens_details)
  int64_t total_duration_ns = 0;     // request received to done, loading included
  int64_t load_duration_ns = 0;
  int64_t prompt_eval_duration_ns = 0;
  int64_t eval_duration_ns = 0;
  std::vector<int32_t> context;  // Ollama generate (not raw): the conversation's tokens, for the next request
  // Seconds of sound in the request's media as the media layer decoded them (audio clips, and the sound tracks
  // of videos that were fed with it), summed; 0 when there was none. The backend fills it; the transcription
  // writer reports it as verbose_json's `duration`.
  double input_audio_seconds = 0;
};

// The runtime's result as a DoneEvent: counts and durations copied, total = prompt eval + eval (add loading and
// queueing on top). A repetition loop reads as kLength (the answer was cut, it did not finish); a cancelled
// request as kStop (nobody is reading). DoneReason::error is the caller's to report through error().
DoneEvent done_event_from(const runtime::GenerateResult& result);

// One generated token's log-probabilities as the writers put them on the wire: the runtime's values
// (runtime::Sampler::logprobs: log-softmax of the model's logits) with each token's text. `token` holds the
// token's raw bytes, which for a byte-fallback token may be part of a UTF-8 character (the JSON string then
// shows U+FFFD; the `bytes` array the writers add has the exact bytes). A logprob of -infinity (a token the model
// gives no probability) is written as -9999.0, OpenAI's stand-in, since JSON has no infinity.
struct WireLogprob {
  std::string token;
  float logprob = 0.0f;
};
struct TokenLogprobEntry {
  WireLogprob chosen;
  std::vector<WireLogprob> top;  // the most likely first; empty unless the request asked for top_logprobs > 0
};

struct WriterConfig {
  std::string model;    // as the client named it
  std::string id;       // OpenAI: "chatcmpl-..." / "cmpl-..." (make_response_id), the same on every chunk
  int64_t created = 0;  // OpenAI: Unix seconds, the same on every chunk
  uint64_t tool_call_seed = 0;  // tool call ids are make_tool_call_id(seed, n) for the n-th call of the turn
  std::string system_fingerprint = "fp_local";
  // Ollama's created_at on each line; the system clock when empty (tests pin it).
  std::function<std::chrono::system_clock::time_point()> now;
};

class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;

  // Each returns the bytes to send now, possibly none. Empty text is no event. After done() or error() the
  // response is finished and further calls return nothing.
  virtual std::string text(std::string_view text) = 0;
  virtual std::string thinking(std::string_view text) = 0;
  // A complete tool call; arguments is a JSON object's text (the output parser's), key order kept.
  virtual std::string tool_call(std::string_view name, std::string_view arguments_json) = 0;
  virtual std::string done(const DoneEvent& done) = 0;
  // The log-probabilities of the tokens behind the next text, thinking, tool call or done call: a streaming
  // writer puts them on the chunk that call writes, a non-streaming one adds them to the whole answer's list.
  // Ignored when the request did not ask for logprobs. Every generated token but the end-of-turn token is
  // reported once, thinking and tool-call tokens included (docs/serve.md).
  virtual void logprobs(std::span<const TokenLogprobEntry> entries) = 0;
  // A failure after the request was accepted. If started() is still false the server should rather answer
  // with an HTTP status and error_body(); otherwise this is the stream's last line/event (the client then
  // throws instead of waiting for a done that never comes).
  virtual std::string error(std::string_view message) = 0;

  // The body's Content-Type: application/x-ndjson, text/event-stream or application/json.
  virtual const char* content_type() const = 0;
  // The error body for an HTTP error status in this API's shape.
  virtual std::string error_body(const ApiError& error) const = 0;

  bool started() const { return started_; }
  bool finished() const { return finished_; }

 protected:
  bool started_ = false;
  bool finished_ = false;
};

std::unique_ptr<ResponseWriter> make_response_writer(const ApiRequest& request, WriterConfig config);

// A logprob as a JSON number: the float's shortest decimal form (-0.12, not -0.11999999731779099), and -9999.0
// for -infinity.
double wire_logprob(float logprob);
// The bytes of `text` as JSON numbers 0..255 (OpenAI's and Ollama's `bytes`).
nlohmann::ordered_json wire_bytes(std::string_view text);
// {"token", "logprob", "bytes"}: one token's entry as both APIs write it (each adds its own top_logprobs).
nlohmann::ordered_json wire_logprob_json(const WireLogprob& t);

// `{"error":"message"}`: Ollama's error body (and, with a newline, its mid-stream error line).
std::string ollama_error_body(std::string_view message);
// `{"error":{"message","type","param","code"}}`; type from the status (400 invalid_request_error, 401
// authentication_error, 403 permission_error, 404 not_found_error, 429 rate_limit_error, else api_error).
std::string openai_error_body(const ApiError& error);

// "call_" + 8 characters of [a-z0-9], the shape Ollama gives its tool call ids; a pure function of its
// arguments so that answers (and tests) are reproducible for a given seed.
std::string make_tool_call_id(uint64_t seed, uint32_t index);
// "chatcmpl-" or "cmpl-" + 12 characters of [a-z0-9], from a seed.
std::string make_response_id(Api api, uint64_t seed);

// Go's RFC 3339 with nanoseconds in UTC, as Ollama's created_at: "2026-06-04T10:00:00.123456789Z", with
// trailing zeros of the fraction dropped (and the dot too when it is all zeros), as Go's RFC3339Nano does.
std::string format_rfc3339_nano(std::chrono::system_clock::time_point time);

}  // namespace locus::server
