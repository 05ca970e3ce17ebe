#include "text/json_grammar.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "text/json_matcher.h"
#include "text/tool_call_syntax.h"
#include "text/utf8.h"

namespace locus::text {
namespace {

using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

constexpr size_t kAll = std::string::npos;

// Tool-dialect inputs are written with Gemma's 5-byte <|"|> and fed with the single byte kSymQuote.
std::string sym(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i, 5) == "<|\"|>") {
      out += static_cast<char>(kSymQuote);
      i += 5;
    } else {
      out += text[i++];
    }
  }
  return out;
}

std::string unsym(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (static_cast<uint8_t>(c) == kSymQuote) {
      out += "<|\"|>";
    } else {
      out += c;
    }
  }
  return out;
}

std::shared_ptr<const JsonGrammar> compile(const std::string& schema, JsonDialect dialect = JsonDialect::kJson) {
  GrammarResult r = compile_json_schema(ojson::parse(schema), dialect);
  EXPECT_TRUE(r.error.empty()) << r.error << " for " << schema;
  EXPECT_NE(r.grammar, nullptr);
  return r.grammar;
}

std::string compile_error(const std::string& schema, JsonDialect dialect = JsonDialect::kJson) {
  GrammarResult r = compile_json_schema(ojson::parse(schema), dialect);
  EXPECT_EQ(r.grammar, nullptr) << schema;
  return r.error;
}

// The index of the first rejected byte, or kAll when every byte was accepted.
size_t first_rejected(const JsonGrammar& g, std::string_view text) {
  JsonMatcher m(g);
  for (size_t i = 0; i < text.size(); ++i) {
    if (!m.advance(static_cast<uint8_t>(text[i]))) return i;
  }
  return kAll;
}

bool accepts_complete(const JsonGrammar& g, std::string_view text) {
  JsonMatcher m(g);
  return m.advance(text) && m.can_end();
}

// ---- a small validator (the schema's meaning, written independently of the compiler) ----

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (const char c : s) n += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
  return n;
}

bool valid_format(const std::string& f, const std::string& s) {
  auto date_ok = [](const std::string& d) {
    static const std::regex re(R"((\d{4})-(\d{2})-(\d{2}))");
    std::smatch m;
    if (!std::regex_match(d, m, re)) return false;
    const int y = std::stoi(m[1]), mo = std::stoi(m[2]), day = std::stoi(m[3]);
    if (mo < 1 || mo > 12 || day < 1) return false;
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    return day <= (mo == 2 && leap ? 29 : kDays[mo - 1]);
  };
  auto time_ok = [](const std::string& t) {
    static const std::regex re(R"(([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d))");
    return std::regex_match(t, re);
  };
  if (f == "date") return date_ok(s);
  if (f == "time") return time_ok(s);
  if (f == "date-time") return s.size() > 11 && s[10] == 'T' && date_ok(s.substr(0, 10)) && time_ok(s.substr(11));
  if (f == "uuid") {
    static const std::regex re(R"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})");
    return std::regex_match(s, re);
  }
  if (f == "ipv4") {
    static const std::regex re(R"(((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))");
    return std::regex_match(s, re);
  }
  if (f == "email") {
    static const std::regex re(
        R"([A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+)");
    const size_t at = s.find('@');
    return std::regex_match(s, re) && at <= 64 && s.size() - at - 1 <= 253;
  }
  return false;
}

bool has_type(const json& v, const std::string& t) {
  if (t == "null") return v.is_null();
  if (t == "boolean") return v.is_boolean();
  if (t == "integer") return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
  if (t == "number") return v.is_number();
  if (t == "string") return v.is_string();
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  return false;
}

bool validate(const json& v, const ojson& s, const ojson& root, std::string& why) {
  if (s.is_boolean()) {
    if (!s.get<bool>()) why = "false schema";
    return s.get<bool>();
  }
  if (s.contains("$ref")) {
    const std::string ref = s["$ref"].get<std::string>().substr(1);
    if (s.value("nullable", false) && v.is_null()) return true;
    return validate(v, root.at(ojson::json_pointer(ref)), root, why);
  }
  if (s.value("nullable", false) && v.is_null()) return true;
  if (s.contains("anyOf") || s.contains("oneOf")) {
    const ojson& list = s.contains("anyOf") ? s["anyOf"] : s["oneOf"];
    int matches = 0;
    for (const auto& alt : list) {
      std::string ignored;
      matches += validate(v, alt, root, ignored);
    }
    if (matches == 0 || (s.contains("oneOf") && matches > 1)) {
      why = "anyOf/oneOf matched " + std::to_string(matches);
      return false;
    }
    return true;
  }
  if (s.contains("allOf")) {
    for (const auto& alt : s["allOf"]) {
      if (!validate(v, alt, root, why)) return false;
    }
  }
  if (s.contains("const") && json(s["const"]) != v) {
    why = "const";
    return false;
  }
  if (s.contains("enum")) {
    bool found = false;
    for (const auto& e : s["enum"]) found = found || json(e) == v;
    if (!found) {
      why = "enum: " + v.dump();
      return false;
    }
  }
  if (s.contains("type")) {
    std::vector<std::string> types;
    if (s["type"].is_string()) {
      types.push_back(s["type"]);
    } else {
      for (const auto& t : s["type"]) types.push_back(t);
    }
    bool ok = false;
    for (const auto& t : types) ok = ok || has_type(v, t);
    if (!ok) {
      why = "type of " + v.dump();
      return false;
    }
  }
  if (v.is_string()) {
    const std::string str = v.get<std::string>();
    if (s.contains("minLength") && code_points(str) < s["minLength"].get<size_t>()) return why = "minLength", false;
    if (s.contains("maxLength") && code_points(str) > s["maxLength"].get<size_t>()) return why = "maxLength", false;
    if (s.contains("format") && !valid_format(s["format"], str)) return why = "format: " + str, false;
  }
  if (v.is_number()) {
    const double x = v.get<double>();
    if (s.contains("minimum") && x < s["minimum"].get<double>()) return why = "minimum " + v.dump(), false;
    if (s.contains("maximum") && x > s["maximum"].get<double>()) return why = "maximum " + v.dump(), false;
    if (s.contains("exclusiveMinimum") && x <= s["exclusiveMinimum"].get<double>()) return why = "exclusiveMinimum " + v.dump(), false;
    if (s.contains("exclusiveMaximum") && x >= s["exclusiveMaximum"].get<double>()) return why = "exclusiveMaximum " + v.dump(), false;
  }
  if (v.is_object()) {
    if (s.contains("required")) {
      for (const auto& r : s["required"]) {
        if (!v.contains(r.get<std::string>())) return why = "required " + r.get<std::string>(), false;
      }
    }
    for (const auto& [key, value] : v.items()) {
      if (s.contains("properties") && s["properties"].contains(key)) {
        if (!validate(value, s["properties"][key], root, why)) return why = key + ": " + why, false;
      } else if (s.contains("additionalProperties")) {
        if (!validate(value, s["additionalProperties"], root, why)) return why = "extra " + key + ": " + why, false;
      }
    }
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return why = "minItems", false;
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return why = "maxItems", false;
    const size_t prefix = s.contains("prefixItems") ? s["prefixItems"].size() : 0;
    for (size_t i = 0; i < v.size(); ++i) {
      const ojson& item = i < prefix ? s["prefixItems"][i] : (s.contains("items") ? s["items"] : ojson(true));
      if (!validate(v[i], item, root, why)) return why = "item " + std::to_string(i) + ": " + why, false;
    }
  }
  return true;
}

