#include "text/json_grammar.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "text/utf8.h"

namespace locus::text {
namespace {

using ojson = nlohmann::ordered_json;

struct CompileError {
  std::string message;
};

constexpr uint32_t kUnbounded = 0xFFFFFFFFu;
// The largest magnitude a number may have: 16 integer digits, no exponent once bounds are given.
constexpr int64_t kMaxInteger = 9999999999999999;

bool is_annotation(const std::string& key) {
  static const std::set<std::string> kAnnotations = {
      "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly",
      "writeOnly", "strict"};
  return kAnnotations.count(key) > 0;
}

enum TypeBit : unsigned {
  kTypeNull = 1, kTypeBoolean = 2, kTypeInteger = 4, kTypeNumber = 8, kTypeString = 16, kTypeObject = 32,
  kTypeArray = 64,
};

// Which types a keyword constrains: a keyword that applies to none of the schema's types is an error (it
// would be ignored).
unsigned keyword_types(const std::string& key) {
  static const std::map<std::string, unsigned> kKeywords = {
      {"properties", kTypeObject}, {"required", kTypeObject}, {"additionalProperties", kTypeObject},
      {"items", kTypeArray}, {"prefixItems", kTypeArray}, {"minItems", kTypeArray}, {"maxItems", kTypeArray},
      {"minLength", kTypeString}, {"maxLength", kTypeString}, {"format", kTypeString},
      {"minimum", kTypeInteger | kTypeNumber}, {"maximum", kTypeInteger | kTypeNumber},
      {"exclusiveMinimum", kTypeInteger | kTypeNumber}, {"exclusiveMaximum", kTypeInteger | kTypeNumber},
  };
  const auto it = kKeywords.find(key);
  return it == kKeywords.end() ? 0 : it->second;
}

bool is_structural_keyword(const std::string& key) {
  return key == "type" || key == "enum" || key == "const" || key == "anyOf" || key == "oneOf" ||
         key == "allOf" || key == "$ref" || key == "$defs" || key == "definitions" || key == "nullable";
}

std::string pointer_token(const std::string& key) {
  std::string out;
  for (const char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string show_byte(uint8_t b) {
  if (b == kSymQuote) return "<|\"|>";
  if (b >= 0x20 && b < 0x7F) return std::string(1, static_cast<char>(b));
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("\\x") + kHex[b >> 4] + kHex[b & 15];
}

bool is_bare_name_byte(uint8_t u) {
  // tool_call_syntax.cpp's is_name_char: the parser must read back exactly what the matcher allows.
  if (u < 0x20 || u == 0x7F || u == kSymQuote) return false;
  switch (u) {
    case ' ': case ':': case '{': case '}': case '[': case ']': case ',': case '<': case '>':
    case '"': case '\'': case '`': case '\\':
      return false;
    default:
      return true;
  }
}

// Deeper than any schema written by hand or generated from types (and than kMaxJsonDepth, the output's limit).
constexpr int kMaxSchemaNesting = 128;

class Compiler {
 public:
  Compiler(JsonGrammar& g, const ojson& document) : g_(g), doc_(document) {}

  // The node for the schema at JSON pointer `pointer` of the document (memoized, so $ref recursion ends).
  uint32_t compile_ref(const std::string& pointer, const std::string& from) {
    if (const auto it = memo_.find(pointer); it != memo_.end()) return it->second;
    nlohmann::ordered_json::json_pointer ptr;
    try {
      ptr = nlohmann::ordered_json::json_pointer(pointer);
    } catch (const std::exception&) {
      fail(from, "$ref '#" + pointer + "' is not a valid JSON pointer");
    }
    if (!doc_.contains(ptr)) fail(from, "$ref '#" + pointer + "' points to nothing");
    const uint32_t slot = new_node();
    memo_[pointer] = slot;
    const uint32_t result = compile(doc_.at(ptr), pointer);
    if (result == slot || g_.nodes[result].kind == JsonNodeKind::kPending) {
      fail(pointer, "recursive $ref must pass through an object or array");
    }
    g_.nodes[slot] = g_.nodes[result];
    return slot;
  }

  uint32_t compile(const ojson& s, const std::string& path) {
    // Schemas come from clients: nesting (and chains of $ref, which recurse through here too) is bounded so a
    // hostile schema gets an error, not a stack overflow.
    if (nesting_ >= kMaxSchemaNesting) {
      fail(path.substr(0, 200), "schema nested deeper than " + std::to_string(kMaxSchemaNesting) +
                                    " levels (counting $ref hops)");
    }
    struct Nest {
      int& n;
      explicit Nest(int& v) : n(v) { ++n; }
      ~Nest() { --n; }
    } nest(nesting_);
    if (s.is_boolean()) {
      if (s.get<bool>()) return any_value();
      fail(path, "schema 'false' accepts nothing");
    }
    if (!s.is_object()) fail(path, "a schema must be an object or a boolean");
    for (const auto& [key, value] : s.items()) {
      if (key == "strict" && !value.is_boolean()) fail(path, "keyword 'strict' must be a boolean");
      if (is_annotation(key) || is_structural_keyword(key) || keyword_types(key) != 0) continue;
      fail(path, "keyword '" + key + "' is not supported");
    }
    const bool nullable = s.contains("nullable") && s["nullable"].is_boolean() && s["nullable"].get<bool>();
    if (s.contains("nullable") && !s["nullable"].is_boolean()) fail(path, "keyword 'nullable' must be a boolean");

    if (s.contains("$ref")) {
      only_beside(s, path, "$ref", {"nullable"});
      if (!s["$ref"].is_string()) fail(path, "keyword '$ref' must be a string");
      const std::string ref = s["$ref"].get<std::string>();
      if (ref.empty() || ref[0] != '#') fail(path, "$ref '" + ref + "' is not local (only '#...' is supported)");
      const uint32_t target = compile_ref(ref.substr(1), path);
      return nullable ? make_alt({target, null_literal()}, path, "$ref") : target;
    }
    for (const char* combinator : {"anyOf", "oneOf", "allOf"}) {
      if (!s.contains(combinator)) continue;
      only_beside(s, path, combinator, {"nullable"});
      const ojson& list = s[combinator];
      if (!list.is_array() || list.empty()) fail(path, std::string("keyword '") + combinator + "' must be a non-empty array");
      const std::string base = path + "/" + combinator + "/";
      if (std::string(combinator) == "allOf") {
        if (list.size() != 1) fail(path, "keyword 'allOf' with more than one schema is not supported");
        const uint32_t only = compile(list[0], base + "0");
        return nullable ? make_alt({only, null_literal()}, path, combinator) : only;
      }
      std::vector<uint32_t> alternatives;
      for (size_t i = 0; i < list.size(); ++i) alternatives.push_back(compile(list[i], base + std::to_string(i)));
      if (nullable) alternatives.push_back(null_literal());
      return make_alt(alternatives, path, combinator);
    }

    unsigned types = 0;
    if (s.contains("type")) {
      const ojson& t = s["type"];
      if (t.is_string()) {
        types = type_bit(t.get<std::string>(), path);
      } else if (t.is_array() && !t.empty()) {
        for (const auto& item : t) {
          if (!item.is_string()) fail(path, "keyword 'type' must be a type name or a list of them");
          types |= type_bit(item.get<std::string>(), path);
        }
      } else {
        fail(path, "keyword 'type' must be a type name or a list of them");
      }
    }
    if (nullable) types |= types != 0 ? unsigned{kTypeNull} : 0u;

    if (s.contains("enum") || s.contains("const")) {
      if (s.contains("enum") && s.contains("const")) fail(path, "keyword 'const' beside 'enum' is not supported");
      const char* keyword = s.contains("enum") ? "enum" : "const";
      only_beside(s, path, keyword, {"type", "nullable"});
      std::vector<ojson> values;
      if (s.contains("const")) {
        values.push_back(s["const"]);
      } else {
        if (!s["enum"].is_array() || s["enum"].empty()) fail(path, "keyword 'enum' must be a non-empty array");
        for (const auto& v : s["enum"]) values.push_back(v);
      }
      if (nullable) values.push_back(nullptr);
      std::vector<std::string> texts;
      for (const auto& v : values) {
        if (types != 0 && (value_type(v) & types) == 0) continue;
        texts.push_back(serialize(v, path, keyword));
      }
      if (texts.empty()) fail(path, std::string("no value of keyword '") + keyword + "' has the schema's type");
      return literal_node(texts);
    }

    if (types == 0) {
      for (const auto& [key, value] : s.items()) types |= keyword_types(key);
      if (types == 0) return any_value();  // only annotations (and maybe nullable): anything goes
      if (nullable) types |= kTypeNull;
    }
    for (const auto& [key, value] : s.items()) {
      const unsigned applies = keyword_types(key);
      if (applies != 0 && (applies & types) == 0) fail(path, "keyword '" + key + "' does not apply to the schema's type");
    }
    if ((types & kTypeNumber) != 0) types &= ~kTypeInteger;  // integer beside number: number covers it

    std::vector<uint32_t> alternatives;
    std::vector<std::string> literals;
    if (types & kTypeNull) literals.push_back("null");
    if (types & kTypeBoolean) {
      literals.push_back("true");
      literals.push_back("false");
    }
    if (!literals.empty()) alternatives.push_back(literal_node(literals));
    if (types & kTypeInteger) alternatives.push_back(number_node(s, path, true));
    if (types & kTypeNumber) alternatives.push_back(number_node(s, path, false));
    if (types & kTypeString) alternatives.push_back(string_node(s, path));
    if (types & kTypeObject) alternatives.push_back(object_node(s, path));
    if (types & kTypeArray) alternatives.push_back(array_node(s, path));
    return make_alt(alternatives, path, "type");
  }

  // Any JSON value: a small recursive set of nodes built once per document.
  uint32_t any_value() {
    if (any_value_ != kNoJsonNode) return any_value_;
    any_value_ = new_node();
    JsonNode object;
    object.kind = JsonNodeKind::kObject;
    object.trie = build_trie({});
    object.child = any_value_;
    any_object_ = push(object);
    JsonNode array;
    array.kind = JsonNodeKind::kArray;
    array.child = any_value_;
    const uint32_t any_array = push(array);
    JsonNode string;
    string.kind = JsonNodeKind::kString;
    const uint32_t any_string = push(string);
    JsonNode number;
    number.kind = JsonNodeKind::kNumber;
    const uint32_t any_number = push(number);
    const uint32_t literals = literal_node({"true", "false", "null"});
    const uint32_t alt = make_alt({any_object_, any_array, any_string, any_number, literals}, "", "type");
    g_.nodes[any_value_] = g_.nodes[alt];
    return any_value_;
  }

  uint32_t any_object() {
    any_value();
    return any_object_;
  }

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw CompileError{"schema at " + (path.empty() ? std::string("/") : path) + ": " + what};
  }

 private:
  uint32_t new_node() {
    g_.nodes.emplace_back();
    return static_cast<uint32_t>(g_.nodes.size() - 1);
  }
  uint32_t push(const JsonNode& n) {
    g_.nodes.push_back(n);
    return static_cast<uint32_t>(g_.nodes.size() - 1);
  }

  void only_beside(const ojson& s, const std::string& path, const std::string& keyword,
                   std::initializer_list<const char*> also) const {
    for (const auto& [key, value] : s.items()) {
      if (key == keyword || is_annotation(key) || key == "$defs" || key == "definitions") continue;
      bool ok = false;
      for (const char* a : also) ok = ok || key == a;
      if (!ok) fail(path, "keyword '" + key + "' beside '" + keyword + "' is not supported");
    }
  }

  unsigned type_bit(const std::string& name, const std::string& path) const {
    if (name == "null") return kTypeNull;
    if (name == "boolean") return kTypeBoolean;
    if (name == "integer") return kTypeInteger;
    if (name == "number") return kTypeNumber;
    if (name == "string") return kTypeString;
    if (name == "object") return kTypeObject;
    if (name == "array") return kTypeArray;
    fail(path, "keyword 'type' names an unknown type '" + name + "'");
  }

  static unsigned value_type(const ojson& v) {
    if (v.is_null()) return kTypeNull;
    if (v.is_boolean()) return kTypeBoolean;
    if (v.is_number_integer()) return kTypeInteger | kTypeNumber;
    if (v.is_number()) {
      const double d = v.get<double>();
      return std::floor(d) == d ? kTypeInteger | kTypeNumber : kTypeNumber;
    }
    if (v.is_string()) return kTypeString;
    if (v.is_object()) return kTypeObject;
    return kTypeArray;
  }

  void check_key(const std::string& key, const std::string& path, const std::string& keyword) const {
    if (!is_valid_utf8(key)) fail(path, "keyword '" + keyword + "' has a name that is not valid UTF-8");
    if (g_.dialect == JsonDialect::kGemmaToolArgs) {
      if (!is_bare_json_name(key)) {
        fail(path, "keyword '" + keyword + "': name '" + key +
                       "' cannot be written as a bare key in Gemma's tool-call syntax");
      }
      return;
    }
    for (const char c : key) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 && c != '\b' && c != '\f' && c != '\n' && c != '\r' && c != '\t') {
        fail(path, "keyword '" + keyword + "': a name with a control character that needs a \\u escape is not supported");
      }
    }
  }

