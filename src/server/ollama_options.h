// Ollama's request `options` object (api-compat.md §2.4) onto SamplingOptions, with the type rules of Go's
// Options.FromMap.
#pragma once

#include <string>
#include <vector>

#include "runtime/sampling_options.h"
#include "server/api_request.h"
#include "server/json_fields.h"

namespace locus::server {

// Integer options take any JSON number (a fraction is truncated toward zero, as Go's int(float64) does); float
// options take any JSON number; `stop` takes an array of strings; `use_mmap` a boolean. A null value leaves the
// option unset. The wrong type throws FieldError naming "PATH.KEY". Legacy keys that ollama-js still
// advertises (numa, low_vram, f16_kv, logits_all, vocab_only, use_mlock, embedding_only, tfs_z, mirostat*,
// penalize_newline) are accepted and ignored; other unknown keys are ignored with a line in `warnings`.
// With `media`, the media keys (read_media_option) go there; without it (embeddings) they are unknown keys.
void apply_ollama_options(const OrderedJson& options, const std::string& path, runtime::SamplingOptions& sampling,
                          RunnerOptions& runner, std::vector<std::string>& warnings, MediaOptions* media = nullptr);

// One media option by its name (image_tokens, image_size_rule, video_frames, video_frame_tokens, video_audio,
// video_layout), both APIs' spelling; false when `key` is none of them. Types: integers (a fraction is
// truncated when `truncate_numbers`, Ollama's rule, else refused), booleans, and "google" | "llama.cpp".
// Ranges are check_media_options's job, once every key is read (a budget depends on the rule).
bool read_media_option(std::string_view key, const OrderedJson& value, const std::string& path, bool truncate_numbers,
                       MediaOptions& media);

// The stop list of both APIs: an array of strings (and, when allow_string, a single string for OpenAI).
std::vector<std::string> read_stop_list(const OrderedJson& value, const std::string& path, bool allow_string);

}  // namespace locus::server
