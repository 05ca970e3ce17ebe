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
void apply_ollama_options(const OrderedJson& options, const std::string& path, runtime::SamplingOptions& sampling,
                          RunnerOptions& runner, std::vector<std::string>& warnings);

// The stop list of both APIs: an array of strings (and, when allow_string, a single string for OpenAI).
std::vector<std::string> read_stop_list(const OrderedJson& value, const std::string& path, bool allow_string);

}  // namespace locus::server