// ---- random walks ----

struct Walk {
  std::string text;
  bool dead_end = false;  // no byte allowed, yet not complete
};

bool is_closer(int b) { return b == '"' || b == kSymQuote || b == '}' || b == ']'; }

// From the initial state, picks allowed bytes at random (probing all 256 on copies) until the input can end
// and a coin says stop; closing bytes get likelier as the text grows so that walks finish.
Walk random_walk(const JsonGrammar& g, std::mt19937& rng, size_t soft_cap = 600) {
  Walk w;
  JsonMatcher m(g);
  std::vector<int> allowed, closers, ascii;
  for (size_t steps = 0; steps < 50000; ++steps) {
    allowed.clear();
    closers.clear();
    ascii.clear();
    for (int b = 0; b < 256; ++b) {
      JsonMatcher probe(m);
      if (!probe.advance(static_cast<uint8_t>(b))) continue;
      allowed.push_back(b);
      if (is_closer(b)) closers.push_back(b);
      if (b < 0x80) ascii.push_back(b);
    }
    const bool can_end = m.can_end();
    EXPECT_EQ(m.done(), can_end && allowed.empty());
    if (allowed.empty()) {
      w.dead_end = !can_end;
      return w;
    }
    const double pressure = std::min(1.0, 0.05 + static_cast<double>(w.text.size()) / static_cast<double>(soft_cap));
    std::uniform_real_distribution<double> coin(0, 1);
    if (can_end && coin(rng) < pressure) return w;
    const std::vector<int>* from = &allowed;
    if (!closers.empty() && coin(rng) < pressure * 0.7) {
      from = &closers;
    } else if (!ascii.empty() && coin(rng) < 0.8) {
      from = &ascii;  // keeps strings from being mostly random 4-byte characters
    }
    const int b = (*from)[std::uniform_int_distribution<size_t>(0, from->size() - 1)(rng)];
    EXPECT_TRUE(m.advance(static_cast<uint8_t>(b)));
    w.text += static_cast<char>(b);
  }
  w.dead_end = !m.can_end();
  return w;
}

// Parses a walk's text as the dialect's reader would and returns the JSON value.
bool read_back(const std::string& text, JsonDialect dialect, bool tool_call, json& out, std::string& why) {
  if (dialect == JsonDialect::kJson) {
    try {
      out = json::parse(text);
    } catch (const std::exception& e) {
      why = e.what();
      return false;
    }
    return true;
  }
  const std::string body = tool_call ? unsym(text) : "call:f" + unsym(text);
  const ToolCallSyntax parsed = parse_tool_call_body(body);
  if (!parsed.ok) {
    why = parsed.error;
    return false;
  }
  out = json::parse(parsed.arguments_json);
  if (tool_call) out = json{{"name", parsed.name}, {"arguments", out}};
  return true;
}

void check_walks(const std::string& schema_text, JsonDialect dialect, int walks, uint32_t seed = 1) {
  SCOPED_TRACE(schema_text);
  const ojson schema = ojson::parse(schema_text);
  const auto g = compile(schema_text, dialect);
  ASSERT_NE(g, nullptr);
  std::mt19937 rng(seed);
  for (int i = 0; i < walks; ++i) {
    const Walk w = random_walk(*g, rng);
    ASSERT_FALSE(w.dead_end) << "dead end after " << unsym(w.text);
    json value;
    std::string why;
    ASSERT_TRUE(read_back(w.text, dialect, false, value, why)) << why << " in " << unsym(w.text);
    ASSERT_TRUE(validate(value, schema, schema, why)) << why << " in " << unsym(w.text);
    // The same bytes again give the same state.
    JsonMatcher a(*g), b(*g);
    ASSERT_TRUE(a.advance(w.text));
    ASSERT_TRUE(b.advance(w.text));
    ASSERT_TRUE(a.can_end());
    ASSERT_TRUE(a.same_state(b));
    ASSERT_EQ(a.state_hash(), b.state_hash());
  }
}

// ---- hand-written documents ----

TEST(JsonGrammar, ObjectWithRequiredAndOptionalPropertiesInSchemaOrder) {
  const auto g = compile(R"({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"},
      "c":{"type":"boolean"}},"required":["b"]})");
  EXPECT_TRUE(accepts_complete(*g, R"({"a":"x","b":1,"c":true})"));
  EXPECT_TRUE(accepts_complete(*g, R"({"b":1})"));
  EXPECT_TRUE(accepts_complete(*g, "{ \"b\" :\n 1 , \"c\":false}"));
  EXPECT_TRUE(accepts_complete(*g, R"({"a":"x","b":-0})"));
  EXPECT_EQ(first_rejected(*g, R"({"a":"x"})"), 8u);            // '}' before the required b
  EXPECT_EQ(first_rejected(*g, R"({"c":true})"), 2u);           // c cannot come before the required b
  EXPECT_EQ(first_rejected(*g, R"({"b":1,"a":"x"})"), 8u);      // schema order: a is past
  EXPECT_EQ(first_rejected(*g, R"({"b":1,"d":1})"), 8u);        // undeclared (additionalProperties absent)
  EXPECT_EQ(first_rejected(*g, R"({"b":1.5})"), 6u);            // integer: no fraction
  EXPECT_EQ(first_rejected(*g, R"({"b":1e3})"), 6u);
  EXPECT_EQ(first_rejected(*g, R"({"b":01})"), 6u);
  EXPECT_EQ(first_rejected(*g, R"({"b":1,})"), 7u);             // nothing can follow the comma
  EXPECT_EQ(first_rejected(*g, R"( {"b":1})"), 0u);             // no whitespace before the value
  EXPECT_EQ(first_rejected(*g, "{\"b\":1} "), 7u);              // nor after it
  JsonMatcher m(*g);
  ASSERT_TRUE(m.advance(R"({"b":1})"));
  EXPECT_TRUE(m.can_end());
  EXPECT_TRUE(m.done());
}