  // A value as the model must write it: compact JSON, or Gemma's syntax (sorted bare keys, <|"|> strings).
  std::string serialize(const ojson& v, const std::string& path, const std::string& keyword) const {
    if (g_.dialect == JsonDialect::kJson) {
      if (v.is_object()) {
        for (const auto& [key, value] : v.items()) check_key(key, path, keyword);
      }
      try {
        return v.dump();
      } catch (const std::exception&) {
        fail(path, "keyword '" + keyword + "' has a value that is not valid UTF-8");
      }
    }
    if (v.is_string()) {
      const std::string& text = v.get_ref<const std::string&>();
      if (!is_valid_utf8(text)) fail(path, "keyword '" + keyword + "' has a value that is not valid UTF-8");
      return std::string(1, static_cast<char>(kSymQuote)) + text + static_cast<char>(kSymQuote);
    }
    if (v.is_object()) {
      std::vector<std::string> keys;
      for (const auto& [key, value] : v.items()) {
        check_key(key, path, keyword);
        keys.push_back(key);
      }
      std::sort(keys.begin(), keys.end());
      std::string out = "{";
      for (size_t i = 0; i < keys.size(); ++i) {
        if (i > 0) out += ',';
        out += keys[i] + ":" + serialize(v[keys[i]], path, keyword);
      }
      return out + "}";
    }
    if (v.is_array()) {
      std::string out = "[";
      for (size_t i = 0; i < v.size(); ++i) {
        if (i > 0) out += ',';
        out += serialize(v[i], path, keyword);
      }
      return out + "]";
    }
    return v.dump();
  }

