// Ollama's request `options` that the runtime honours, with Ollama's names and server defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace locus::runtime {

// Defaults are Ollama's server defaults as recorded in shared/docs/api-compat.md §2.4 (read from Ollama's
// api/types.go DefaultOptions). Note repeat_penalty is 1.0 there (off), not the 1.1 of older Ollama docs.
// Gemma 4's model card recommends temperature 1.0, top_k 64, top_p 0.95 (shared/docs/gemma4.md §9); that is
// a per-model override (Modelfile parameters), not a server default, so it does not belong here.
struct SamplingOptions {
  // --- sampling chain (see sampler.h for the order they are applied in) ---
  float temperature = 0.8f;        // 0 = greedy (argmax after penalties)
  int32_t top_k = 40;              // <= 0 disables (llama.cpp; vLLM clients send -1)
  float top_p = 0.9f;              // [0, 1]; 1 disables
  float min_p = 0.0f;              // [0, 1]; 0 disables
  float typical_p = 1.0f;          // (0, 1]; 1 disables
  int32_t repeat_last_n = 64;      // tokens of history the penalties look at; 0 disables, -1 = whole context
  float repeat_penalty = 1.0f;     // > 0; 1 disables
  float presence_penalty = 0.0f;   // subtracted once from every token present in the window
  float frequency_penalty = 0.0f;  // subtracted once per occurrence in the window
  int64_t seed = -1;               // -1 = a fresh random seed per request; any other value is used as is

  // --- generation limits ---
  int32_t num_predict = -1;  // > 0 caps generated tokens; <= 0 is unbounded (until the context is full),
                             // as in Ollama's runner (`numPredict > 0 && numPredicted >= numPredict`)
  int32_t num_ctx = 0;       // 0 = use the engine's context (Ollama picks it by VRAM tier or
                             // OLLAMA_CONTEXT_LENGTH; see default_num_ctx)
  int32_t num_keep = 4;      // prompt tokens kept at the start when truncating; -1 = all
  int32_t num_batch = 512;   // prompt tokens evaluated per model call
  std::vector<std::string> stop;  // stop strings; empty strings are ignored
};

// Ollama's VRAM-tiered default context when neither num_ctx nor OLLAMA_CONTEXT_LENGTH is set
// (api-compat.md §2.4): 4096 below 24 GiB, 32768 from 24 to 48 GiB, 262144 from 48 GiB.
int32_t default_num_ctx(uint64_t vram_bytes);

// Returns a one-line message naming the option, the accepted range and the value found
// (e.g. "top_p must be in [0, 1], got 1.5"), or nothing when every option is usable.
std::optional<std::string> validate(const SamplingOptions& options);

// Largest number of top log-probabilities a request may ask for (Ollama and OpenAI both cap at 20).
inline constexpr int32_t kMaxTopLogprobs = 20;

}  // namespace locus::runtime