TEST(JsonGrammar, WhitespaceRunsAreBounded) {
  const auto g = compile(R"({"type":"array","items":{"type":"integer"}})");
  EXPECT_TRUE(accepts_complete(*g, "[" + std::string(16, ' ') + "1" + std::string(16, '\n') + "]"));
  EXPECT_EQ(first_rejected(*g, "[" + std::string(17, ' ') + "1]"), 17u);
  EXPECT_TRUE(accepts_complete(*g, "[1," + std::string(8, '\t') + std::string(8, '\r') + "2]"));
}

TEST(JsonGrammar, StringsAreStrictUtf8WithJsonEscapes) {
  const auto g = compile(R"({"type":"string"})");
  EXPECT_TRUE(accepts_complete(*g, R"("a\"\\\/\b\f\n\r\t\u00e9\uFFFF")"));
  EXPECT_TRUE(accepts_complete(*g, "\"h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\""));
  EXPECT_EQ(first_rejected(*g, "\"\xC0\x80\""), 1u);          // overlong lead
  EXPECT_EQ(first_rejected(*g, "\"\xE0\x80\x80\""), 2u);      // overlong 3-byte
  EXPECT_EQ(first_rejected(*g, "\"\xED\xA0\x80\""), 2u);      // surrogate
  EXPECT_EQ(first_rejected(*g, "\"\xF4\x90\x80\x80\""), 2u);  // above U+10FFFF
  EXPECT_EQ(first_rejected(*g, "\"\xF5\""), 1u);
  EXPECT_EQ(first_rejected(*g, "\"a\nb\""), 2u);              // raw control byte
  EXPECT_EQ(first_rejected(*g, R"("\x")"), 2u);
  EXPECT_EQ(first_rejected(*g, R"("\uD800")"), 4u);           // surrogate escape refused at its 2nd digit
  EXPECT_EQ(first_rejected(*g, R"("\udfff")"), 4u);
  EXPECT_EQ(first_rejected(*g, R"("\u12G4")"), 5u);
  JsonMatcher m(*g);
  ASSERT_TRUE(m.advance("\"abc\""));
  EXPECT_TRUE(m.done());
}

TEST(JsonGrammar, StringLengthsCountCodePointsAndEscapes) {
  const auto g = compile(R"({"type":"string","minLength":2,"maxLength":3})");
  EXPECT_TRUE(accepts_complete(*g, "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\""));
  EXPECT_TRUE(accepts_complete(*g, R"("\n\u0041")"));
  EXPECT_EQ(first_rejected(*g, R"("a")"), 2u);
  EXPECT_EQ(first_rejected(*g, R"("abcd")"), 4u);
  EXPECT_EQ(first_rejected(*g, R"("ab\n\t")"), 5u);
}

TEST(JsonGrammar, NumbersFollowTheBoundedGrammar) {
  const auto g = compile(R"({"type":"number"})");
  for (const char* ok : {"0", "-0", "12.5", "-3.25e+10", "1E5", "9999999999999999", "0.0000000000000001",
                         "1e-290", "9.9e290"}) {
    EXPECT_TRUE(accepts_complete(*g, ok)) << ok;
  }
  EXPECT_EQ(first_rejected(*g, "99999999999999999"), 16u);  // 17 integer digits
  EXPECT_EQ(first_rejected(*g, "1.00000000000000001"), 18u);
  EXPECT_EQ(first_rejected(*g, "1e1000"), 5u);
  EXPECT_EQ(first_rejected(*g, "1e291"), 4u);  // exponents stay within 290 so that parsers get a finite double
  EXPECT_EQ(first_rejected(*g, "1e-300"), 5u);
  EXPECT_EQ(first_rejected(*g, "+1"), 0u);
  EXPECT_EQ(first_rejected(*g, ".5"), 0u);
  EXPECT_EQ(first_rejected(*g, "1.e5"), 2u);
  EXPECT_EQ(first_rejected(*g, "--1"), 1u);
  EXPECT_FALSE(accepts_complete(*g, "1."));
  EXPECT_FALSE(accepts_complete(*g, "-"));
  EXPECT_FALSE(accepts_complete(*g, "1e+"));
  JsonMatcher m(*g);
  ASSERT_TRUE(m.advance("12"));
  EXPECT_TRUE(m.can_end());
  EXPECT_FALSE(m.done());  // a top-level number may go on
}

TEST(JsonGrammar, IntegerBoundsAllowOnlyPrefixesWithACompletionInRange) {
  const auto g = compile(R"({"type":"integer","minimum":10,"maximum":25})");
  for (int i = -5; i < 40; ++i) {
    EXPECT_EQ(accepts_complete(*g, std::to_string(i)), i >= 10 && i <= 25) << i;
  }
  EXPECT_EQ(first_rejected(*g, "-"), 0u);
  EXPECT_EQ(first_rejected(*g, "3"), 0u);
  EXPECT_EQ(first_rejected(*g, "0"), 0u);
  EXPECT_EQ(first_rejected(*g, "26"), 1u);
  EXPECT_EQ(first_rejected(*g, "1e1"), 1u);
  JsonMatcher m(*g);
  ASSERT_TRUE(m.advance("1"));
  EXPECT_FALSE(m.can_end());
  const auto neg = compile(R"({"type":"integer","exclusiveMinimum":-50,"exclusiveMaximum":-3})");
  for (int i = -60; i < 5; ++i) {
    EXPECT_EQ(accepts_complete(*neg, std::to_string(i)), i > -50 && i < -3) << i;
  }
  const auto big = compile(R"({"type":"integer","minimum":1000})");
  EXPECT_TRUE(accepts_complete(*big, "1000"));
  EXPECT_TRUE(accepts_complete(*big, "9999999999999999"));
  EXPECT_EQ(first_rejected(*big, "999,"), 3u);
}

TEST(JsonGrammar, NumberBoundsWithFractions) {
  const auto g = compile(R"({"type":"number","minimum":0.25,"exclusiveMaximum":0.75})");
  EXPECT_TRUE(accepts_complete(*g, "0.25"));
  EXPECT_TRUE(accepts_complete(*g, "0.5"));
  EXPECT_TRUE(accepts_complete(*g, "0.7499"));
  EXPECT_FALSE(accepts_complete(*g, "0.75"));
  EXPECT_FALSE(accepts_complete(*g, "0.2"));   // "0.2" is a prefix of 0.25..0.29 but not itself in range
  EXPECT_EQ(first_rejected(*g, "0.1"), 2u);
  EXPECT_EQ(first_rejected(*g, "0.8"), 2u);
  EXPECT_EQ(first_rejected(*g, "1"), 0u);
  EXPECT_EQ(first_rejected(*g, "-"), 0u);
  EXPECT_EQ(first_rejected(*g, "0.5e1"), 3u);  // no exponents with bounds
  const auto neg = compile(R"({"type":"number","minimum":-2.5,"maximum":-1})");
  EXPECT_TRUE(accepts_complete(*neg, "-2.5"));
  EXPECT_TRUE(accepts_complete(*neg, "-1"));
  EXPECT_TRUE(accepts_complete(*neg, "-1.0"));
  EXPECT_FALSE(accepts_complete(*neg, "-2.51"));
  EXPECT_EQ(first_rejected(*neg, "-2.6"), 3u);
  EXPECT_EQ(first_rejected(*neg, "-0"), 1u);
  EXPECT_EQ(first_rejected(*neg, "-3"), 1u);
}

TEST(JsonGrammar, LiteralsEnumsAndConsts) {
  const auto g = compile(R"({"enum":["red","green",1,12,null,{"a":[1,2]}]})");
  for (const char* ok : {R"("red")", R"("green")", "1", "12", "null", R"({"a":[1,2]})"}) {
    EXPECT_TRUE(accepts_complete(*g, ok)) << ok;
  }
  EXPECT_EQ(first_rejected(*g, R"("blue")"), 1u);
  EXPECT_EQ(first_rejected(*g, "13"), 1u);
  EXPECT_EQ(first_rejected(*g, R"({"a": [1,2]})"), 5u);  // values are matched as compact text
  const auto typed = compile(R"({"type":"string","enum":["x",1,"y"]})");
  EXPECT_TRUE(accepts_complete(*typed, R"("y")"));
  EXPECT_EQ(first_rejected(*typed, "1"), 0u);  // filtered by type
  const auto b = compile(R"({"type":["boolean","null"]})");
  EXPECT_TRUE(accepts_complete(*b, "true"));
  EXPECT_TRUE(accepts_complete(*b, "false"));
  EXPECT_TRUE(accepts_complete(*b, "null"));
  EXPECT_EQ(first_rejected(*b, "nul "), 3u);
  const auto one = compile(R"({"oneOf":[{"const":"a","description":"A"},{"const":"b"},{"type":"integer"}]})");
  EXPECT_TRUE(accepts_complete(*one, R"("b")"));
  EXPECT_TRUE(accepts_complete(*one, "7"));
  EXPECT_EQ(first_rejected(*one, R"("c")"), 1u);
}

TEST(JsonGrammar, AnyOfDispatchesOnTheFirstByte) {
  const auto g = compile(R"({"anyOf":[{"type":"string","maxLength":2},{"type":"integer"},{"type":"null"},
      {"type":"object","properties":{"k":{"type":"number"}},"required":["k"]},{"type":"array"}]})");
  for (const char* ok : {R"("ab")", "-4", "null", R"({"k":1.5})", R"([1,"x",{}])"}) {
    EXPECT_TRUE(accepts_complete(*g, ok)) << ok;
  }
  EXPECT_EQ(first_rejected(*g, "true"), 0u);
  const auto nullable = compile(R"({"type":"string","nullable":true})");
  EXPECT_TRUE(accepts_complete(*nullable, "null"));
  EXPECT_TRUE(accepts_complete(*nullable, R"("s")"));
  const auto merged = compile(R"({"type":["integer","number"]})");
  EXPECT_TRUE(accepts_complete(*merged, "1.5"));
}