  uint32_t null_literal() { return literal_node({"null"}); }

  uint32_t literal_node(std::vector<std::string> texts) {
    std::sort(texts.begin(), texts.end());
    texts.erase(std::unique(texts.begin(), texts.end()), texts.end());
    std::vector<std::pair<std::string, int32_t>> items;
    for (const auto& t : texts) items.emplace_back(t, 0);
    JsonNode n;
    n.kind = JsonNodeKind::kLiterals;
    n.trie = build_trie(items);
    literal_texts_[n.trie] = texts;
    return push(n);
  }

  uint32_t build_trie(std::vector<std::pair<std::string, int32_t>> items) {
    std::stable_sort(items.begin(), items.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    return build_trie_range(items, 0, items.size(), 0);
  }

  uint32_t build_trie_range(const std::vector<std::pair<std::string, int32_t>>& items, size_t lo, size_t hi,
                            size_t depth) {
    const auto index = static_cast<uint32_t>(g_.trie_nodes.size());
    g_.trie_nodes.emplace_back();
    uint64_t ids = 0;
    for (size_t i = lo; i < hi; ++i) {
      if (items[i].second >= 0 && items[i].second < 64) ids |= uint64_t{1} << items[i].second;
    }
    size_t i = lo;
    int32_t terminal = -1;
    while (i < hi && items[i].first.size() == depth) {
      if (terminal < 0) terminal = items[i].second;
      ++i;
    }
    std::vector<std::pair<size_t, size_t>> groups;
    while (i < hi) {
      size_t j = i + 1;
      while (j < hi && items[j].first[depth] == items[i].first[depth]) ++j;
      groups.emplace_back(i, j);
      i = j;
    }
    const auto first_edge = static_cast<uint32_t>(g_.trie_edges.size());
    g_.trie_edges.resize(g_.trie_edges.size() + groups.size());
    for (size_t k = 0; k < groups.size(); ++k) {
      const uint32_t child = build_trie_range(items, groups[k].first, groups[k].second, depth + 1);
      g_.trie_edges[first_edge + k] = {static_cast<uint8_t>(items[groups[k].first].first[depth]), child};
    }
    JsonTrieNode& node = g_.trie_nodes[index];
    node.first_edge = first_edge;
    node.edge_count = static_cast<uint32_t>(groups.size());
    node.terminal = terminal;
    node.subtree_ids = ids;
    return index;
  }

  std::vector<uint8_t> first_bytes(uint32_t node) const {
    const JsonNode& n = g_.nodes[node];
    switch (n.kind) {
      case JsonNodeKind::kObject: return {'{'};
      case JsonNodeKind::kArray: return {'['};
      case JsonNodeKind::kString:
        return {g_.dialect == JsonDialect::kJson ? static_cast<uint8_t>('"') : kSymQuote};
      case JsonNodeKind::kNumber: return {'-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'};
      case JsonNodeKind::kLiterals: {
        std::vector<uint8_t> out;
        const JsonTrieNode& t = g_.trie_nodes[n.trie];
        for (uint32_t i = 0; i < t.edge_count; ++i) out.push_back(g_.trie_edges[t.first_edge + i].byte);
        return out;
      }
      default: return {};
    }
  }

  static bool same_bounds(const JsonNode& a, const JsonNode& b) {
    return a.has_min == b.has_min && a.has_max == b.has_max && (!a.has_min || a.min == b.min) &&
           (!a.has_max || a.max == b.max) && a.min_exclusive == b.min_exclusive && a.max_exclusive == b.max_exclusive;
  }

  uint32_t make_alt(const std::vector<uint32_t>& alternatives, const std::string& path, const std::string& keyword) {
    std::vector<uint32_t> members;
    for (const uint32_t a : alternatives) {
      const JsonNode& n = g_.nodes[a];
      if (n.kind == JsonNodeKind::kPending) fail(path, "recursive $ref must pass through an object or array");
      if (n.kind == JsonNodeKind::kAlt) {
        const auto& inner = alt_members_.at(n.alt_table);
        members.insert(members.end(), inner.begin(), inner.end());
      } else {
        members.push_back(a);
      }
    }
    // Literal alternatives (consts, enums, booleans, null) become one set, so `oneOf` of consts works.
    std::vector<std::string> texts;
    size_t literal_count = 0;
    for (const uint32_t m : members) {
      if (g_.nodes[m].kind != JsonNodeKind::kLiterals) continue;
      ++literal_count;
      const auto& t = literal_texts_.at(g_.nodes[m].trie);
      texts.insert(texts.end(), t.begin(), t.end());
    }
    if (literal_count > 1) {
      std::vector<uint32_t> rest;
      for (const uint32_t m : members) {
        if (g_.nodes[m].kind != JsonNodeKind::kLiterals) rest.push_back(m);
      }
      rest.push_back(literal_node(texts));
      members = rest;
    }
    // An integer beside a number: the number alternative accepts every integer it would, when bounds agree.
    for (size_t i = 0; i < members.size(); ++i) {
      const JsonNode& a = g_.nodes[members[i]];
      if (a.kind != JsonNodeKind::kNumber || !a.integer) continue;
      for (size_t j = 0; j < members.size(); ++j) {
        const JsonNode& b = g_.nodes[members[j]];
        if (b.kind == JsonNodeKind::kNumber && !b.integer && (!b.bounded || same_bounds(a, b))) {
          members.erase(members.begin() + static_cast<std::ptrdiff_t>(i));
          --i;
          break;
        }
      }
    }
    if (members.size() == 1) return members[0];
    std::array<uint32_t, 256> table;
    table.fill(kNoJsonNode);
    for (const uint32_t m : members) {
      for (const uint8_t b : first_bytes(m)) {
        if (table[b] != kNoJsonNode) {
          throw CompileError{keyword + " alternatives at " + (path.empty() ? std::string("/") : path) +
                             " both start with '" + show_byte(b) + "'"};
        }
        table[b] = m;
      }
    }
    JsonNode n;
    n.kind = JsonNodeKind::kAlt;
    n.alt_table = static_cast<uint32_t>(g_.alt_tables.size());
    g_.alt_tables.push_back(table);
    alt_members_[n.alt_table] = members;
    return push(n);
  }

  uint32_t number_node(const ojson& s, const std::string& path, bool integer) {
    JsonNode n;
    n.kind = JsonNodeKind::kNumber;
    n.integer = integer;
    auto bound = [&](const char* key) -> const ojson* {
      if (!s.contains(key)) return nullptr;
      if (!s[key].is_number()) fail(path, std::string("keyword '") + key + "' must be a number");
      return &s[key];
    };
    // Of a minimum and an exclusive minimum, the tighter one counts.
    if (const ojson* v = bound("minimum")) {
      n.has_min = true;
      n.min = v->get<double>();
    }
    if (const ojson* v = bound("exclusiveMinimum")) {
      const double x = v->get<double>();
      if (!n.has_min || x >= n.min) {
        n.has_min = true;
        n.min = x;
        n.min_exclusive = true;
      }
    }
    if (const ojson* v = bound("maximum")) {
      n.has_max = true;
      n.max = v->get<double>();
    }
    if (const ojson* v = bound("exclusiveMaximum")) {
      const double x = v->get<double>();
      if (!n.has_max || x <= n.max) {
        n.has_max = true;
        n.max = x;
        n.max_exclusive = true;
      }
    }
    n.bounded = n.has_min || n.has_max;
    const auto limit = static_cast<double>(kMaxInteger);
    if (n.has_min && n.min > limit) fail(path, "keyword 'minimum': numbers above 9999999999999999 cannot be written");
    if (n.has_max && n.max < -limit) fail(path, "keyword 'maximum': numbers below -9999999999999999 cannot be written");
    if (integer) {
      double lo = -limit;
      double hi = limit;
      if (n.has_min) lo = std::max(lo, n.min_exclusive ? std::floor(n.min) + 1 : std::ceil(n.min));
      if (n.has_max) hi = std::min(hi, n.max_exclusive ? std::ceil(n.max) - 1 : std::floor(n.max));
      n.imin = static_cast<int64_t>(lo);
      n.imax = static_cast<int64_t>(hi);
      if (n.imin > n.imax) fail(path, "keyword 'maximum': no integer lies within the bounds");
    } else if (n.has_min && n.has_max &&
               (n.min > n.max || (n.min == n.max && (n.min_exclusive || n.max_exclusive)))) {
      fail(path, "keyword 'maximum': no number lies within the bounds");
    }
    return push(n);
  }

  uint32_t string_node(const ojson& s, const std::string& path) {
    JsonNode n;
    n.kind = JsonNodeKind::kString;
    n.min_len = count_keyword(s, path, "minLength", 0);
    n.max_len = count_keyword(s, path, "maxLength", kUnbounded);
    if (n.min_len > n.max_len) fail(path, "keyword 'minLength' is larger than 'maxLength'");
    if (s.contains("format")) {
      if (!s["format"].is_string()) fail(path, "keyword 'format' must be a string");
      const std::string f = s["format"].get<std::string>();
      static const std::map<std::string, StringFormat> kFormats = {
          {"date", StringFormat::kDate}, {"time", StringFormat::kTime}, {"date-time", StringFormat::kDateTime},
          {"uuid", StringFormat::kUuid}, {"email", StringFormat::kEmail}, {"ipv4", StringFormat::kIpv4}};
      const auto it = kFormats.find(f);
      if (it == kFormats.end()) fail(path, "keyword 'format': format '" + f + "' is not supported");
      n.format = it->second;
      for (const char* k : {"minLength", "maxLength"}) {
        if (s.contains(k)) fail(path, std::string("keyword '") + k + "' beside 'format' is not supported");
      }
    }
    return push(n);
  }

  uint32_t count_keyword(const ojson& s, const std::string& path, const char* key, uint32_t fallback) const {
    if (!s.contains(key)) return fallback;
    const ojson& v = s[key];
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
      fail(path, std::string("keyword '") + key + "' must be a non-negative integer");
    }
    const uint64_t x = v.get<uint64_t>();
    return x >= kUnbounded ? kUnbounded - 1 : static_cast<uint32_t>(x);
  }

