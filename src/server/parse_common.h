// Pieces the Ollama and OpenAI parsers share. Internal to the server.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/api_request.h"
#include "server/json_fields.h"

namespace locus::server {

// The role, lower-cased first (both APIs accept "User", api-compat.md §2.2).
text::ChatRole parse_role(const OrderedJson* value, const std::string& path);

// Strict standard base64 into bytes; the error names `path` and what was wrong.
std::string decode_media_base64(const OrderedJson& value, const std::string& path);

// Ollama carries audio inside `images`, so the kind comes from the first bytes: WAV (RIFF....WAVE), MP3 (ID3
// tag or an MPEG frame sync, which ADTS AAC shares), FLAC, Ogg and AMR are audio; AVI (RIFF....AVI ), EBML
// (WebM, Matroska) and ISO media files (....ftyp) other than M4A-style audio and HEIF/AVIF images are video;
// anything else is left to the image decoder. A reading of magic bytes only: the media layer probes the
// content and has the last word (an audio-only WebM reads as video here).
text::ContentPartKind sniff_media_kind(std::string_view bytes);

// `tools`: an array of {"type":"function","function":{"name", "description"?, "parameters"?}}.
std::vector<nlohmann::json> parse_tools(const OrderedJson& tools, const std::string& path);

// A tool call's arguments as an object; `path` names the field in errors.
nlohmann::json arguments_object(const OrderedJson& value, const std::string& path);

// A message's `tool_calls`: [{id?, function: {name, arguments}}]. The APIs differ only in the arguments'
// form, so `decode` turns that field (null when absent) into the object.
using DecodeArguments = nlohmann::json (*)(const OrderedJson* arguments, const std::string& path);
std::vector<text::ToolCall> read_tool_calls(const OrderedJson& message, const std::string& path,
                                            DecodeArguments decode);

// runtime::validate on the final options; `prefix` is "options." for Ollama, "" for OpenAI.
void check_sampling(const runtime::SamplingOptions& options, const std::string& prefix);

// top_logprobs in [0, kMaxTopLogprobs].
int32_t read_top_logprobs(const OrderedJson& body, std::string_view key, const std::string& parent);

// Fields both Ollama endpoints share: format, options, stream, keep_alive, think, truncate, shift, logprobs,
// top_logprobs.
void parse_ollama_common(const OrderedJson& body, ApiRequest& request);

// Turns a FieldError (or a JSON library error from a bug) into the result's error.
template <typename Fn>
ParseResult parse_guarded(Fn&& fn) {
  ParseResult result;
  try {
    fn(result.request);
  } catch (const FieldError& e) {
    result.error = ApiError{e.http_status(), e.what(), e.param()};
  } catch (const nlohmann::json::exception& e) {
    result.error = ApiError{400, std::string("invalid request: ") + e.what(), ""};
  }
  return result;
}

// The body must be an object with a non-empty string `model`.
std::string read_model(const OrderedJson& body);

}  // namespace locus::server