TEST(JsonGrammar, AdditionalPropertiesComeAfterDeclaredOnesAndNeverRepeatThem) {
  const auto g = compile(R"({"type":"object","properties":{"a":{"type":"integer"},"ab":{"type":"integer"}},
      "additionalProperties":{"type":"string"}})");
  EXPECT_TRUE(accepts_complete(*g, R"({"a":1,"ab":2,"x":"s","abc":"t"})"));
  EXPECT_TRUE(accepts_complete(*g, R"({"abc":"t"})"));
  EXPECT_TRUE(accepts_complete(*g, R"({"":"t"})"));
  EXPECT_EQ(first_rejected(*g, R"({"x":"s","a":1})"), 11u);     // after an extra key, "a" would be declared
  EXPECT_EQ(first_rejected(*g, R"({"x":"s","a":"s"})"), 11u);
  EXPECT_EQ(first_rejected(*g, R"({"ab":1,"a":"s"})"), 10u);     // a declared name is never an extra key
  EXPECT_EQ(first_rejected(*g, R"({"x":1})"), 5u);              // extra values follow the schema
  EXPECT_EQ(first_rejected(*g, R"({"\u0061":1})"), 3u);         // no \u escapes in keys
  const auto any = any_json_object_grammar();
  EXPECT_TRUE(accepts_complete(*any, R"({"x":[1,{"y":null}],"z":"w","a\"b":-1.5e3})"));
  EXPECT_TRUE(accepts_complete(*any, "{}"));
  EXPECT_EQ(first_rejected(*any, "[]"), 0u);
  EXPECT_EQ(first_rejected(*any, R"("s")"), 0u);
  const auto required_extra = compile(R"({"type":"object","additionalProperties":true,"required":["id"]})");
  EXPECT_TRUE(accepts_complete(*required_extra, R"({"id":[],"z":1})"));
  EXPECT_EQ(first_rejected(*required_extra, R"({"z":1})"), 2u);
}

