// The --format argument of `run` and `bench`: "json" (any JSON object), a JSON Schema inline, or @FILE holding one.
#pragma once

#include <memory>
#include <string>

#include "text/json_grammar.h"

namespace locus::cli {

// The compiled grammar, or std::invalid_argument with a one-line reason (unreadable file, not JSON, an
// unsupported schema feature named by text::compile_json_schema). Empty `value`: nullptr (free text).
std::shared_ptr<const text::JsonGrammar> format_grammar(const std::string& value);

}  // namespace locus::cli