  uint32_t object_node(const ojson& s, const std::string& path) {
    struct Prop {
      std::string name;
      uint32_t node;
      bool required;
    };
    std::vector<Prop> props;
    if (s.contains("properties")) {
      if (!s["properties"].is_object()) fail(path, "keyword 'properties' must be an object");
      for (const auto& [key, value] : s["properties"].items()) {
        check_key(key, path, "properties");
        props.push_back({key, compile(value, path + "/properties/" + pointer_token(key)), false});
      }
    }
    uint32_t additional = kNoJsonNode;
    if (s.contains("additionalProperties")) {
      const ojson& a = s["additionalProperties"];
      if (a.is_boolean()) {
        additional = a.get<bool>() ? any_value() : kNoJsonNode;
      } else {
        additional = compile(a, path + "/additionalProperties");
      }
    } else if (props.empty()) {
      additional = any_value();
    }
    if (s.contains("required")) {
      if (!s["required"].is_array()) fail(path, "keyword 'required' must be an array of names");
      for (const auto& r : s["required"]) {
        if (!r.is_string()) fail(path, "keyword 'required' must be an array of names");
        const std::string name = r.get<std::string>();
        auto it = std::find_if(props.begin(), props.end(), [&](const Prop& p) { return p.name == name; });
        if (it == props.end()) {
          // A required key that is not declared must still be written: declare it with the extra keys' schema.
          if (additional == kNoJsonNode) fail(path, "keyword 'required': property '" + name + "' is not declared in 'properties'");
          check_key(name, path, "required");
          props.push_back({name, additional, true});
        } else {
          it->required = true;
        }
      }
    }
    if (props.size() > static_cast<size_t>(kMaxJsonProperties)) {
      fail(path, "keyword 'properties': more than 64 properties are not supported");
    }
    if (g_.dialect == JsonDialect::kGemmaToolArgs) {
      std::stable_sort(props.begin(), props.end(), [](const Prop& a, const Prop& b) { return a.name < b.name; });
    }
    JsonNode n;
    n.kind = JsonNodeKind::kObject;
    n.first = static_cast<uint32_t>(g_.properties.size());
    n.count = static_cast<uint32_t>(props.size());
    n.child = additional;
    std::vector<std::pair<std::string, int32_t>> keys;
    for (size_t i = 0; i < props.size(); ++i) {
      g_.properties.push_back({props[i].name, props[i].node});
      if (props[i].required) n.required |= uint64_t{1} << i;
      keys.emplace_back(props[i].name, static_cast<int32_t>(i));
    }
    n.trie = build_trie(keys);
    return push(n);
  }