TEST(JsonGrammar, KeysWithEscapedCharacters) {
  const auto g = compile(R"({"type":"object","properties":{"a\"b":{"type":"integer"},"c/d":{"type":"integer"}},
      "required":["a\"b"]})");
  EXPECT_TRUE(accepts_complete(*g, R"({"a\"b":1,"c\/d":2})"));
  EXPECT_TRUE(accepts_complete(*g, R"({"a\"b":1,"c/d":2})"));
  EXPECT_EQ(first_rejected(*g, R"({"a\n)"), 4u);
  EXPECT_EQ(first_rejected(*g, R"({"c)"), 2u);
}

TEST(JsonGrammar, ArraysWithPrefixItemsAndCounts) {
  const auto g = compile(R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],
      "items":false,"minItems":1})");
  EXPECT_TRUE(accepts_complete(*g, R"(["a"])"));
  EXPECT_TRUE(accepts_complete(*g, R"(["a",2])"));
  EXPECT_EQ(first_rejected(*g, "[]"), 1u);
  EXPECT_EQ(first_rejected(*g, R"(["a",2,)"), 6u);
  EXPECT_EQ(first_rejected(*g, "[1"), 1u);
  const auto bounded = compile(R"({"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":3})");
  EXPECT_TRUE(accepts_complete(*bounded, "[true,false]"));
  EXPECT_TRUE(accepts_complete(*bounded, "[true,false,true]"));
  EXPECT_EQ(first_rejected(*bounded, "[true]"), 5u);
  EXPECT_EQ(first_rejected(*bounded, "[true,true,true,"), 15u);
}

TEST(JsonGrammar, RecursiveRefsAndTheDepthLimit) {
  const auto g = compile(R"({"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{
      "v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}}})");
  EXPECT_TRUE(accepts_complete(*g, R"({"v":1,"kids":[{"v":2},{"v":3,"kids":[]}]})"));
  const auto nested = compile(R"({"type":"array","items":{"$ref":"#"}})");
  std::string deep;
  for (int i = 0; i < kMaxJsonDepth; ++i) deep += '[';
  EXPECT_EQ(first_rejected(*nested, deep + "["), static_cast<size_t>(kMaxJsonDepth));
  for (int i = 0; i < kMaxJsonDepth; ++i) deep += ']';
  EXPECT_TRUE(accepts_complete(*nested, deep));
  const auto defs = compile(R"({"definitions":{"s":{"type":"string"}},"type":"array","items":{"$ref":"#/definitions/s"}})");
  EXPECT_TRUE(accepts_complete(*defs, R"(["x"])"));
  EXPECT_EQ(first_rejected(*defs, "[1]"), 1u);
}

TEST(JsonGrammar, Formats) {
  const auto date = compile(R"({"type":"string","format":"date"})");
  EXPECT_TRUE(accepts_complete(*date, R"("2024-02-29")"));
  EXPECT_TRUE(accepts_complete(*date, R"("2000-02-29")"));
  EXPECT_EQ(first_rejected(*date, R"("2023-02-29")"), 10u);
  EXPECT_EQ(first_rejected(*date, R"("1900-02-29")"), 10u);
  EXPECT_EQ(first_rejected(*date, R"("2023-13-01")"), 7u);
  EXPECT_EQ(first_rejected(*date, R"("2023-00-01")"), 7u);
  EXPECT_EQ(first_rejected(*date, R"("2023-04-31")"), 10u);
  EXPECT_EQ(first_rejected(*date, R"("2023-04-00")"), 10u);
  EXPECT_EQ(first_rejected(*date, R"("2023-1-01")"), 7u);
  EXPECT_EQ(first_rejected(*date, R"("2023-04-4)"), 9u);
  const auto time = compile(R"({"type":"string","format":"time"})");
  EXPECT_TRUE(accepts_complete(*time, R"("23:59:59Z")"));
  EXPECT_TRUE(accepts_complete(*time, R"("00:00:00.123456789+05:30")"));
  EXPECT_EQ(first_rejected(*time, R"("24:00:00Z")"), 2u);
  EXPECT_EQ(first_rejected(*time, R"("12:60:00Z")"), 4u);
  EXPECT_EQ(first_rejected(*time, R"("12:00:00")"), 9u);   // an offset is required
  EXPECT_EQ(first_rejected(*time, R"("12:00:00.Z")"), 10u);
  const auto dt = compile(R"({"type":"string","format":"date-time"})");
  EXPECT_TRUE(accepts_complete(*dt, R"("2024-01-31T08:30:00-01:00")"));
  EXPECT_EQ(first_rejected(*dt, R"("2024-01-31 08:30:00Z")"), 11u);
  const auto uuid = compile(R"({"type":"string","format":"uuid"})");
  EXPECT_TRUE(accepts_complete(*uuid, R"("123e4567-e89b-12d3-A456-426614174000")"));
  EXPECT_EQ(first_rejected(*uuid, R"("123e4567e89b)"), 9u);
  EXPECT_EQ(first_rejected(*uuid, R"("123e4567-e89b-12d3-a456-42661417400")"), 36u);
  const auto ip = compile(R"({"type":"string","format":"ipv4"})");
  EXPECT_TRUE(accepts_complete(*ip, R"("255.0.10.199")"));
  EXPECT_EQ(first_rejected(*ip, R"("256.1.1.1")"), 3u);
  EXPECT_EQ(first_rejected(*ip, R"("01.1.1.1")"), 2u);
  EXPECT_EQ(first_rejected(*ip, R"("1.1.1")"), 6u);
  EXPECT_EQ(first_rejected(*ip, R"("1.1.1.1.1")"), 8u);
  const auto email = compile(R"({"type":"string","format":"email"})");
  EXPECT_TRUE(accepts_complete(*email, R"("first.last+tag@mail-1.example.org")"));
  EXPECT_EQ(first_rejected(*email, R"("a..b@x.y")"), 3u);
  EXPECT_EQ(first_rejected(*email, R"(".a@x.y")"), 1u);
  EXPECT_EQ(first_rejected(*email, R"("a@x")"), 4u);
  EXPECT_EQ(first_rejected(*email, R"("a@-x.y")"), 3u);
  EXPECT_EQ(first_rejected(*email, R"("a@x-.y")"), 5u);
}

// ---- the tool dialect ----

TEST(JsonGrammar, ToolArgsUseBareSortedKeysAndSymbolQuotes) {
  const auto g = compile(R"({"type":"object","properties":{"unit":{"enum":["c","f"]},"city":{"type":"string"},
      "days":{"type":"integer","minimum":1}},"required":["city"]})", JsonDialect::kGemmaToolArgs);
  EXPECT_TRUE(accepts_complete(*g, sym(R"({city:<|"|>Paris "quoted" \ and
newline<|"|>,days:3,unit:<|"|>c<|"|>})")));
  EXPECT_TRUE(accepts_complete(*g, sym(R"({city :  <|"|><|"|> , unit:<|"|>f<|"|>})")));
  EXPECT_EQ(first_rejected(*g, sym(R"({"city")")), 1u);                          // JSON quotes
  EXPECT_EQ(first_rejected(*g, sym(R"({unit:<|"|>c<|"|>,city:<|"|>x<|"|>})")), 1u);  // sorted: city first
  EXPECT_EQ(first_rejected(*g, sym(R"({city:"x"})")), 6u);
  EXPECT_EQ(first_rejected(*g, sym(R"({city:<|"|>x<|"|>,days:0})")), 15u);
  EXPECT_EQ(first_rejected(*g, sym("{city:<|\"|>a\x01")), 8u);                    // control byte
  const auto extra = compile(R"({"type":"object","additionalProperties":{"type":"integer"}})", JsonDialect::kGemmaToolArgs);
  EXPECT_TRUE(accepts_complete(*extra, "{x_1:1,\xC3\xA9t\xC3\xA9 :2}"));
  EXPECT_EQ(first_rejected(*extra, "{a<b:1}"), 2u);
}

TEST(JsonGrammar, ToolCallGrammarChoosesTheToolByName) {
  const std::vector<ojson> tools = {
      ojson::parse(R"({"type":"function","function":{"name":"get_weather","description":"d","parameters":{
          "type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}})"),
      ojson::parse(R"({"name":"get","parameters":{"type":"object","properties":{"n":{"type":"integer"}}}})"),
      ojson::parse(R"({"name":"ping"})"),
  };
  const GrammarResult r = compile_tool_call_grammar(tools);
  ASSERT_TRUE(r.error.empty()) << r.error;
  const JsonGrammar& g = *r.grammar;
  EXPECT_TRUE(accepts_complete(g, sym(R"(call:get_weather{city:<|"|>Oslo<|"|>})")));
  EXPECT_TRUE(accepts_complete(g, "call:get{n:3}"));
  EXPECT_TRUE(accepts_complete(g, "call:get{}"));
  EXPECT_TRUE(accepts_complete(g, "call:ping{}"));
  EXPECT_EQ(first_rejected(g, "call:get_weather{}"), 17u);
  EXPECT_EQ(first_rejected(g, "call:pong{}"), 6u);
  EXPECT_EQ(first_rejected(g, "call:ping{x:1}"), 10u);
  EXPECT_EQ(first_rejected(g, " call:ping{}"), 0u);
  JsonMatcher m(g);
  ASSERT_TRUE(m.advance("call:ping{}"));
  EXPECT_TRUE(m.done());
  // Walks over the whole call read back through the real parser.
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const Walk w = random_walk(g, rng);
    ASSERT_FALSE(w.dead_end) << unsym(w.text);
    json value;
    std::string why;
    ASSERT_TRUE(read_back(w.text, JsonDialect::kGemmaToolArgs, true, value, why)) << why << " in " << unsym(w.text);
    const std::string name = value["name"];
    const ojson* params = nullptr;
    for (const auto& t : tools) {
      const ojson& f = t.contains("function") ? t["function"] : t;
      if (f["name"] == name) params = f.contains("parameters") ? &f["parameters"] : nullptr;
    }
    if (params == nullptr) {
      EXPECT_EQ(value["arguments"], json::object());
    } else {
      ASSERT_TRUE(validate(value["arguments"], *params, *params, why)) << why << " in " << unsym(w.text);
    }
  }
}

// ---- random walks over many schemas ----

const char* const kWalkSchemas[] = {
    R"({"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":5},
        "age":{"type":"integer","minimum":0,"maximum":150},
        "tags":{"type":"array","items":{"type":"string","enum":["a","b","c"]},"minItems":1,"maxItems":3},
        "score":{"type":"number","exclusiveMinimum":-1,"maximum":1}},"required":["name","age"]})",
    R"({"type":"number","minimum":-2.5,"exclusiveMaximum":10})",
    R"({"type":"number","minimum":0.25,"maximum":0.75})",
    R"({"type":"integer","exclusiveMinimum":-50,"maximum":-3})",
    R"({"type":"integer","minimum":123456})",
    R"({"type":"number"})",
    R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
        "kids":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["v"]}},
        "$ref":"#/$defs/node"})",
    R"({"anyOf":[{"type":"string","maxLength":3},{"type":"integer","minimum":5},{"type":"null"},
        {"type":"object","properties":{"k":{"type":"boolean"}},"required":["k"]}]})",
    R"({"type":"object","properties":{"d":{"type":"string","format":"date"},"t":{"type":"string","format":"time"},
        "dt":{"type":"string","format":"date-time"},"u":{"type":"string","format":"uuid"},
        "e":{"type":"string","format":"email"},"ip":{"type":"string","format":"ipv4"}},
        "required":["d","t","dt","u","e","ip"]})",
    R"(true)",
    R"({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":{"type":"string","maxLength":2}})",
    R"({"type":"array","prefixItems":[{"type":"boolean"},{"const":"x"}],"items":{"type":"number"},"minItems":3,"maxItems":5})",
    R"({"oneOf":[{"const":"red"},{"const":"green"},{"const":1.5},{"enum":[[1,2],{"z":null}]}]})",
    R"({"type":["string","null"],"minLength":2})",
    R"({"type":"object"})",
};

