// From a parsed request to a runtime::Job, and from the generator's text back to events for the HTTP side:
// the prompt rendered (Gemma 4 template, thinking on or off, tools unless tool_choice is none) and tokenized,
// structured output compiled (format / response_format, forced tool calls), and a GenerateSink that runs the
// model's text through text::OutputParser into an EventChannel.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/gemma4_engine.h"
#include "runtime/scheduler.h"
#include "server/api_request.h"
#include "server/event_channel.h"
#include "text/output_parser.h"

namespace locus::server {

struct PreparedJob {
  std::optional<ApiError> error;  // 400: the request cannot be rendered, its schema compiled, ...
  std::shared_ptr<runtime::Job> job;  // prompt, options, truncate, logprobs, structured (no sink, no cancel yet)
  text::OutputParserOptions parser;
  double audio_seconds = 0;  // sound in the request's media (DoneEvent::input_audio_seconds)
};

// Everything but the sink and the cancel flag. `slot_ctx` is the context of one slot: with truncate off, a
// longer prompt is refused here (400) rather than failing after the stream began.
// Media (request.media) are decoded and laid into the prompt here, on the caller's thread, with media_settings
// (the server's defaults with the request's own options applied); bad media or a model without a projector is a
// 400.
PreparedJob prepare_job(const ApiRequest& request, const runtime::Gemma4Engine& engine, uint32_t slot_ctx,
                        const runtime::MediaSettings& media_settings = {});

struct SinkContext {
  bool parse = true;  // run the text through the output parser (raw prompts: pass it as it is)
  text::OutputParserOptions parser;
  int64_t load_ns = 0;
  std::chrono::steady_clock::time_point received;  // total_duration counts from here
  std::string model;                               // for warnings in the log
  bool keep_context = false;  // Ollama generate: done.context = prompt + generated tokens
  std::vector<int32_t> context_prefix;
  double audio_seconds = 0;  // DoneEvent::input_audio_seconds
  // A token's text for logprobs (a view valid until the next call); without it no logprobs are reported.
  std::function<std::string_view(int32_t)> token_text;
};

// The sink behind a generation. Besides the text events it:
// - attaches the log-probabilities of each token (when the job asked and token_text is set) to the first event
//   pushed at or after the token, and those no text event took (marker text, stop strings) to the done event,
//   so every generated token but the end-of-turn token is reported once, in order;
// - counts reasoning tokens (DoneEvent::reasoning_tokens): a token is thinking when the output parser was inside
//   a thought before or after its text went in, so a thought's opening and closing markers count too.
std::shared_ptr<runtime::GenerateSink> make_channel_sink(std::shared_ptr<EventChannel> channel, SinkContext context);

}  // namespace locus::server
