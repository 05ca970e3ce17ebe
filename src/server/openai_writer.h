// OpenAI chat.completion(.chunk) and text_completion responses, SSE when streaming (api-compat.md §2.8, §2.9).
// Internal: use make_response_writer.
#pragma once

#include <memory>

#include "server/response_writer.h"

namespace locus::server {

std::unique_ptr<ResponseWriter> make_openai_writer(const ApiRequest& request, WriterConfig config);

}  // namespace locus::server
