// JSON Schema compiled into a table of nodes that `JsonMatcher` (json_matcher.h) walks byte by byte, for
// constrained decoding: the matcher tells which bytes may come next so that the output always parses and
// validates against the schema.
//
// Supported (anything else is a compile error naming the keyword and the JSON-pointer path; nothing is ignored
// silently except the annotations title, description, default, examples, $schema, $id, $comment, deprecated,
// readOnly, writeOnly and the boolean "strict"):
//  - type (a name or a list), nullable: true, enum, const (any JSON values; matched as their compact
//    serialization in the dialect, so `enum:[1.0]` must be written `1.0`; beside enum/const only type,
//    nullable and annotations are allowed, and type filters the listed values)
//  - objects: properties (written in schema order in kJson, in key-byte order in kGemmaToolArgs, which is the
//    order Gemma's template renders), required, additionalProperties. Absent additionalProperties is treated
//    as false (the output still validates, and the model cannot invent keys), except that an object schema
//    without properties and without additionalProperties: false is any object. Extra keys (true or a schema)
//    come after the declared ones and never repeat a declared name (duplicate extra keys are not prevented).
//    At most 64 declared properties per object. Keys may not use \u escapes (every other escape is fine).
//  - arrays: items (a schema or a boolean), prefixItems, minItems, maxItems
//  - strings: minLength, maxLength (code points; an escape is one), format (see StringFormat below)
//  - numbers: -?(0|[1-9][0-9]{0,15})(.[0-9]{1,16})?([eE][+-]?[0-9]{1,3})? with the exponent at most 290 (so
//    the value is a finite double: parsers refuse overflowing numbers); integer: no fraction or exponent;
//    minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers; with any of them exponents are refused)
//  - anyOf / oneOf whose alternatives start with different bytes (literals are merged; integer beside number
//    becomes number), allOf with one element, local $ref ("#", "#/$defs/X", "#/definitions/X" or any pointer
//    into the same document; recursion must pass through an object or array)
//  - schema `true` or `{}`: any JSON value; `false` is an error.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace locus::text {

enum class JsonDialect { kJson, kGemmaToolArgs };

// In kGemmaToolArgs input, this byte stands for Gemma's <|"|> token (the string delimiter). It never occurs in
// valid UTF-8.
inline constexpr uint8_t kSymQuote = 0xFF;

// Objects and arrays nested deeper than this cannot be opened (the matcher's stack is fixed).
inline constexpr int kMaxJsonDepth = 32;
// The longest run of whitespace between two structural tokens: unbounded whitespace lets a constrained model
// loop forever.
inline constexpr int kMaxJsonWhitespace = 16;
// Declared properties per object (the matcher keeps the allowed ones as a 64-bit mask).
inline constexpr int kMaxJsonProperties = 64;

inline constexpr uint32_t kNoJsonNode = 0xFFFFFFFFu;

// Character-level templates for `format`, each accepting exactly the values of one simple form:
//  date       YYYY-MM-DD, month 01-12, day valid for the month (leap years by the Gregorian rule)
//  time       HH:MM:SS[.F{1,9}](Z|+HH:MM|-HH:MM), hours 00-23, minutes and seconds 00-59 (no leap second),
//             upper-case Z only
//  date-time  date 'T' time (upper-case T)
//  uuid       8-4-4-4-12 hex digits (either case)
//  email      local@domain: local is 1-64 characters of [A-Za-z0-9_+-] in dot-separated non-empty runs; the
//             domain has at least two dot-separated labels of [A-Za-z0-9-] (1-63 characters, no '-' at either
//             end), at most 253 characters
//  ipv4       four decimal octets 0-255 without leading zeros, dot-separated
enum class StringFormat : uint8_t { kNone, kDate, kTime, kDateTime, kUuid, kEmail, kIpv4 };

enum class JsonNodeKind : uint8_t {
  kAlt,       // a choice made by the first byte: alt_table[byte] is the node to follow
  kObject,
  kArray,
  kString,
  kNumber,
  kLiterals,  // a fixed set of serialized values (true/false/null, enum, const), as a trie
  kPending,   // compile time only: a $ref whose target is being compiled
};

