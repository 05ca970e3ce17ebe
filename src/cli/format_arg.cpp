#include "cli/format_arg.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace locus::cli {

std::shared_ptr<const text::JsonGrammar> format_grammar(const std::string& value) {
  if (value.empty()) return nullptr;
  if (value == "json") return text::any_json_object_grammar();
  std::string schema_text = value;
  if (value[0] == '@') {
    std::ifstream f(value.substr(1), std::ios::binary);
    if (!f) throw std::invalid_argument("--format: cannot read " + value.substr(1));
    std::ostringstream ss;
    ss << f.rdbuf();
    schema_text = ss.str();
  }
  const auto schema = nlohmann::ordered_json::parse(schema_text, nullptr, false);
  if (schema.is_discarded()) {
    throw std::invalid_argument("--format takes 'json', a JSON Schema or @FILE; this is not JSON: " +
                                schema_text.substr(0, 60));
  }
  text::GrammarResult g = text::compile_json_schema(schema);
  if (!g.grammar) throw std::invalid_argument("--format: " + g.error);
  return g.grammar;
}

}  // namespace locus::cli
