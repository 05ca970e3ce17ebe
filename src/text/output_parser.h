// Turns the text a Gemma 4 model generates for one turn, streamed in pieces split anywhere (even inside a
// marker), into events: answer text, thinking text, tool calls with JSON arguments, invalid tool calls and
// warnings. See README.md ("Output parser") for the rules; in short:
//
// - `<|channel>thought ...<channel|>` goes to thinking whether or not thinking was requested (with thinking off
//   the prompt pre-fills an empty thought block, but the model may think anyway); the word "thought", the
//   whitespace after it and the whitespace before `<channel|>` are dropped.
// - `<|tool_call>call:NAME{...}<tool_call|>` becomes a tool call (tool_call_syntax.h) when NAME is known.
// - A leading `<|turn>model\n` is skipped; `<turn|>`, `<|tool_response>`, `<eos>` and a later `<|turn>` end the
//   turn, after which everything is ignored (done() says so, so generation can stop).
// - Marker text never comes out as answer or thinking text: stray empty `<|channel>` blocks and a lone
//   `<channel|>` are dropped silently, other stray markers (`<|"|>`, `<tool_call|>`, ...) with a warning.
// - A `<` is held back only while the text from it can still become a marker, so text streams with at most
//   one marker's length of delay.
// - Malformed tool calls never reach the answer: they come out as kInvalidToolCall events carrying the raw
//   text and the reason, and the answer goes on after them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace locus::text {

enum class OutputEventKind : uint8_t {
  kContent,          // text: answer text
  kThinking,         // text: thinking text
  kToolCall,         // name, arguments (a JSON object, keys in the order the model wrote them)
  kInvalidToolCall,  // text: why; raw: the call as generated; name/arguments: when they could be read
  kWarning,          // text: what looked wrong (the output is still usable)
};

// The views point into the parser's buffers and are valid only during the callback.
struct OutputEvent {
  OutputEventKind kind = OutputEventKind::kContent;
  std::string_view text;
  std::string_view name;
  std::string_view arguments;
  std::string_view raw;
};

// Called for each event, in order. It must not call back into the parser that called it.
using OutputSink = std::function<void(const OutputEvent&)>;

struct OutputParserOptions {
  // Whether the prompt asked for thinking. A thought block goes to thinking either way; with this false it
  // also gives a warning, because the model ignored the pre-filled empty thought.
  bool thinking_requested = false;
  // The tools offered in the prompt; a call to any other name is a kInvalidToolCall.
  std::vector<std::string> tool_names;
  // Accept calls to any name (for callers that check names themselves).
  bool accept_any_tool_name = false;
  // A call longer than this (between its markers) is a looping or runaway model: it becomes a
  // kInvalidToolCall holding its first max_tool_call_bytes bytes, and the turn ends there.
  size_t max_tool_call_bytes = 256 * 1024;
  // Warnings after this many are dropped; the last one kept says so.
  size_t max_warnings = 32;
};

// True for the text of one of the chat format's markers the parser reads (`<|channel>`, `<turn|>`, ...):
// the special tokens a generator must pass on as text for the parser to see them.
bool is_output_marker(std::string_view text);
// All of them. Each ends with '>'. A constraint keeps generated text from spelling one out of ordinary text
// tokens, which the parser could not tell from the special token (runtime/grammar_constraint.h).
std::span<const std::string_view> output_markers();

class OutputParser {
 public:
  OutputParser(OutputParserOptions options, OutputSink sink);

  // The next piece of generated text. Ignored after finish().
  void push(std::string_view piece);
  // Ends the stream: flushes what was held back and reports what was left open (see README.md). Idempotent.
  void finish();
  // True once the turn has ended (an end marker, a runaway call, or finish()): later text is ignored.
  bool done() const { return state_ == State::kDone; }
  // True between a `<|channel>` and its `<channel|>` (or whatever else ends the thought): the text pushed now
  // belongs to a thinking block. Callers count thinking tokens with it (OpenAI reasoning_tokens).
  bool in_thinking() const { return state_ == State::kChannelHeader || state_ == State::kThinking; }

 private:
  enum class State : uint8_t { kContent, kRoleLine, kChannelHeader, kThinking, kToolCall, kDone };

  bool step_text(size_t& i);
  bool step_role_line(size_t& i);
  bool step_channel_header(size_t& i);
  bool step_tool_call(size_t& i);
  void on_content_marker(int marker);
  void on_thinking_marker(int marker);
  void end_role_line();
  void open_thought();
  void leave_thinking(bool closed);
  void append_call(std::string_view text);
  void complete_call(bool closed);
  void end_turn();
  void ignore_after_end(std::string_view text);
  void emit_text(std::string_view text);
  void emit(OutputEventKind kind, std::string_view text);
  void warn(std::string_view message);

  OutputParserOptions options_;
  OutputSink sink_;
  State state_ = State::kContent;
  bool finished_ = false;
  bool consumed_any_ = false;      // whether any byte came before (a leading <|turn> is a header)
  bool skip_thinking_space_ = false;
  bool warned_unrequested_thought_ = false;
  bool warned_after_end_ = false;
  size_t n_warnings_ = 0;
  size_t header_matched_ = 0;      // bytes of "thought" matched after <|channel>
  std::string buf_;                // bytes pushed and not yet consumed (a marker prefix held back)
  std::string held_space_;         // thinking whitespace that may turn out to be trailing
  std::string role_;               // role name after a leading <|turn>
  std::string call_;               // the tool call being read, between its markers
};

// Everything one turn produced, each kind of text concatenated. Fill it with add(), or use parse_output().
struct ParsedToolCall {
  std::string name;
  std::string arguments;
  bool operator==(const ParsedToolCall&) const = default;
};

struct InvalidToolCall {
  std::string error;
  std::string raw;
  std::string name;
  std::string arguments;
  bool operator==(const InvalidToolCall&) const = default;
};

struct ParsedOutput {
  std::string content;
  std::string thinking;
  std::vector<ParsedToolCall> tool_calls;
  std::vector<InvalidToolCall> invalid_tool_calls;
  std::vector<std::string> warnings;

  void add(const OutputEvent& event);
  bool operator==(const ParsedOutput&) const = default;
};

// Parses a whole turn at once.
ParsedOutput parse_output(std::string_view text, const OutputParserOptions& options);

}  // namespace locus::text
