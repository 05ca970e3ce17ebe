#include "server/api_request.h"

namespace locus::server {

const char* api_name(Api api) {
  switch (api) {
    case Api::kOllamaChat: return "ollama_chat";
    case Api::kOllamaGenerate: return "ollama_generate";
    case Api::kOpenAiChat: return "openai_chat";
    case Api::kOpenAiCompletions: return "openai_completions";
  }
  return "unknown";
}

}  // namespace locus::server