struct JsonNode {
  JsonNodeKind kind = JsonNodeKind::kPending;
  StringFormat format = StringFormat::kNone;
  bool integer = false;      // number: no fraction or exponent
  bool bounded = false;      // number: has a minimum or maximum (then exponents are refused)
  bool has_min = false, has_max = false, min_exclusive = false, max_exclusive = false;
  uint32_t alt_table = 0;    // alt: index into alt_tables
  uint32_t first = 0;        // object: first property; array: first prefix item
  uint32_t count = 0;        // object: number of properties; array: number of prefix items
  uint32_t trie = 0;         // object: key trie root (terminal = property index); literals: the values' trie
  uint32_t child = kNoJsonNode;  // object: additional properties' node; array: items' node (kNoJsonNode: none)
  uint64_t required = 0;     // object: bit i set when property i is required
  uint32_t min_len = 0, max_len = 0xFFFFFFFFu;  // string: code points; array: items (max capped at 65535)
  double min = 0, max = 0;   // number: the bounds as given
  int64_t imin = 0, imax = 0;  // integer: the bounds as inclusive integers
};

struct JsonProperty {
  std::string name;
  uint32_t node = kNoJsonNode;
};

struct JsonTrieNode {
  uint32_t first_edge = 0;
  uint32_t edge_count = 0;
  int32_t terminal = -1;     // the id of the string ending here, or -1
  uint64_t subtree_ids = 0;  // bit i: string id i (< 64) ends in this subtree (object keys)
};

struct JsonTrieEdge {
  uint8_t byte = 0;
  uint32_t next = 0;
};

// Compiled, immutable, shareable between threads.
struct JsonGrammar {
  JsonDialect dialect = JsonDialect::kJson;
  uint32_t root = kNoJsonNode;
  // compile_tool_call_grammar: the input starts with `call:NAME`, a trie over those prefixes whose terminal is
  // an index into tool_parameters, and goes on with that tool's arguments object.
  bool tool_call = false;
  uint32_t tool_trie = 0;
  std::vector<uint32_t> tool_parameters;

  std::vector<JsonNode> nodes;
  std::vector<JsonProperty> properties;
  std::vector<uint32_t> prefix_items;
  std::vector<std::array<uint32_t, 256>> alt_tables;
  std::vector<JsonTrieNode> trie_nodes;
  std::vector<JsonTrieEdge> trie_edges;

  // The trie node reached from `node` by `byte`, or kNoJsonNode.
  uint32_t trie_next(uint32_t node, uint8_t byte) const {
    const JsonTrieNode& n = trie_nodes[node];
    const JsonTrieEdge* e = trie_edges.data() + n.first_edge;
    for (uint32_t i = 0; i < n.edge_count; ++i) {
      if (e[i].byte == byte) return e[i].next;
    }
    return kNoJsonNode;
  }
};

struct GrammarResult {
  std::shared_ptr<const JsonGrammar> grammar;
  std::string error;  // non-empty <=> grammar null
};

// `schema` is a JSON Schema (ordered_json, so property order is the schema's). Errors are one line naming the
// JSON-pointer path and the keyword: "schema at /properties/name: keyword 'pattern' is not supported".
GrammarResult compile_json_schema(const nlohmann::ordered_json& schema, JsonDialect dialect = JsonDialect::kJson);

// Ollama format:"json" / OpenAI json_object: any JSON object at the top level.
std::shared_ptr<const JsonGrammar> any_json_object_grammar();

// The body of a Gemma 4 tool call, `call:NAME{args}` (tool_call_syntax.h), for any one of `tools`
// (OpenAI-style {"type":"function","function":{"name","description","parameters": schema}} or just
// {"name","parameters"}), the arguments in kGemmaToolArgs dialect validated by that tool's parameters schema.
// A tool without parameters takes `{}` only. Errors name the tool: "tool 'x': schema at /...: ...".
GrammarResult compile_tool_call_grammar(const std::vector<nlohmann::ordered_json>& tools);

// True when `name` can be written as a bare key or tool name in Gemma's call syntax.
bool is_bare_json_name(std::string_view name);

}  // namespace locus::text
