// Gemma 4's tool-call syntax, as the model writes it between `<|tool_call>` and `<tool_call|>`:
//
//   call:NAME{key:value,key:value}
//
// Keys are bare (`<|"|>key<|"|>` is accepted too); a value is a string `<|"|>raw text<|"|>` (no escaping: it
// ends at the next `<|"|>`), a JSON number, `true`, `false`, `null`, an object `{k:v,...}` or an array
// `[v,...]`. Whitespace is allowed between tokens. The arguments come out as a JSON object with the keys in the
// order the model wrote them; strings are JSON-escaped, numbers and literals copied verbatim. Anything else
// (bare words, JSON quotes in place of `<|"|>`, trailing commas, text after the closing `}`) is an error that
// says where and what was found: the parser never guesses at a repair.
#pragma once

#include <string>
#include <string_view>

namespace locus::text {

// Objects and arrays nested deeper than this are refused (the reader is recursive).
inline constexpr int kMaxToolCallDepth = 64;

struct ToolCallSyntax {
  bool ok = false;
  std::string name;            // set as soon as it was read, even when the arguments then fail
  std::string arguments_json;  // a JSON object; empty unless ok
  std::string error;           // why not ok: "at byte N: expected ..., found ..."
};

// Parses the text of one call (without the surrounding markers).
ToolCallSyntax parse_tool_call_body(std::string_view body);

// True when `text` is exactly one JSON number (RFC 8259 grammar: no '+', no leading zeros, no bare '.').
bool is_json_number(std::string_view text);

// Appends `raw` as a JSON string literal (quotes included). Ill-formed UTF-8 becomes U+FFFD, so the result is
// always valid JSON.
void append_json_string(std::string& out, std::string_view raw);

}  // namespace locus::text
