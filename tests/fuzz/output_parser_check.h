// The invariants the output parser must keep on any input, shared by the libFuzzer target
// (output_parser_fuzz.cpp) and the corpus replay test (output_parser_corpus_test.cpp).
//
// Input layout: byte 0 = options (bit 0 thinking requested, bit 1 any tool name accepted, bit 2 a 48-byte
// tool-call limit), byte 1 = seed for the piece sizes, the rest = the generated text. Checked:
// - the text split into random pieces, and into single bytes, gives the same events as the whole text
//   (adjacent text of one kind merged);
// - answer and thinking events are non-empty and hold no marker;
// - tool calls have a known, non-empty name and arguments that are one valid JSON object in valid UTF-8;
// - invalid calls carry a reason and their raw text (starting with <|tool_call>, within the size limit);
// - the parser is done() after finish(), and finish() is idempotent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/output_parser.h"
#include "text/utf8.h"

namespace locus::fuzz {

using text::OutputEvent;
using text::OutputEventKind;
using text::OutputParser;
using text::OutputParserOptions;

inline constexpr std::string_view kOutputMarkers[] = {
    "<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|\"|>", "<|turn>", "<turn|>",
    "<|tool_response>", "<tool_response|>", "<|tool>", "<tool|>", "<|think|>", "<eos>",
};

// A strict JSON reader (RFC 8259), enough to check the parser's arguments.
class JsonChecker {
 public:
  explicit JsonChecker(std::string_view s) : s_(s) {}

  bool object_document() {
    space();
    if (pos_ >= s_.size() || s_[pos_] != '{') return false;
    if (!value(0)) return false;
    space();
    return pos_ == s_.size();
  }

 private:
  void space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  static bool digit(char c) { return c >= '0' && c <= '9'; }
  bool digits() {
    const size_t start = pos_;
    while (pos_ < s_.size() && digit(s_[pos_])) ++pos_;
    return pos_ > start;
  }
  bool string() {
    if (pos_ >= s_.size() || s_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c != '\\') continue;
      if (pos_ >= s_.size()) return false;
      const char e = s_[pos_++];
      if (e == 'u') {
        for (int k = 0; k < 4; ++k, ++pos_) {
          if (pos_ >= s_.size()) return false;
          const char h = s_[pos_];
          if (!digit(h) && !(h >= 'a' && h <= 'f') && !(h >= 'A' && h <= 'F')) return false;
        }
      } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
        return false;
      }
    }
    return false;
  }
  bool number() {
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '0') {
      ++pos_;
    } else if (!digits()) {
      return false;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (!digits()) return false;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) return false;
    }
    return true;
  }
  bool value(int depth) {
    if (depth > 200) return false;
    space();
    if (pos_ >= s_.size()) return false;
    const char c = s_[pos_];
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++pos_;
      if (eat(close)) return true;
      do {
        space();
        if (c == '{') {
          if (!string() || !eat(':')) return false;
        }
        if (!value(depth + 1)) return false;
      } while (eat(','));
      return eat(close);
    }
    if (c == '"') return string();
    for (std::string_view lit : {"true", "false", "null"}) {
      if (s_.substr(pos_).starts_with(lit)) {
        pos_ += lit.size();
        return true;
      }
    }
    return number();
  }

  std::string_view s_;
  size_t pos_ = 0;
};

struct FuzzRecord {
  std::vector<std::pair<OutputEventKind, std::string>> events;
  std::string problem;  // the first invariant broken, empty when none
  bool operator==(const FuzzRecord& o) const { return events == o.events; }
};

inline const std::vector<std::string>& fuzz_tool_names() {
  static const std::vector<std::string> names = {"get_weather", "search", "f"};
  return names;
}