  uint32_t array_node(const ojson& s, const std::string& path) {
    JsonNode n;
    n.kind = JsonNodeKind::kArray;
    std::vector<uint32_t> prefix;
    if (s.contains("prefixItems")) {
      if (!s["prefixItems"].is_array()) fail(path, "keyword 'prefixItems' must be an array of schemas");
      for (size_t i = 0; i < s["prefixItems"].size(); ++i) {
        prefix.push_back(compile(s["prefixItems"][i], path + "/prefixItems/" + std::to_string(i)));
      }
    }
    n.child = any_value();
    if (s.contains("items")) {
      const ojson& items = s["items"];
      if (items.is_array()) fail(path, "keyword 'items' as an array is not supported (use 'prefixItems')");
      if (items.is_boolean()) {
        n.child = items.get<bool>() ? any_value() : kNoJsonNode;
      } else {
        n.child = compile(items, path + "/items");
      }
    }
    n.min_len = count_keyword(s, path, "minItems", 0);
    n.max_len = count_keyword(s, path, "maxItems", kUnbounded);
    if (n.max_len > 65535) n.max_len = kUnbounded;
    if (n.min_len > 65535) fail(path, "keyword 'minItems' above 65535 is not supported");
    if (n.min_len > n.max_len) fail(path, "keyword 'minItems' is larger than 'maxItems'");
    if (n.child == kNoJsonNode && n.min_len > prefix.size()) {
      fail(path, "keyword 'minItems' asks for more items than 'prefixItems' and 'items' allow");
    }
    if (prefix.size() > 65535) fail(path, "keyword 'prefixItems' with more than 65535 schemas is not supported");
    n.first = static_cast<uint32_t>(g_.prefix_items.size());
    n.count = static_cast<uint32_t>(prefix.size());
    g_.prefix_items.insert(g_.prefix_items.end(), prefix.begin(), prefix.end());
    return push(n);
  }

