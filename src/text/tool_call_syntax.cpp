#include "text/tool_call_syntax.h"

#include "text/utf8.h"

namespace locus::text {
namespace {

constexpr std::string_view kQuote = "<|\"|>";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Characters of a bare key or a tool name. Quotes, brackets, separators and whitespace are refused so that a
// call written with JSON quotes (`"city":`) fails instead of producing a key with quotes in it.
bool is_name_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u == 0x7F) return false;
  switch (c) {
    case ' ': case ':': case '{': case '}': case '[': case ']': case ',': case '<': case '>':
    case '"': case '\'': case '`': case '\\':
      return false;
    default:
      return true;
  }
}

class ArgumentReader {
 public:
  explicit ArgumentReader(std::string_view text) : s_(text) {}

  size_t pos = 0;
  std::string error;

  void skip_space() {
    while (pos < s_.size() && is_space(s_[pos])) ++pos;
  }
  bool at_end() const { return pos >= s_.size(); }
  bool starts_with(std::string_view what) const { return s_.substr(pos).starts_with(what); }

  bool fail(std::string_view expected) {
    // Appended piece by piece: g++ 12 gives a false -Wrestrict for "literal" + std::string temporaries.
    error.assign("at byte ");
    error.append(std::to_string(pos)).append(": expected ").append(expected).append(", found ");
    if (at_end()) {
      error.append("the end of the call");
    } else {
      error.append("'").append(sanitize_utf8(s_.substr(pos, 16))).append("'");
    }
    return false;
  }

  bool name(std::string& out) {
    const size_t start = pos;
    while (pos < s_.size() && is_name_char(s_[pos])) ++pos;
    if (pos == start) return fail("a name");
    out = sanitize_utf8(s_.substr(start, pos - start));
    return true;
  }

  // `<|"|>raw<|"|>` at pos, appended as a JSON string.
  bool string(std::string& out) {
    const size_t start = pos + kQuote.size();
    const size_t end = s_.find(kQuote, start);
    if (end == std::string_view::npos) return fail("a string closed by <|\"|>");
    append_json_string(out, s_.substr(start, end - start));
    pos = end + kQuote.size();
    return true;
  }

  bool key(std::string& out) {
    if (starts_with(kQuote)) return string(out);
    const size_t start = pos;
    while (pos < s_.size() && is_name_char(s_[pos])) ++pos;
    if (pos == start) return fail("a key");
    append_json_string(out, s_.substr(start, pos - start));
    return true;
  }

  bool object(std::string& out, int depth) {
    if (depth > kMaxToolCallDepth) return fail("objects and arrays nested at most 64 deep");
    if (at_end() || s_[pos] != '{') return fail("'{'");
    ++pos;
    out += '{';
    skip_space();
    if (!at_end() && s_[pos] == '}') {
      ++pos;
      out += '}';
      return true;
    }
    for (;;) {
      if (!key(out)) return false;
      skip_space();
      if (at_end() || s_[pos] != ':') return fail("':' after a key");
      ++pos;
      out += ':';
      skip_space();
      if (!value(out, depth)) return false;
      skip_space();
      if (at_end()) return fail("',' or '}'");
      if (s_[pos] == '}') {
        ++pos;
        out += '}';
        return true;
      }
      if (s_[pos] != ',') return fail("',' or '}'");
      ++pos;
      out += ',';
      skip_space();
    }
  }

  bool array(std::string& out, int depth) {
    if (depth > kMaxToolCallDepth) return fail("objects and arrays nested at most 64 deep");
    ++pos;  // '['
    out += '[';
    skip_space();
    if (!at_end() && s_[pos] == ']') {
      ++pos;
      out += ']';
      return true;
    }
    for (;;) {
      if (!value(out, depth)) return false;
      skip_space();
      if (at_end()) return fail("',' or ']'");
      if (s_[pos] == ']') {
        ++pos;
        out += ']';
        return true;
      }
      if (s_[pos] != ',') return fail("',' or ']'");
      ++pos;
      out += ',';
      skip_space();
    }
  }

  bool value(std::string& out, int depth) {
    constexpr std::string_view kWhat = "a value (<|\"|>string<|\"|>, number, true, false, null, {...} or [...])";
    if (at_end()) return fail(kWhat);
    if (starts_with(kQuote)) return string(out);
    const char c = s_[pos];
    if (c == '{') return object(out, depth + 1);
    if (c == '[') return array(out, depth + 1);
    if (c == '-' || is_digit(c)) {
      const size_t start = pos;
      while (pos < s_.size() && (is_digit(s_[pos]) || s_[pos] == '-' || s_[pos] == '+' || s_[pos] == '.' ||
                                 s_[pos] == 'e' || s_[pos] == 'E')) {
        ++pos;
      }
      const std::string_view number = s_.substr(start, pos - start);
      if (!is_json_number(number)) {
        pos = start;
        return fail("a JSON number");
      }
      out += number;
      return true;
    }
    for (std::string_view literal : {"true", "false", "null"}) {
      if (starts_with(literal)) {
        const size_t after = pos + literal.size();
        if (after < s_.size() && is_name_char(s_[after])) break;  // "trueish" is a bare word
        out += literal;
        pos = after;
        return true;
      }
    }
    return fail(kWhat);
  }

 private:
  std::string_view s_;
};

}  // namespace

bool is_json_number(std::string_view t) {
  size_t i = 0;
  const size_t n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i == n) return false;
  if (t[i] == '0') {
    ++i;
  } else if (t[i] >= '1' && t[i] <= '9') {
    while (i < n && is_digit(t[i])) ++i;
  } else {
    return false;
  }
  if (i < n && t[i] == '.') {
    ++i;
    if (i == n || !is_digit(t[i])) return false;
    while (i < n && is_digit(t[i])) ++i;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    if (i == n || !is_digit(t[i])) return false;
    while (i < n && is_digit(t[i])) ++i;
  }
  return i == n;
}

void append_json_string(std::string& out, std::string_view raw) {
  std::string sanitized;
  if (!is_valid_utf8(raw)) {
    sanitized = sanitize_utf8(raw);
    raw = sanitized;
  }
  out += '"';
  for (const char c : raw) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xF];
          out += kHex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

ToolCallSyntax parse_tool_call_body(std::string_view body) {
  ToolCallSyntax result;
  ArgumentReader r(body);
  r.skip_space();
  if (!r.starts_with("call:")) {
    r.fail("'call:'");
    result.error = r.error;
    return result;
  }
  r.pos += 5;
  std::string arguments;
  if (!r.name(result.name) || !r.object(arguments, 1)) {
    result.error = r.error;
    return result;
  }
  r.skip_space();
  if (!r.at_end()) {
    r.fail("the end of the call after its arguments");
    result.error = r.error;
    return result;
  }
  result.ok = true;
  result.arguments_json = std::move(arguments);
  return result;
}

}  // namespace locus::text
