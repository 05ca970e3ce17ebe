// Ollama's NDJSON chat and generate responses (api-compat.md §2.5). Internal: use make_response_writer.
#pragma once

#include <memory>

#include "server/response_writer.h"

namespace locus::server {

std::unique_ptr<ResponseWriter> make_ollama_writer(const ApiRequest& request, WriterConfig config);

}  // namespace locus::server