  JsonGrammar& g_;
  const ojson& doc_;
  std::map<std::string, uint32_t> memo_;
  int nesting_ = 0;  // compile() calls on the stack
  std::map<uint32_t, std::vector<uint32_t>> alt_members_;         // alt table -> member nodes
  std::map<uint32_t, std::vector<std::string>> literal_texts_;    // literal trie root -> its texts
  uint32_t any_value_ = kNoJsonNode;
  uint32_t any_object_ = kNoJsonNode;

 public:
  uint32_t tool_trie(const std::vector<std::string>& prefixes) {
    std::vector<std::pair<std::string, int32_t>> items;
    for (size_t i = 0; i < prefixes.size(); ++i) items.emplace_back(prefixes[i], static_cast<int32_t>(i));
    return build_trie(items);
  }
};

}  // namespace

bool is_bare_json_name(std::string_view name) {
  if (name.empty() || !is_valid_utf8(name)) return false;
  for (const char c : name) {
    if (!is_bare_name_byte(static_cast<uint8_t>(c))) return false;
  }
  return true;
}

GrammarResult compile_json_schema(const nlohmann::ordered_json& schema, JsonDialect dialect) {
  auto g = std::make_shared<JsonGrammar>();
  g->dialect = dialect;
  try {
    Compiler c(*g, schema);
    g->root = c.compile_ref("", "");
  } catch (const CompileError& e) {
    return {nullptr, e.message};
  }
  return {std::move(g), ""};
}

