// POST /v1/audio/transcriptions, OpenAI's speech-to-text endpoint, on Gemma 4's audio input: the multipart
// upload becomes an ordinary ApiRequest (Api::kOpenAiTranscription) that the backend generates like a chat,
// and the answer is written in the shape the client asked for.
//
//   ParseResult p = parse_transcription(request.header("Content-Type"), request.body);
//   ... backend.generate(std::move(p.request)) ... make_response_writer picks the transcription writer.
//
// Form fields (api-compat: OpenAI's reference): `file` (required: the audio; any format the media layer
// decodes, told by its bytes), `model` (required), `language`, `prompt`, `response_format` (json | text |
// verbose_json; srt and vtt are refused), `temperature` (default 0), `stream` ("true": SSE transcript.text.delta
// events and a transcript.text.done), `include[]` (logprobs), `timestamp_granularities[]` (segment only).
// Other fields (`chunking_strategy`, unknown ones) are accepted with a warning.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "server/api_request.h"
#include "server/multipart.h"
#include "server/response_writer.h"

namespace locus::server {

// The request: one user turn holding the audio (media[0], kind audio, mime from the file part's Content-Type)
// then the instruction text (transcription_instruction), thinking off, temperature from the form (0 when not
// given), top_p 1. logprobs is on for verbose_json (segments carry avg_logprob) and for include[]=logprobs.
// Errors are 400s naming the form field (or "file" / the body for a malformed upload).
ParseResult parse_transcription(std::string_view content_type, std::string_view body,
                                const MultipartLimits& limits = {});

// What the model is told: transcribe verbatim, in `language` when given, with `prompt` as earlier context.
std::string transcription_instruction(const std::string& language, const std::string& prompt);

// The answer: json {"text", "usage" (tokens), "logprobs"?}; text (text/plain); verbose_json {"task":
// "transcribe", "language", "duration", "text", "segments": [one segment spanning the clip], "usage"
// (duration)}; duration is DoneEvent::input_audio_seconds. Streaming: transcript.text.delta events, then
// transcript.text.done with the whole text and the usage; no [DONE]. The text is the answer without
// surrounding blanks; thinking and tool calls, should the model produce them, are not part of it.
std::unique_ptr<ResponseWriter> make_transcription_writer(const ApiRequest& request, WriterConfig config);

}  // namespace locus::server
