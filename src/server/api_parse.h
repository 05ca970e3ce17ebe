// Request bodies of the four generation endpoints into ApiRequest (api-compat.md §2.2–2.4, §2.7). Each returns
// the request or an ApiError (HTTP 400, one line naming the field, what was expected and what was found).
#pragma once

#include <nlohmann/json.hpp>

#include "server/api_request.h"

namespace locus::server {

ParseResult parse_ollama_chat(const nlohmann::ordered_json& body);         // POST /api/chat
ParseResult parse_ollama_generate(const nlohmann::ordered_json& body);     // POST /api/generate
ParseResult parse_openai_chat(const nlohmann::ordered_json& body);         // POST /v1/chat/completions
ParseResult parse_openai_completions(const nlohmann::ordered_json& body);  // POST /v1/completions

}  // namespace locus::server