TEST(JsonGrammarWalk, GeneratedJsonParsesAndValidates) {
  for (const char* schema : kWalkSchemas) check_walks(schema, JsonDialect::kJson, 1500);
}

TEST(JsonGrammarWalk, GeneratedToolArgsParseAndValidate) {
  const char* const schemas[] = {
      R"({"type":"object","properties":{"query":{"type":"string","maxLength":8},"limit":{"type":"integer","minimum":1,"maximum":20},
          "filters":{"type":"object","properties":{"lang":{"enum":["en","fr"]},"since":{"type":"string","format":"date"}}},
          "flags":{"type":"array","items":{"type":"boolean"}}},"required":["query"]})",
      R"({"type":"object","additionalProperties":true})",
      R"({"type":"object","properties":{"b":{"type":"number"},"a":{"anyOf":[{"type":"string"},{"type":"null"}]}},
          "additionalProperties":{"type":"integer"}})",
  };
  for (const char* schema : schemas) check_walks(schema, JsonDialect::kGemmaToolArgs, 1500);
}

// ---- every compile error ----

TEST(JsonGrammarErrors, EachUnsupportedOrInvalidSchemaIsRefusedWithItsPathAndKeyword) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"type":"object","properties":{"name":{"type":"string","pattern":"x"}}})",
       "schema at /properties/name: keyword 'pattern' is not supported"},
      {R"({"patternProperties":{}})", "schema at /: keyword 'patternProperties' is not supported"},
      {R"({"type":"array","uniqueItems":true})", "keyword 'uniqueItems' is not supported"},
      {R"({"not":{}})", "keyword 'not' is not supported"},
      {R"({"if":{}})", "keyword 'if' is not supported"},
      {R"({"type":"number","multipleOf":2})", "keyword 'multipleOf' is not supported"},
      {R"({"type":"object","minProperties":1})", "keyword 'minProperties' is not supported"},
      {R"({"frobnicate":1})", "keyword 'frobnicate' is not supported"},
      {R"(false)", "schema at /: schema 'false' accepts nothing"},
      {R"({"items":[false]})", "schema at /: keyword 'items' as an array is not supported"},
      {R"({"type":"object","properties":{"a":false}})", "schema at /properties/a: schema 'false'"},
      {R"(3)", "a schema must be an object or a boolean"},
      {R"({"strict":"yes"})", "keyword 'strict' must be a boolean"},
      {R"({"nullable":1})", "keyword 'nullable' must be a boolean"},
      {R"({"$ref":"#/$defs/x","type":"string"})", "keyword 'type' beside '$ref' is not supported"},
      {R"({"$ref":3})", "keyword '$ref' must be a string"},
      {R"({"$ref":"http://x/y"})", "$ref 'http://x/y' is not local"},
      {R"({"$ref":"#/$defs/missing"})", "$ref '#/$defs/missing' points to nothing"},
      {R"({"$ref":"#x"})", "is not a valid JSON pointer"},
      {R"({"$ref":"#"})", "schema at /: recursive $ref must pass through an object or array"},
      {R"({"anyOf":[{"$ref":"#"},{"type":"null"}]})", "recursive $ref must pass through an object or array"},
      {R"({"anyOf":[],"type":"string"})", "keyword 'type' beside 'anyOf' is not supported"},
      {R"({"anyOf":[]})", "keyword 'anyOf' must be a non-empty array"},
      {R"({"allOf":[{},{}]})", "keyword 'allOf' with more than one schema is not supported"},
      {R"({"anyOf":[{"type":"object"},{"type":"object","properties":{"a":{}}}]})",
       "anyOf alternatives at / both start with '{'"},
      {R"({"oneOf":[{"type":"string"},{"const":"x"}]})", "oneOf alternatives at / both start with '\"'"},
      {R"({"anyOf":[{"type":"integer","minimum":0},{"type":"number","maximum":3}]})", "both start with '-'"},
      {R"({"type":7})", "keyword 'type' must be a type name or a list of them"},
      {R"({"type":[7]})", "keyword 'type' must be a type name or a list of them"},
      {R"({"type":"float"})", "keyword 'type' names an unknown type 'float'"},
      {R"({"enum":[1],"const":1})", "keyword 'const' beside 'enum' is not supported"},
      {R"({"enum":["a"],"minLength":1})", "keyword 'minLength' beside 'enum' is not supported"},
      {R"({"enum":[]})", "keyword 'enum' must be a non-empty array"},
      {R"({"type":"integer","enum":["a"]})", "no value of keyword 'enum' has the schema's type"},
      {R"({"type":"integer","minLength":1})", "keyword 'minLength' does not apply to the schema's type"},
      {R"({"type":"number","minimum":"1"})", "keyword 'minimum' must be a number"},
      {R"({"type":"number","exclusiveMinimum":true})", "keyword 'exclusiveMinimum' must be a number"},
      {R"({"type":"number","minimum":1e17})", "numbers above 9999999999999999 cannot be written"},
      {R"({"type":"number","maximum":-1e17})", "numbers below -9999999999999999 cannot be written"},
      {R"({"type":"integer","minimum":1.5,"maximum":1.9})", "no integer lies within the bounds"},
      {R"({"type":"number","minimum":2,"exclusiveMaximum":2})", "no number lies within the bounds"},
      {R"({"type":"string","minLength":3,"maxLength":2})", "keyword 'minLength' is larger than 'maxLength'"},
      {R"({"type":"string","minLength":-1})", "keyword 'minLength' must be a non-negative integer"},
      {R"({"type":"string","format":"hostname"})", "keyword 'format': format 'hostname' is not supported"},
      {R"({"type":"string","format":7})", "keyword 'format' must be a string"},
      {R"({"type":"string","format":"date","maxLength":20})", "keyword 'maxLength' beside 'format' is not supported"},
      {R"({"type":"object","properties":[]})", "keyword 'properties' must be an object"},
      {R"({"type":"object","required":"a"})", "keyword 'required' must be an array of names"},
      {R"({"type":"object","required":[1]})", "keyword 'required' must be an array of names"},
      {R"({"type":"object","properties":{"a":{}},"required":["b"]})",
       "keyword 'required': property 'b' is not declared in 'properties'"},
      {R"({"type":"object","properties":{"a\u0001":{}}})", "a name with a control character"},
      {R"({"type":"array","prefixItems":{}})", "keyword 'prefixItems' must be an array of schemas"},
      {R"({"type":"array","minItems":3,"maxItems":2})", "keyword 'minItems' is larger than 'maxItems'"},
      {R"({"type":"array","minItems":70000})", "keyword 'minItems' above 65535 is not supported"},
      {R"({"type":"array","items":false,"minItems":1})", "asks for more items than"},
      {R"({"type":"array","items":{"type":"string","pattern":"a"}})", "schema at /items: keyword 'pattern'"},
      {R"({"$defs":{"a":{"propertyNames":{}}},"$ref":"#/$defs/a"})", "schema at /$defs/a: keyword 'propertyNames'"},
      {R"({"properties":{"a~b/c":{"contains":{}}}})", "schema at /properties/a~0b~1c: keyword 'contains'"},
      {R"({"dependentRequired":{}})", "keyword 'dependentRequired' is not supported"},
      {R"({"unevaluatedProperties":false})", "keyword 'unevaluatedProperties' is not supported"},
  };
  for (const auto& [schema, expected] : cases) {
    const std::string error = compile_error(schema);
    EXPECT_NE(error.find(expected), std::string::npos) << schema << "\n  gave: " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos);
  }
  std::string many = R"({"type":"object","properties":{)";
  for (int i = 0; i < 65; ++i) {
    // Appended piece by piece: g++ 12 gives a false -Wrestrict for "literal" + std::string temporaries.
    many.append(i > 0 ? ",\"p" : "\"p").append(std::to_string(i)).append("\":{}");
  }
  many += "}}";
  EXPECT_NE(compile_error(many).find("more than 64 properties"), std::string::npos);
}

TEST(JsonGrammarErrors, ToolDialectRefusesNamesThatCannotBeBare) {
  for (const char* name : {"a b", "a:b", "a,b", "{", "a\\\"b", "x<y"}) {
    const std::string schema = std::string(R"({"type":"object","properties":{")") + name + R"(":{}}})";
    const std::string error = compile_error(schema, JsonDialect::kGemmaToolArgs);
    EXPECT_NE(error.find("cannot be written as a bare key"), std::string::npos) << schema << ": " << error;
  }
  EXPECT_NE(compile_error(R"({"enum":[{"a b":1}]})", JsonDialect::kGemmaToolArgs).find("bare key"), std::string::npos);
  auto tool_error = [](std::vector<ojson> tools) { return compile_tool_call_grammar(tools).error; };
  EXPECT_EQ(tool_error({}), "no tools to call");
  EXPECT_NE(tool_error({ojson::parse(R"({"description":"x"})")}).find("tool 0: a tool needs a string 'name'"), std::string::npos);
  EXPECT_NE(tool_error({ojson::parse(R"({"name":"a b"})")}).find("tool 'a b': the name cannot be written"), std::string::npos);
  EXPECT_NE(tool_error({ojson::parse(R"({"name":"a"})"), ojson::parse(R"({"name":"a"})")}).find("declared twice"), std::string::npos);
  EXPECT_EQ(tool_error({ojson::parse(R"({"name":"f","parameters":{"type":"string"}})")}),
            "tool 'f': schema at /: tool parameters must be an object schema");
  EXPECT_EQ(tool_error({ojson::parse(R"({"name":"f","parameters":{"type":"object","properties":{"q":{"pattern":"x"}}}})")}),
            "tool 'f': schema at /properties/q: keyword 'pattern' is not supported");
}

// ---- the state ----

TEST(JsonMatcher, RejectedBytesLeaveTheStateUnchangedAndHashesFollowStates) {
  const auto g = compile(kWalkSchemas[0]);
  std::mt19937 rng(3);
  for (int i = 0; i < 200; ++i) {
    const Walk w = random_walk(*g, rng);
    JsonMatcher m(*g);
    for (const char c : w.text) {
      for (int b = 0; b < 256; ++b) {
        JsonMatcher probe(m);
        if (!probe.advance(static_cast<uint8_t>(b))) {
          ASSERT_TRUE(probe.same_state(m));
          ASSERT_EQ(probe.state_hash(), m.state_hash());
        }
      }
      ASSERT_TRUE(m.advance(static_cast<uint8_t>(c)));
    }
  }
  // Strings without length bounds do not count characters, so states inside them coincide.
  const auto s = compile(R"({"type":"array","items":{"type":"string"}})");
  JsonMatcher a(*s), b(*s);
  ASSERT_TRUE(a.advance(R"(["abc)"));
  ASSERT_TRUE(b.advance(R"(["x","y)"));
  EXPECT_TRUE(a.same_state(b));
  EXPECT_EQ(a.state_hash(), b.state_hash());
}

TEST(JsonMatcher, AdvanceOnABufferStopsAtTheFirstRejectedByte) {
  const auto g = compile(R"({"type":"array","items":{"type":"integer"}})");
  JsonMatcher m(*g);
  EXPECT_FALSE(m.advance("[1,x"));
  JsonMatcher expected(*g);
  ASSERT_TRUE(expected.advance("[1,"));
  EXPECT_TRUE(m.same_state(expected));
  JsonMatcher copy(*g);
  copy.copy_from(m);
  EXPECT_TRUE(copy.same_state(m));
  EXPECT_EQ(copy.state_hash(), m.state_hash());
  m.reset();
  EXPECT_TRUE(m.same_state(JsonMatcher(*g)));
}

TEST(JsonMatcher, Timing) {
  // Not an assertion: prints what probing costs, for the token-level constraint built on top.
  const auto g = compile(kWalkSchemas[0]);
  const std::string doc = R"({"name":"Ann","age":42,"tags":["a","c"],"score":0.125})";
  constexpr int kReps = 20000;
  size_t accepted = 0;
  auto time_ns = [&](auto&& body) {
    const auto start = std::chrono::steady_clock::now();
    for (int rep = 0; rep < kReps; ++rep) body();
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  };
  JsonMatcher m(*g), probe(*g);
  const double plain = time_ns([&] {
    m.reset();
    for (const char c : doc) accepted += m.advance(static_cast<uint8_t>(c));
  });
  const double copied = time_ns([&] {
    m.reset();
    for (const char c : doc) {
      for (int b = 0; b < 256; b += 17) {
        probe.copy_from(m);
        accepted += probe.advance(static_cast<uint8_t>(b));
      }
      m.advance(static_cast<uint8_t>(c));
    }
  });
  const double bytes = static_cast<double>(kReps) * static_cast<double>(doc.size());
  std::printf("[ timing ] advance: %.1f ns/byte; copy_from + advance: %.1f ns/probe; sizeof(JsonMatcher) = %zu (%zu)\n",
              plain / bytes, copied / (bytes * 16), sizeof(JsonMatcher), accepted);
  EXPECT_TRUE(m.can_end());
}

// Client schemas nested (or chained through $ref) beyond kMaxSchemaNesting get an error, not a stack overflow.
TEST(JsonGrammar, DeepSchemasAreRefusedNotOverflowed) {
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "{\"items\":";
  deep += "true";
  deep += std::string(5000, '}');
  const text::GrammarResult a = text::compile_json_schema(nlohmann::ordered_json::parse(deep));
  EXPECT_EQ(a.grammar, nullptr);
  EXPECT_NE(a.error.find("nested deeper than"), std::string::npos) << a.error.substr(0, 300);
  EXPECT_LT(a.error.size(), 400u);
  std::string chain = "{\"$defs\":{";
  for (int i = 0; i < 3000; ++i) chain += "\"a" + std::to_string(i) + "\":{\"$ref\":\"#/$defs/a" + std::to_string(i + 1) + "\"},";
  chain += "\"a3000\":{\"type\":\"integer\"}},\"$ref\":\"#/$defs/a0\"}";
  const text::GrammarResult b = text::compile_json_schema(nlohmann::ordered_json::parse(chain));
  EXPECT_EQ(b.grammar, nullptr);
  EXPECT_NE(b.error.find("nested deeper than"), std::string::npos) << b.error.substr(0, 300);
  // 100 levels are fine.
  std::string ok;
  for (int i = 0; i < 100; ++i) ok += "{\"type\":\"array\",\"items\":";
  ok += "{\"type\":\"integer\"}" + std::string(100, '}');
  EXPECT_NE(text::compile_json_schema(nlohmann::ordered_json::parse(ok)).grammar, nullptr);
}

}  // namespace
}  // namespace locus::text
