#include "text/output_parser.h"

#include <algorithm>
#include <utility>

#include "text/tool_call_syntax.h"
#include "text/utf8.h"

namespace locus::text {
namespace {

// The chat format's markers. None is a prefix of another, so at most one matches in full.
enum Marker : int {
  kChannelOpen, kChannelClose, kToolCallOpen, kToolCallClose, kQuote, kTurnOpen, kTurnClose,
  kToolResponseOpen, kToolResponseClose, kToolOpen, kToolClose, kThink, kEos, kMarkerCount,
};
constexpr std::string_view kMarkerText[kMarkerCount] = {
    "<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|\"|>", "<|turn>", "<turn|>",
    "<|tool_response>", "<tool_response|>", "<|tool>", "<tool|>", "<|think|>", "<eos>",
};

constexpr std::string_view kSpace = " \t\n\r";
constexpr std::string_view kThought = "thought";

enum class MatchKind { kNone, kPrefix, kFull };
struct Match {
  MatchKind kind = MatchKind::kNone;
  int marker = 0;
};

// `text` starts with '<'. kPrefix: all of `text` is a proper prefix of a marker (more input may complete it).
Match match_marker(std::string_view text) {
  bool prefix = false;
  for (int m = 0; m < kMarkerCount; ++m) {
    const std::string_view marker = kMarkerText[m];
    if (text.size() >= marker.size()) {
      if (text.starts_with(marker)) return {MatchKind::kFull, m};
    } else if (marker.starts_with(text)) {
      prefix = true;
    }
  }
  return {prefix ? MatchKind::kPrefix : MatchKind::kNone, 0};
}

// The first '<' at or after `at` that starts a marker `stops` accepts, or text that may still become a
// marker, with its match in `m`; npos when there is none. Other full markers are skipped as plain text.
template <typename Stops>
size_t next_marker(std::string_view s, size_t at, Match& m, Stops stops) {
  for (size_t lt; (lt = s.find('<', at)) != std::string_view::npos;) {
    m = match_marker(s.substr(lt));
    if (m.kind == MatchKind::kPrefix || (m.kind == MatchKind::kFull && stops(m.marker))) return lt;
    at = lt + (m.kind == MatchKind::kFull ? kMarkerText[m.marker].size() : 1);
  }
  return std::string_view::npos;
}

bool is_end_of_turn(int marker) {
  return marker == kTurnClose || marker == kToolResponseOpen || marker == kEos || marker == kTurnOpen;
}

bool is_role_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

}  // namespace

bool is_output_marker(std::string_view text) {
  for (std::string_view m : kMarkerText) {
    if (text == m) return true;
  }
  return false;
}

std::span<const std::string_view> output_markers() { return kMarkerText; }

OutputParser::OutputParser(OutputParserOptions options, OutputSink sink)
    : options_(std::move(options)), sink_(std::move(sink)) {}

void OutputParser::push(std::string_view piece) {
  if (finished_ || piece.empty()) return;
  if (state_ == State::kDone) {
    ignore_after_end(piece);
    return;
  }
  buf_.append(piece);
  size_t i = 0;
  bool progress = true;
  while (progress && i < buf_.size() && state_ != State::kDone) {
    switch (state_) {
      case State::kContent:
      case State::kThinking: progress = step_text(i); break;
      case State::kRoleLine: progress = step_role_line(i); break;
      case State::kChannelHeader: progress = step_channel_header(i); break;
      case State::kToolCall: progress = step_tool_call(i); break;
      case State::kDone: break;
    }
  }
  if (state_ == State::kDone) {
    ignore_after_end(std::string_view(buf_).substr(i));
    buf_.clear();
  } else {
    buf_.erase(0, i);
  }
}

// Answer or thinking text up to the next marker. Returns false when the rest of the buffer is a marker prefix.
bool OutputParser::step_text(size_t& i) {
  const std::string_view s = buf_;
  const size_t start = i;
  Match m;
  const size_t lt = next_marker(s, i, m, [](int) { return true; });
  if (lt == std::string_view::npos) {
    emit_text(s.substr(start));
    consumed_any_ = true;
    i = s.size();
    return true;
  }
  emit_text(s.substr(start, lt - start));
  if (lt > start) consumed_any_ = true;
  i = lt;
  if (m.kind == MatchKind::kPrefix) return false;
  i = lt + kMarkerText[m.marker].size();
  if (state_ == State::kContent) {
    on_content_marker(m.marker);
  } else {
    on_thinking_marker(m.marker);
  }
  consumed_any_ = true;
  return true;
}

void OutputParser::on_content_marker(int marker) {
  switch (marker) {
    case kChannelOpen: open_thought(); return;
    case kChannelClose: return;  // a lone <channel|> (the pre-filled thought's end repeated): tolerated
    case kToolCallOpen:
      call_.clear();
      state_ = State::kToolCall;
      return;
    case kTurnOpen:
      if (!consumed_any_) {
        role_.clear();
        state_ = State::kRoleLine;
        return;
      }
      warn("the model began a new turn with <|turn>; the output after it is ignored");
      end_turn();
      return;
    default:
      if (is_end_of_turn(marker)) {
        end_turn();
        return;
      }
      warn("stray marker " + std::string(kMarkerText[marker]) + " dropped from the answer");
  }
}

void OutputParser::on_thinking_marker(int marker) {
  switch (marker) {
    case kChannelClose: leave_thinking(true); return;
    case kChannelOpen:  // a thought re-opened inside a thought: keep thinking, drop its header again
      state_ = State::kChannelHeader;
      header_matched_ = 0;
      return;
    case kToolCallOpen:
      leave_thinking(false);
      call_.clear();
      state_ = State::kToolCall;
      return;
    default:
      if (is_end_of_turn(marker)) {
        leave_thinking(false);
        end_turn();
        return;
      }
      warn("stray marker " + std::string(kMarkerText[marker]) + " dropped from the thinking");
  }
}

// The role after a leading <|turn>: letters up to a newline (consumed) or anything else (kept).
bool OutputParser::step_role_line(size_t& i) {
  constexpr size_t kMaxRole = 32;
  while (i < buf_.size()) {
    const char c = buf_[i];
    if (is_role_char(c) && role_.size() < kMaxRole) {
      role_ += c;
      ++i;
      continue;
    }
    if (c == '\n') ++i;
    end_role_line();
    return true;
  }
  return true;
}

void OutputParser::end_role_line() {
  if (role_ != "model") warn("the output began with a turn header for role '" + role_ + "'");
  state_ = State::kContent;
}

void OutputParser::open_thought() {
  state_ = State::kChannelHeader;
  header_matched_ = 0;
}

// The channel name after <|channel>: "thought" is dropped; anything else is thinking text.
bool OutputParser::step_channel_header(size_t& i) {
  while (i < buf_.size() && header_matched_ < kThought.size()) {
    if (buf_[i] != kThought[header_matched_]) {
      state_ = State::kThinking;
      skip_thinking_space_ = true;
      emit_text(kThought.substr(0, header_matched_));
      return true;
    }
    ++header_matched_;
    ++i;
  }
  if (header_matched_ < kThought.size()) return false;
  state_ = State::kThinking;
  skip_thinking_space_ = true;
  return true;
}

void OutputParser::leave_thinking(bool closed) {
  held_space_.clear();
  skip_thinking_space_ = false;
  if (!closed) warn("the thought block was not closed with <channel|>");
  state_ = State::kContent;
}

bool OutputParser::step_tool_call(size_t& i) {
  const std::string_view s = buf_;
  const size_t start = i;
  Match m;
  // Only the call's own markers and the end of the turn stop it; any other marker is part of its text.
  const size_t lt = next_marker(s, i, m, [](int marker) {
    return marker == kToolCallClose || marker == kToolCallOpen || is_end_of_turn(marker);
  });
  if (lt == std::string_view::npos) {
    append_call(s.substr(start));
    i = s.size();
    return true;
  }
  append_call(s.substr(start, lt - start));
  i = lt;
  if (state_ != State::kToolCall) return true;  // the call ran over its size limit
  if (m.kind == MatchKind::kPrefix) return false;
  i = lt + kMarkerText[m.marker].size();
  if (m.marker == kToolCallClose) {
    complete_call(true);
    state_ = State::kContent;
  } else if (m.marker == kToolCallOpen) {
    complete_call(false);  // a new call began before this one was closed
    call_.clear();
  } else {
    complete_call(false);
    end_turn();
  }
  return true;
}

void OutputParser::append_call(std::string_view text) {
  const size_t room = options_.max_tool_call_bytes - std::min(call_.size(), options_.max_tool_call_bytes);
  if (text.size() <= room) {
    call_.append(text);
    return;
  }
  call_.append(text.substr(0, room));
  const std::string raw = std::string(kMarkerText[kToolCallOpen]) + call_;
  const std::string error = "the tool call is longer than " + std::to_string(options_.max_tool_call_bytes) +
                            " bytes (a runaway model?); the turn ends here";
  OutputEvent e;
  e.kind = OutputEventKind::kInvalidToolCall;
  e.text = error;
  e.raw = raw;
  sink_(e);
  call_.clear();
  warned_after_end_ = true;  // the rest of the runaway call is ignored without a second warning
  end_turn();
}

void OutputParser::complete_call(bool closed) {
  const ToolCallSyntax call = parse_tool_call_body(call_);
  const bool known = options_.accept_any_tool_name ||
                     std::find(options_.tool_names.begin(), options_.tool_names.end(), call.name) !=
                         options_.tool_names.end();
  if (call.ok && known) {
    OutputEvent e;
    e.kind = OutputEventKind::kToolCall;
    e.name = call.name;
    e.arguments = call.arguments_json;
    sink_(e);
    if (!closed) warn("the tool call '" + call.name + "' was not closed with <tool_call|>; it was accepted");
    call_.clear();
    return;
  }
  std::string error;
  if (!call.ok) {
    error = "invalid tool call syntax " + call.error;
  } else {
    error = "unknown tool '" + call.name + "'";
  }
  if (!closed) error = "the tool call was not closed with <tool_call|>; " + error;
  std::string raw = std::string(kMarkerText[kToolCallOpen]) + call_;
  if (closed) raw += kMarkerText[kToolCallClose];
  OutputEvent e;
  e.kind = OutputEventKind::kInvalidToolCall;
  e.text = error;
  e.raw = raw;
  e.name = call.name;
  e.arguments = call.arguments_json;
  sink_(e);
  call_.clear();
}

// The caller still owns buf_ (push() passes what is left of it to ignore_after_end).
void OutputParser::end_turn() { state_ = State::kDone; }

void OutputParser::ignore_after_end(std::string_view text) {
  if (warned_after_end_ || text.find_first_not_of(kSpace) == std::string_view::npos) return;
  warned_after_end_ = true;
  warn("text after the end of the turn was ignored");
}

void OutputParser::finish() {
  if (finished_) return;
  finished_ = true;
  switch (state_) {
    case State::kContent:
    case State::kThinking:
      // buf_ holds a proper prefix of a marker. A lone '<' is far more likely a less-than sign than a cut
      // marker (markers are single tokens), so it stays text; a longer prefix is dropped.
      if (buf_ == "<") {
        emit_text(buf_);
      } else if (!buf_.empty()) {
        warn("the stream ended inside what may be a marker; '" + buf_ + "' was dropped");
      }
      if (state_ == State::kThinking) leave_thinking(false);
      break;
    case State::kChannelHeader: leave_thinking(false); break;
    case State::kRoleLine: end_role_line(); break;
    case State::kToolCall:
      if (!buf_.empty()) warn("the stream ended inside what may be a marker; '" + buf_ + "' was dropped");
      complete_call(false);
      break;
    case State::kDone: break;
  }
  buf_.clear();
  state_ = State::kDone;
}

void OutputParser::emit_text(std::string_view text) {
  if (state_ == State::kContent) {
    emit(OutputEventKind::kContent, text);
    return;
  }
  // Thinking: drop the whitespace after the header and before <channel|>, which the format puts there.
  if (skip_thinking_space_) {
    const size_t p = text.find_first_not_of(kSpace);
    if (p == std::string_view::npos) return;
    text.remove_prefix(p);
    skip_thinking_space_ = false;
  }
  const size_t last = text.find_last_not_of(kSpace);
  if (last == std::string_view::npos) {
    held_space_.append(text);
    return;
  }
  if (!options_.thinking_requested && !warned_unrequested_thought_) {
    warned_unrequested_thought_ = true;  // an empty stray block does not count
    warn("the model produced thinking although thinking was not requested; it went to thinking");
  }
  if (!held_space_.empty()) {
    emit(OutputEventKind::kThinking, held_space_);
    held_space_.clear();
  }
  emit(OutputEventKind::kThinking, text.substr(0, last + 1));
  held_space_.assign(text.substr(last + 1));
}

void OutputParser::emit(OutputEventKind kind, std::string_view text) {
  if (text.empty()) return;
  OutputEvent e;
  e.kind = kind;
  e.text = text;
  sink_(e);
}

void OutputParser::warn(std::string_view message) {
  if (n_warnings_ >= options_.max_warnings) return;
  ++n_warnings_;
  OutputEvent e;
  e.kind = OutputEventKind::kWarning;
  if (n_warnings_ == options_.max_warnings) {
    e.text = "too many warnings; the rest were dropped";
  } else {
    e.text = message;
  }
  sink_(e);
}

void ParsedOutput::add(const OutputEvent& event) {
  switch (event.kind) {
    case OutputEventKind::kContent: content += event.text; break;
    case OutputEventKind::kThinking: thinking += event.text; break;
    case OutputEventKind::kToolCall:
      tool_calls.push_back({std::string(event.name), std::string(event.arguments)});
      break;
    case OutputEventKind::kInvalidToolCall:
      invalid_tool_calls.push_back({std::string(event.text), std::string(event.raw), std::string(event.name),
                                    std::string(event.arguments)});
      break;
    case OutputEventKind::kWarning: warnings.emplace_back(event.text); break;
  }
}

ParsedOutput parse_output(std::string_view text, const OutputParserOptions& options) {
  ParsedOutput out;
  OutputParser parser(options, [&out](const OutputEvent& e) { out.add(e); });
  parser.push(text);
  parser.finish();
  return out;
}

}  // namespace locus::text