inline FuzzRecord fuzz_run(std::string_view text, const std::vector<size_t>& cuts, const OutputParserOptions& o) {
  FuzzRecord r;
  auto note = [&r](const char* what) {
    if (r.problem.empty()) r.problem = what;
  };
  OutputParser parser(o, [&](const OutputEvent& e) {
    std::string item;
    switch (e.kind) {
      case OutputEventKind::kContent:
      case OutputEventKind::kThinking:
        if (e.text.empty()) note("empty text event");
        for (std::string_view m : kOutputMarkers) {
          if (e.text.find(m) != std::string_view::npos) note("marker text in an answer or thinking event");
        }
        if (!r.events.empty() && r.events.back().first == e.kind) {
          r.events.back().second.append(e.text);
          return;
        }
        item = std::string(e.text);
        break;
      case OutputEventKind::kToolCall: {
        if (e.name.empty()) note("tool call without a name");
        if (!o.accept_any_tool_name) {
          bool known = false;
          for (const auto& n : o.tool_names) known = known || n == e.name;
          if (!known) note("tool call with an unknown name");
        }
        if (!text::is_valid_utf8(e.arguments) || !text::is_valid_utf8(e.name)) note("tool call not UTF-8");
        if (!JsonChecker(e.arguments).object_document()) note("tool call arguments are not a JSON object");
        item = std::string(e.name) + "|" + std::string(e.arguments);
        break;
      }
      case OutputEventKind::kInvalidToolCall:
        if (e.text.empty()) note("invalid tool call without a reason");
        if (!e.raw.starts_with("<|tool_call>")) note("invalid tool call raw text does not start with <|tool_call>");
        if (e.raw.size() > o.max_tool_call_bytes + 24) note("invalid tool call raw text over the limit");
        if (!e.arguments.empty() && !JsonChecker(e.arguments).object_document()) {
          note("invalid tool call arguments are not a JSON object");
        }
        item = std::string(e.text) + "|" + std::string(e.raw) + "|" + std::string(e.name);
        break;
      case OutputEventKind::kWarning:
        if (e.text.empty()) note("empty warning");
        item = std::string(e.text);
        break;
    }
    r.events.emplace_back(e.kind, std::move(item));
  });
  size_t at = 0;
  for (size_t cut : cuts) {
    parser.push(text.substr(at, cut - at));
    at = cut;
  }
  parser.push(text.substr(at));
  parser.finish();
  const size_t n = r.events.size();
  parser.finish();
  parser.push("more<|channel>x");
  if (r.events.size() != n) note("events after finish()");
  if (!parser.done()) note("not done() after finish()");
  return r;
}

// Empty when every invariant holds, else what broke.
inline std::string check_output_parser(const uint8_t* data, size_t size) {
  if (size < 2) return {};
  OutputParserOptions o;
  o.thinking_requested = (data[0] & 1) != 0;
  o.accept_any_tool_name = (data[0] & 2) != 0;
  o.max_tool_call_bytes = (data[0] & 4) != 0 ? 48 : 4096;
  o.tool_names = fuzz_tool_names();
  uint32_t seed = data[1] * 2654435761u + 1;
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);

  const FuzzRecord whole = fuzz_run(text, {}, o);
  if (!whole.problem.empty()) return whole.problem;

  std::vector<size_t> cuts;
  for (size_t at = 0;;) {
    seed = seed * 1664525u + 1013904223u;
    at += 1 + (seed >> 24) % 16;
    if (at >= text.size()) break;
    cuts.push_back(at);
  }
  const FuzzRecord pieces = fuzz_run(text, cuts, o);
  if (!pieces.problem.empty()) return pieces.problem;
  if (!(pieces == whole)) return "random pieces give other events than the whole text";

  if (text.size() <= 4096) {
    cuts.clear();
    for (size_t k = 1; k < text.size(); ++k) cuts.push_back(k);
    const FuzzRecord bytes = fuzz_run(text, cuts, o);
    if (!bytes.problem.empty()) return bytes.problem;
    if (!(bytes == whole)) return "single bytes give other events than the whole text";
  }
  return {};
}

}  // namespace locus::fuzz