std::shared_ptr<const JsonGrammar> any_json_object_grammar() {
  static const std::shared_ptr<const JsonGrammar> grammar = [] {
    auto g = std::make_shared<JsonGrammar>();
    const nlohmann::ordered_json empty = nlohmann::ordered_json::object();
    Compiler c(*g, empty);
    g->root = c.any_object();
    return std::shared_ptr<const JsonGrammar>(std::move(g));
  }();
  return grammar;
}

GrammarResult compile_tool_call_grammar(const std::vector<nlohmann::ordered_json>& tools) {
  auto g = std::make_shared<JsonGrammar>();
  g->dialect = JsonDialect::kGemmaToolArgs;
  g->tool_call = true;
  if (tools.empty()) return {nullptr, "no tools to call"};
  std::vector<std::string> prefixes;
  std::set<std::string> names;
  for (size_t i = 0; i < tools.size(); ++i) {
    const nlohmann::ordered_json& tool = tools[i];
    const std::string where = "tool " + std::to_string(i);
    const nlohmann::ordered_json* f = &tool;
    if (tool.is_object() && tool.contains("function")) f = &tool["function"];
    if (!f->is_object() || !f->contains("name") || !(*f)["name"].is_string()) {
      return {nullptr, where + ": a tool needs a string 'name'"};
    }
    const std::string name = (*f)["name"].get<std::string>();
    if (!is_bare_json_name(name)) return {nullptr, "tool '" + name + "': the name cannot be written in Gemma's call syntax"};
    if (!names.insert(name).second) return {nullptr, "tool '" + name + "': the name is declared twice"};
    static const nlohmann::ordered_json kNoParameters = {{"type", "object"}, {"additionalProperties", false}};
    const nlohmann::ordered_json& parameters =
        f->contains("parameters") && !(*f)["parameters"].is_null() ? (*f)["parameters"] : kNoParameters;
    try {
      Compiler c(*g, parameters);
      const uint32_t node = c.compile_ref("", "");
      if (g->nodes[node].kind != JsonNodeKind::kObject) c.fail("", "tool parameters must be an object schema");
      g->tool_parameters.push_back(node);
    } catch (const CompileError& e) {
      return {nullptr, "tool '" + name + "': " + e.message};
    }
    prefixes.push_back("call:" + name);
  }
  Compiler c(*g, tools[0]);
  g->tool_trie = c.tool_trie(prefixes);
  return {std::move(g), ""};
}

}  // namespace locus::text
