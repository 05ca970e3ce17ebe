// The invariants the JSON Schema compiler (src/text/json_grammar.h) and its matcher (src/text/json_matcher.h)
// must keep on any input, shared by the libFuzzer target (json_schema_fuzz.cpp) and the corpus replay test
// (json_schema_corpus_test.cpp). Schemas come from API clients, so every byte of them is outside input.
//
// Input layout: the bytes up to the first 0x00 are a JSON text, parsed with nlohmann::ordered_json without
// exceptions (an input that does not parse, or has no 0x00, is skipped); the byte after the 0x00 picks the entry
// point (its value modulo 4):
//   0  compile_json_schema(json, kJson)
//   1  compile_json_schema(json, kGemmaToolArgs)
//   2  compile_tool_call_grammar(tools): the json is the tools array (its elements; a non-array is one tool)
//   3  compile_tool_call_grammar({json}): the json is a single tool
// and the remaining bytes are fed one at a time to a JsonMatcher of the compiled grammar; a rejected byte is
// skipped (the state must not change) and the next one tried, so the accepted bytes are a subsequence of the
// input. In kGemmaToolArgs the byte 0xFF is kSymQuote (Gemma's <|"|>). Checked:
// - compiling gives a grammar or a non-empty one-line error, never both or neither;
// - advance() that returns false leaves the state unchanged (same_state and state_hash against a copy);
//   a copy (constructor or copy_from) is in the same state, hashes the same and takes the same byte the same way;
// - 0 <= depth() <= kMaxJsonDepth; done() implies can_end();
// - plain_string_budget() of at least one code point means 'a' is accepted;
// - when the accepted bytes can end: in kJson they parse with nlohmann::json as one value; in kGemmaToolArgs
//   they read back through parse_tool_call_body (tool_call_syntax.h) as a call whose arguments are JSON (the
//   text of compile_json_schema as the value of an argument: call:f{v:TEXT});
// - at the end, done() holds exactly when the input can end and no byte is accepted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "text/json_grammar.h"
#include "text/json_matcher.h"
#include "text/tool_call_syntax.h"

namespace locus::fuzz {

// Gemma's <|"|> for kSymQuote, so that the tool-call reader sees the text the model would write.
inline std::string json_schema_unsym(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (static_cast<uint8_t>(c) == text::kSymQuote) {
      out += "<|\"|>";
    } else {
      out += c;
    }
  }
  return out;
}

// Empty when the accepted text reads back in its dialect, else why not.
inline std::string json_schema_read_back(const text::JsonGrammar& g, const std::string& accepted) {
  if (g.dialect == text::JsonDialect::kJson) {
    if (nlohmann::json::parse(accepted, nullptr, false).is_discarded()) {
      return "kJson text that can end does not parse as one JSON value";
    }
    return {};
  }
  // A grammar of compile_json_schema may take any value at the top, so its text goes in as an argument's value.
  const std::string body =
      g.tool_call ? json_schema_unsym(accepted) : "call:f{v:" + json_schema_unsym(accepted) + "}";
  const text::ToolCallSyntax parsed = text::parse_tool_call_body(body);
  if (!parsed.ok) return "kGemmaToolArgs text that can end does not read back as a tool call: " + parsed.error;
  if (nlohmann::json::parse(parsed.arguments_json, nullptr, false).is_discarded()) {
    return "kGemmaToolArgs text that can end reads back as arguments that are not JSON";
  }
  return {};
}

// The entry point that the selector byte picks (see the layout above).
inline text::GrammarResult compile_for_json_schema_fuzz(const nlohmann::ordered_json& schema, uint8_t selector) {
  std::vector<nlohmann::ordered_json> tools;
  switch (selector % 4) {
    case 0:
      return text::compile_json_schema(schema, text::JsonDialect::kJson);
    case 1:
      return text::compile_json_schema(schema, text::JsonDialect::kGemmaToolArgs);
    case 2:
      if (schema.is_array()) {
        tools.assign(schema.begin(), schema.end());
      } else {
        tools.push_back(schema);
      }
      return text::compile_tool_call_grammar(tools);
    default:
      tools.push_back(schema);
      return text::compile_tool_call_grammar(tools);
  }
}

// Empty when every invariant holds, else what broke.
inline std::string check_json_schema(const uint8_t* data, size_t size) {
  const void* zero = std::memchr(data, 0, size);
  if (zero == nullptr) return {};
  const size_t json_size = static_cast<size_t>(static_cast<const uint8_t*>(zero) - data);
  if (json_size + 1 >= size) return {};
  const auto schema = nlohmann::ordered_json::parse(data, data + json_size, nullptr, false);
  if (schema.is_discarded()) return {};
  const uint8_t selector = data[json_size + 1];
  const std::string_view input(reinterpret_cast<const char*>(data + json_size + 2), size - json_size - 2);

  const text::GrammarResult r = compile_for_json_schema_fuzz(schema, selector);
  if (r.grammar == nullptr) {
    if (r.error.empty()) return "compile gave neither a grammar nor an error";
    if (r.error.find('\n') != std::string::npos) return "compile error is not one line: " + r.error;
    return {};
  }
  if (!r.error.empty()) return "compile gave both a grammar and an error: " + r.error;
  const text::JsonGrammar& g = *r.grammar;

  text::JsonMatcher m(g);
  text::JsonMatcher copy(g);
  std::string accepted;
  auto check_state = [&]() -> std::string {
    if (m.depth() < 0 || m.depth() > text::kMaxJsonDepth) return "depth() out of range";
    if (m.done() && !m.can_end()) return "done() without can_end()";
    if (const auto budget = m.plain_string_budget(); budget && *budget >= 1) {
      text::JsonMatcher probe(m);
      if (!probe.advance(static_cast<uint8_t>('a'))) return "plain_string_budget() >= 1 but 'a' is rejected";
    }
    if (m.can_end()) return json_schema_read_back(g, accepted);
    return {};
  };
  if (std::string problem = check_state(); !problem.empty()) return problem + " (at the start)";

  for (const char c : input) {
    const auto b = static_cast<uint8_t>(c);
    copy.copy_from(m);
    if (!copy.same_state(m) || copy.state_hash() != m.state_hash()) return "copy_from gives another state";
    const text::JsonMatcher constructed(m);
    if (!constructed.same_state(m) || constructed.state_hash() != m.state_hash()) {
      return "the copy constructor gives another state";
    }
    const bool ok = m.advance(b);
    if (ok) {
      accepted += c;
    } else if (!m.same_state(constructed) || m.state_hash() != constructed.state_hash()) {
      return "a rejected byte changed the state after " + json_schema_unsym(accepted);
    }
    if (copy.advance(b) != ok || !copy.same_state(m) || copy.state_hash() != m.state_hash()) {
      return "a copy takes the same byte another way after " + json_schema_unsym(accepted);
    }
    if (std::string problem = check_state(); !problem.empty()) {
      return problem + " after " + json_schema_unsym(accepted);
    }
  }

  bool any_byte = false;
  for (int b = 0; b < 256 && !any_byte; ++b) {
    copy.copy_from(m);
    any_byte = copy.advance(static_cast<uint8_t>(b));
  }
  if (m.done() != (m.can_end() && !any_byte)) {
    return "done() is not 'can end and no byte accepted' after " + json_schema_unsym(accepted);
  }
  return {};
}

}  // namespace locus::fuzz
