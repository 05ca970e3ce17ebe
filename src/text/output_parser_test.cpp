#include "text/output_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "text/tool_call_syntax.h"

namespace locus::text {
namespace {

constexpr std::string_view kMarkers[] = {
    "<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|\"|>", "<|turn>", "<turn|>",
    "<|tool_response>", "<tool_response|>", "<|tool>", "<tool|>", "<|think|>", "<eos>",
};

// What a parse produced: the per-kind totals, and the events in order with adjacent text of one kind merged
// (how text is cut into events depends on how the input was split; nothing else may).
struct Recorded {
  ParsedOutput out;
  std::vector<std::pair<OutputEventKind, std::string>> sequence;
  bool done = false;
  bool operator==(const Recorded&) const = default;
};

OutputParserOptions tools(std::vector<std::string> names, bool thinking = false) {
  OutputParserOptions o;
  o.tool_names = std::move(names);
  o.thinking_requested = thinking;
  return o;
}

Recorded run(const std::vector<std::string_view>& pieces, const OutputParserOptions& options) {
  Recorded r;
  OutputParser parser(options, [&r](const OutputEvent& e) {
    r.out.add(e);
    std::string item;
    switch (e.kind) {
      case OutputEventKind::kContent:
      case OutputEventKind::kThinking:
      case OutputEventKind::kWarning: item = std::string(e.text); break;
      case OutputEventKind::kToolCall: item = std::string(e.name) + "|" + std::string(e.arguments); break;
      case OutputEventKind::kInvalidToolCall: item = std::string(e.text) + "|" + std::string(e.raw); break;
    }
    if (e.kind == OutputEventKind::kContent || e.kind == OutputEventKind::kThinking) {
      EXPECT_FALSE(e.text.empty());
      for (std::string_view m : kMarkers) EXPECT_EQ(e.text.find(m), std::string_view::npos) << e.text;
      if (!r.sequence.empty() && r.sequence.back().first == e.kind) {
        r.sequence.back().second += item;
        return;
      }
    }
    r.sequence.emplace_back(e.kind, std::move(item));
  });
  for (std::string_view p : pieces) parser.push(p);
  parser.finish();
  r.done = parser.done();
  return r;
}

Recorded run(std::string_view text, const OutputParserOptions& options) {
  return run(std::vector<std::string_view>{text}, options);
}

// The same text split at every byte, at every pair of bytes (short texts) and into single bytes gives the same
// events as the whole text.
void expect_split_invariant(std::string_view text, const OutputParserOptions& options) {
  SCOPED_TRACE(std::string(text));
  const Recorded whole = run(text, options);
  EXPECT_EQ(whole.out, parse_output(text, options));
  for (size_t k = 1; k < text.size(); ++k) {
    ASSERT_EQ(run({text.substr(0, k), text.substr(k)}, options), whole) << "split at " << k;
  }
  if (text.size() <= 200) {
    for (size_t a = 1; a < text.size(); ++a) {
      for (size_t b = a + 1; b < text.size(); ++b) {
        ASSERT_EQ(run({text.substr(0, a), text.substr(a, b - a), text.substr(b)}, options), whole)
            << "split at " << a << " and " << b;
      }
    }
  }
  std::vector<std::string_view> bytes;
  for (size_t k = 0; k < text.size(); ++k) bytes.push_back(text.substr(k, 1));
  ASSERT_EQ(run(bytes, options), whole) << "single bytes";
}

bool has_warning(const ParsedOutput& out, std::string_view part) {
  for (const auto& w : out.warnings) {
    if (w.find(part) != std::string::npos) return true;
  }
  return false;
}

// ---- gemma4.md 7.2 / 7.3 ----

TEST(OutputParser, ThinkingOnGivesThoughtThenAnswer) {
  const auto r = run("<|channel>thought\nThe user greets me.\nReply kindly.<channel|>Hello! How can I help?<turn|>",
                     tools({}, true));
  EXPECT_EQ(r.out.thinking, "The user greets me.\nReply kindly.");
  EXPECT_EQ(r.out.content, "Hello! How can I help?");
  EXPECT_TRUE(r.out.warnings.empty());
  EXPECT_TRUE(r.done);
}

TEST(OutputParser, ThinkingOffGivesTheAnswer) {
  const auto r = run("It is 18 \xC2\xB0" "C and cloudy in Paris.<turn|>", tools({"get_weather"}));
  EXPECT_EQ(r.out.content, "It is 18 \xC2\xB0" "C and cloudy in Paris.");
  EXPECT_EQ(r.out.thinking, "");
  EXPECT_TRUE(r.out.warnings.empty());
}

TEST(OutputParser, LeadingTurnHeaderIsSkipped) {
  const auto r = run("<|turn>model\nHi there<turn|>\n", {});
  EXPECT_EQ(r.out.content, "Hi there");
  EXPECT_TRUE(r.out.warnings.empty());
  // Only at the start: later it is a new turn, which ends this one.
  const auto later = run("Hi<|turn>user\nmore", {});
  EXPECT_EQ(later.out.content, "Hi");
  EXPECT_TRUE(has_warning(later.out, "new turn"));
}

TEST(OutputParser, ThinkingOffButTheModelThinksAnyway) {
  const auto r = run("<|channel>thought\nLet me think.\n<channel|>Answer.<turn|>", tools({}, false));
  EXPECT_EQ(r.out.thinking, "Let me think.");
  EXPECT_EQ(r.out.content, "Answer.");
  ASSERT_EQ(r.out.warnings.size(), 1u);
  EXPECT_TRUE(has_warning(r.out, "not requested"));
  // Requested: the same output, no warning.
  EXPECT_TRUE(run("<|channel>thought\nLet me think.\n<channel|>Answer.<turn|>", tools({}, true)).out.warnings.empty());
}

TEST(OutputParser, StrayEmptyChannelBlocksAndLoneChannelCloseAreTolerated) {
  const auto r = run("<channel|><|channel><channel|>Hello<|channel>\n<channel|> world<channel|>", {});
  EXPECT_EQ(r.out.content, "Hello world");
  EXPECT_EQ(r.out.thinking, "");
  EXPECT_TRUE(r.out.warnings.empty());
}

TEST(OutputParser, ToolCallFromTheTemplateExample) {
  const auto r = run(
      "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,unit:<|\"|>c<|\"|>}<tool_call|><|tool_response>",
      tools({"get_weather"}));
  ASSERT_EQ(r.out.tool_calls.size(), 1u);
  EXPECT_EQ(r.out.tool_calls[0].name, "get_weather");
  EXPECT_EQ(r.out.tool_calls[0].arguments, R"({"city":"Paris","unit":"c"})");
  EXPECT_EQ(r.out.content, "");
  EXPECT_TRUE(r.out.warnings.empty());
  EXPECT_TRUE(r.done);
}

const char kTwoCalls[] =
    "<|channel>thought\nNeed both tools.\n<channel|>"
    "<|tool_call>call:search{query:<|\"|>a, {b} \"c\" \\d\nline2 \xC3\xA9 \xE6\x9D\xB1\xE4\xBA\xAC "
    "\xF0\x9F\x98\x80<|\"|>,filters:{year:2024,tags:[<|\"|>x<|\"|>, <|\"|>y<|\"|>],exact:true,limit:null,"
    "score:-1.5e3},empty:{},list:[]}<tool_call|>"
    "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}<tool_call|><|tool_response>";

TEST(OutputParser, SeveralCallsWithNestedArguments) {
  const auto r = run(kTwoCalls, tools({"search", "get_weather"}, true));
  EXPECT_EQ(r.out.thinking, "Need both tools.");
  ASSERT_EQ(r.out.tool_calls.size(), 2u);
  EXPECT_EQ(r.out.tool_calls[0].name, "search");
  EXPECT_EQ(r.out.tool_calls[0].arguments,
            "{\"query\":\"a, {b} \\\"c\\\" \\\\d\\nline2 \xC3\xA9 \xE6\x9D\xB1\xE4\xBA\xAC \xF0\x9F\x98\x80\","
            "\"filters\":{\"year\":2024,\"tags\":[\"x\",\"y\"],\"exact\":true,\"limit\":null,\"score\":-1.5e3},"
            "\"empty\":{},\"list\":[]}");
  EXPECT_EQ(r.out.tool_calls[1].name, "get_weather");
  EXPECT_EQ(r.out.tool_calls[1].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(r.out.content, "");
  EXPECT_TRUE(r.out.warnings.empty());
}

TEST(ToolCallSyntax, StringsAreEscapedForJson) {
  const std::pair<std::string, std::string> cases[] = {
      {"a,b", R"("a,b")"},
      {"{x}:[y]", R"("{x}:[y]")"},
      {"say \"hi\"", R"("say \"hi\"")"},
      {"back\\slash", R"("back\\slash")"},
      {"line\nbreak\ttab\r", R"("line\nbreak\ttab\r")"},
      {std::string("nul\0bell\x07", 9), R"("nul\u0000bell\u0007")"},
      {"\xC3\xA9 \xF0\x9F\x98\x80", "\"\xC3\xA9 \xF0\x9F\x98\x80\""},
      {"bad \xC3 utf8", "\"bad \xEF\xBF\xBD utf8\""},
      {"<tool_call>", R"("<tool_call>")"},
      {"", R"("")"},
  };
  for (const auto& [raw, json] : cases) {
    const auto r = parse_tool_call_body("call:f{v:<|\"|>" + raw + "<|\"|>}");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.arguments_json, "{\"v\":" + json + "}");
  }
}

TEST(ToolCallSyntax, NumbersAndLiteralsAreCopiedAndKeyOrderKept) {
  const auto r = parse_tool_call_body("call:f{ z : 0 , a:-1.5,\n m:2e10,b:1E-3,c:true,d:false,e:null,f:[1, [2,{}]]}");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.name, "f");
  EXPECT_EQ(r.arguments_json, R"({"z":0,"a":-1.5,"m":2e10,"b":1E-3,"c":true,"d":false,"e":null,"f":[1,[2,{}]]})");
  EXPECT_TRUE(parse_tool_call_body("call:f{<|\"|>quoted key<|\"|>:1}").ok);
  EXPECT_TRUE(is_json_number("-0.5e+7"));
  for (std::string_view bad : {"+1", "01", "1.", ".5", "-", "1e", "1e+", "--1", "0x10", ""}) {
    EXPECT_FALSE(is_json_number(bad)) << bad;
  }
}

TEST(ToolCallSyntax, MalformedCallsSayWhatWasFound) {
  const char* bad[] = {
      "call:f{city:Paris}",              // bare word
      "call:f{\"city\":\"Paris\"}",      // JSON quotes
      "call:f{city:'Paris'}",            // single quotes
      "call:f{city:<|\"|>Paris<|\"|>,}", // trailing comma
      "call:f{a:01}", "call:f{a:+1}", "call:f{a:1.}", "call:f{a:truex}",
      "call:f{a:<|\"|>unterminated}",    // no closing quote
      "call:f{a:1}trailing", "f{a:1}", "call:{a:1}", "call:f", "call:f{a:1", "call:f{a 1}", "call:f{a:[1,2}",
      "call:f{:1}", "",
  };
  for (const char* body : bad) {
    const auto r = parse_tool_call_body(body);
    EXPECT_FALSE(r.ok) << body;
    EXPECT_NE(r.error.find("expected"), std::string::npos) << r.error;
    EXPECT_TRUE(r.arguments_json.empty());
  }
  EXPECT_NE(parse_tool_call_body("call:f{city:Paris}").error.find("'Paris}'"), std::string::npos);
  std::string deep = "call:f{a:";
  for (int i = 0; i < 100; ++i) deep += "[";
  EXPECT_FALSE(parse_tool_call_body(deep).ok);
  std::string ok_depth = "call:f{a:" + std::string(60, '[') + std::string(60, ']') + "}";
  EXPECT_TRUE(parse_tool_call_body(ok_depth).ok);
}

// ---- malformed output: defined results ----

TEST(OutputParser, InvalidCallSyntaxIsAnInvalidCallEventAndTheAnswerGoesOn) {
  const std::string text = "<|tool_call>call:get_weather{city:Paris}<tool_call|>Sorry.<turn|>";
  const auto r = run(text, tools({"get_weather"}));
  ASSERT_EQ(r.out.invalid_tool_calls.size(), 1u);
  const auto& bad = r.out.invalid_tool_calls[0];
  EXPECT_EQ(bad.raw, "<|tool_call>call:get_weather{city:Paris}<tool_call|>");
  EXPECT_EQ(bad.name, "get_weather");
  EXPECT_NE(bad.error.find("invalid tool call syntax"), std::string::npos) << bad.error;
  EXPECT_TRUE(r.out.tool_calls.empty());
  EXPECT_EQ(r.out.content, "Sorry.");
}

TEST(OutputParser, UnknownToolIsAnInvalidCall) {
  const auto r = run("<|tool_call>call:delete_everything{path:<|\"|>/<|\"|>}<tool_call|>", tools({"get_weather"}));
  ASSERT_EQ(r.out.invalid_tool_calls.size(), 1u);
  EXPECT_EQ(r.out.invalid_tool_calls[0].name, "delete_everything");
  EXPECT_EQ(r.out.invalid_tool_calls[0].arguments, R"({"path":"/"})");
  EXPECT_NE(r.out.invalid_tool_calls[0].error.find("unknown tool 'delete_everything'"), std::string::npos);
  EXPECT_TRUE(r.out.tool_calls.empty());
  // No tools offered: every call is unknown, unless any name is accepted.
  EXPECT_EQ(run("<|tool_call>call:f{}<tool_call|>", {}).out.invalid_tool_calls.size(), 1u);
  OutputParserOptions any;
  any.accept_any_tool_name = true;
  EXPECT_EQ(run("<|tool_call>call:f{}<tool_call|>", any).out.tool_calls.size(), 1u);
}

TEST(OutputParser, UnclosedCallAtTheEnd) {
  // Complete but not closed (the model went straight to <|tool_response>, or the stream stopped): accepted.
  for (std::string_view end : {"", "<|tool_response>", "<turn|>"}) {
    const auto r = run("<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}" + std::string(end), tools({"get_weather"}));
    ASSERT_EQ(r.out.tool_calls.size(), 1u) << end;
    EXPECT_EQ(r.out.tool_calls[0].arguments, R"({"city":"Paris"})");
    EXPECT_TRUE(has_warning(r.out, "not closed"));
  }
  // Cut short: an invalid call with the raw text.
  const auto r = run("<|tool_call>call:get_weather{city:<|\"|>Par", tools({"get_weather"}));
  EXPECT_TRUE(r.out.tool_calls.empty());
  ASSERT_EQ(r.out.invalid_tool_calls.size(), 1u);
  EXPECT_EQ(r.out.invalid_tool_calls[0].raw, "<|tool_call>call:get_weather{city:<|\"|>Par");
  EXPECT_NE(r.out.invalid_tool_calls[0].error.find("not closed"), std::string::npos);
  EXPECT_EQ(r.out.content, "");
  // A second call opened before the first was closed.
  const auto two = run("<|tool_call>call:f{}<|tool_call>call:f{a:1}<tool_call|>", tools({"f"}));
  ASSERT_EQ(two.out.tool_calls.size(), 2u);
  EXPECT_EQ(two.out.tool_calls[1].arguments, R"({"a":1})");
}

TEST(OutputParser, RunawayCallIsCutAtTheLimitAndEndsTheTurn) {
  OutputParserOptions o = tools({"f"});
  o.max_tool_call_bytes = 64;
  ParsedOutput out;
  OutputParser p(o, [&out](const OutputEvent& e) { out.add(e); });
  p.push("<|tool_call>call:f{x:<|\"|>");
  for (int i = 0; i < 1000 && !p.done(); ++i) p.push("loop ");
  EXPECT_TRUE(p.done());  // the caller can stop generating
  p.push("<tool_call|>more");
  p.finish();
  ASSERT_EQ(out.invalid_tool_calls.size(), 1u);
  EXPECT_EQ(out.invalid_tool_calls[0].raw.size(), std::string_view("<|tool_call>").size() + 64);
  EXPECT_NE(out.invalid_tool_calls[0].error.find("longer than 64 bytes"), std::string::npos);
  EXPECT_TRUE(out.warnings.empty());
  EXPECT_EQ(out.content, "");
}

TEST(OutputParser, ThoughtLeftOpen) {
  const auto before_call = run("<|channel>thought\nI'll call it.<|tool_call>call:f{}<tool_call|>", tools({"f"}, true));
  EXPECT_EQ(before_call.out.thinking, "I'll call it.");
  EXPECT_EQ(before_call.out.tool_calls.size(), 1u);
  EXPECT_TRUE(has_warning(before_call.out, "not closed"));
  const auto at_end = run("<|channel>thought\nthinking forever  \n", tools({}, true));
  EXPECT_EQ(at_end.out.thinking, "thinking forever");
  EXPECT_EQ(at_end.out.content, "");
  EXPECT_TRUE(has_warning(at_end.out, "not closed"));
  const auto at_turn_end = run("<|channel>thought\nx<turn|>", tools({}, true));
  EXPECT_EQ(at_turn_end.out.thinking, "x");
  EXPECT_TRUE(has_warning(at_turn_end.out, "not closed"));
}

TEST(OutputParser, StrayMarkersAreDroppedWithAWarning) {
  const auto r = run("a<|\"|>b<tool_call|>c<|think|>d<tool_response|>e", {});
  EXPECT_EQ(r.out.content, "abcde");
  EXPECT_EQ(r.out.warnings.size(), 4u);
}

TEST(OutputParser, AngleBracketsThatAreNotMarkersStayText) {
  const std::string text = "if a<b && c>d: <div> <|x|> <turn> <tool_call> <|channel <eos <<|";
  const auto r = run(text + "<turn|>", {});
  EXPECT_EQ(r.out.content, text);
  EXPECT_EQ(run("x <", {}).out.content, "x <");               // a lone '<' at the end stays text
}

TEST(OutputParser, StreamEndingMidMarkerDropsThePartialMarker) {
  for (std::string_view tail : {"<|tool_c", "<tur", "<|", "<channel", "<|\"|"}) {
    const auto r = run("Hello " + std::string(tail), {});
    EXPECT_EQ(r.out.content, "Hello ") << tail;
    EXPECT_TRUE(has_warning(r.out, "ended inside what may be a marker")) << tail;
  }
  const auto thought = run("<|channel>thought\nhmm <chan", tools({}, true));
  EXPECT_EQ(thought.out.thinking, "hmm");
}

TEST(OutputParser, TextStreamsWithoutWaitingLongerThanAMarker) {
  ParsedOutput out;
  OutputParser p({}, [&out](const OutputEvent& e) { out.add(e); });
  p.push("Hello");
  EXPECT_EQ(out.content, "Hello");
  p.push(" a <");
  EXPECT_EQ(out.content, "Hello a ");
  p.push("b");
  EXPECT_EQ(out.content, "Hello a <b");
  p.push(" <|tu");
  EXPECT_EQ(out.content, "Hello a <b ");
  p.push("x");
  EXPECT_EQ(out.content, "Hello a <b <|tux");
  p.push("<tur");
  p.push("n|>ignored");
  EXPECT_TRUE(p.done());
  p.finish();
  EXPECT_EQ(out.content, "Hello a <b <|tux");
  EXPECT_TRUE(has_warning(out, "after the end of the turn"));
}

TEST(OutputParser, FinishIsIdempotentAndLaterPushesAreIgnored) {
  ParsedOutput out;
  OutputParser p({}, [&out](const OutputEvent& e) { out.add(e); });
  p.push("a");
  p.finish();
  p.finish();
  p.push("b");
  EXPECT_TRUE(p.done());
  EXPECT_EQ(out.content, "a");
}

// ---- every split point ----

TEST(OutputParser, EverySplitGivesTheSameEvents) {
  const OutputParserOptions weather = tools({"get_weather", "search", "f"});
  const OutputParserOptions thinking = tools({"get_weather", "search", "f"}, true);
  OutputParserOptions small = weather;
  small.max_tool_call_bytes = 40;
  const std::pair<std::string, OutputParserOptions> cases[] = {
      {"<|channel>thought\nThe user greets me.\nReply kindly.<channel|>Hello! How can I help?<turn|>", thinking},
      {"It is 18 \xC2\xB0" "C and cloudy in Paris.<turn|>", weather},
      {"<|turn>model\nHi there<turn|>\n", weather},
      {"<|channel>thought\nLet me think.\n<channel|>Answer.<turn|>", weather},
      {"<channel|><|channel><channel|>Hello<|channel>\n<channel|> world<channel|>", weather},
      {"<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,unit:<|\"|>c<|\"|>}<tool_call|><|tool_response>", weather},
      {kTwoCalls, thinking},
      {"<|tool_call>call:get_weather{city:Paris}<tool_call|>Sorry.<turn|>", weather},
      {"<|tool_call>call:delete_everything{path:<|\"|>/<|\"|>}<tool_call|>", weather},
      {"<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}<|tool_response>", weather},
      {"<|tool_call>call:get_weather{city:<|\"|>Par", weather},
      {"<|tool_call>call:f{}<|tool_call>call:f{a:1}<tool_call|>", weather},
      {"<|tool_call>call:f{x:<|\"|>loop loop loop loop loop loop loop loop<tool_call|>more", small},
      {"<|channel>thought\nI'll call it.<|tool_call>call:f{}<tool_call|>", thinking},
      {"<|channel>thought\nthinking forever  \n", thinking},
      {"a<|\"|>b<tool_call|>c<|think|>d<tool_response|>e", weather},
      {"if a<b && c>d: <div> <|x|> <turn> <tool_call> <|channel <eos <<|<turn|>", weather},
      {"Hello <|tool_c", weather},
      {"x <", weather},
      {"<|channel>thought\nhmm <chan", thinking},
      {"Hi<|turn>user\nmore", weather},
      {"Done.<turn|>more text", weather},
      {"<|turn>user\nodd header<|channel>thoughtful<channel|>ok", weather},
      {"<|turn>modelmodelmodelmodelmodelmodelmodelmodel\nx", weather},
  };
  for (const auto& [text, options] : cases) expect_split_invariant(text, options);
}

}  // namespace
}  // namespace locus::text
