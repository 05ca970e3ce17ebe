// Structured output at the token level: through the real generator (fake model, random logits), every output
// is what the grammar allows: JSON that parses and validates, or Gemma 4 tool calls whose arguments validate;
// masks agree with allows() token by token, whatever the token boundaries; thinking stays possible.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/generator.h"
#include "runtime/grammar_constraint.h"
#include "runtime/test_fakes.h"
#include "text/json_grammar.h"
#include "text/output_parser.h"
#include "text/tool_call_syntax.h"

namespace locus::runtime {
namespace {

using Kind = ConstraintVocab::Kind;
using testing::FakeModel;
using testing::FakeText;
using testing::RecordingSink;

// A small vocabulary shaped like a real one: every byte on its own (as byte-fallback tokens are), words and
// JSON punctuation glued together (as BPE merges them), and Gemma 4's special tokens.
struct TestVocab {
  std::vector<std::pair<Kind, std::string>> pieces;
  int32_t eog = -1, quote = -1, tool_open = -1, tool_close = -1, channel_open = -1, channel_close = -1, control = -1;
  std::vector<int32_t> marker_parts;

  TestVocab() {
    auto add = [&](Kind k, std::string text) {
      pieces.emplace_back(k, std::move(text));
      return static_cast<int32_t>(pieces.size() - 1);
    };
    eog = add(Kind::kEog, "");
    control = add(Kind::kNever, "");
    quote = add(Kind::kQuote, "");
    tool_open = add(Kind::kToolCallOpen, "");
    tool_close = add(Kind::kToolCallClose, "");
    channel_open = add(Kind::kChannelOpen, "");
    channel_close = add(Kind::kChannelClose, "");
    for (int b = 1; b < 256; ++b) add(Kind::kText, std::string(1, static_cast<char>(b)));
    for (const char* t : {"{\"", "\":", "\",", "\"}", "\"]", "\":\"", "name", "age", "tags", "ok", "true", "false",
                          "null", "123", "-4", "0.5", "e+7", "  ", "\n  ", "},", "}]", "[{", "\\n", "\\u00e9",
                          "call:", "get_weather", "city", "unit", "Paris", " and ", "\xc3\xa9t\xc3\xa9", "\xe2\x82\xac",
                          "hello world", "{}", "[]", ",\"", "\"\"", "\"hi\""}) {
      add(Kind::kText, t);
    }
    // Pieces that spell the chat format's markers a few bytes at a time (real vocabularies have such pieces).
    for (const char* t : {"<|", "|>", "<turn", "turn|>", "<|channel", "channel|>", "<|tool_call", "tool_call|>",
                          "<eos>", "eos>", "_response>", "<|\"", "\"|>", "a<", "think|>", "<|tool"}) {
      marker_parts.push_back(add(Kind::kText, t));
    }
  }
  int32_t size() const { return static_cast<int32_t>(pieces.size()); }

  // The text the generator streams for each token: special tokens as their marker text.
  void fill(FakeText& text) const {
    for (int32_t id = 0; id < size(); ++id) {
      const auto& [k, t] = pieces[static_cast<size_t>(id)];
      switch (k) {
        case Kind::kText: text.set(id, t); break;
        case Kind::kQuote: text.set(id, "<|\"|>"); break;
        case Kind::kToolCallOpen: text.set(id, "<|tool_call>"); break;
        case Kind::kToolCallClose: text.set(id, "<tool_call|>"); break;
        case Kind::kChannelOpen: text.set(id, "<|channel>"); break;
        case Kind::kChannelClose: text.set(id, "<channel|>"); break;
        default: text.set(id, ""); break;
      }
    }
    text.set_eog(eog);
  }
};

std::shared_ptr<const text::JsonGrammar> compile(const char* schema) {
  text::GrammarResult g = text::compile_json_schema(nlohmann::ordered_json::parse(schema));
  EXPECT_TRUE(g.grammar) << g.error;
  return g.grammar;
}

struct Outcome {
  GenerateResult result;
  std::string text;
  std::vector<int32_t> tokens;  // every token drawn but the end of generation
};

Outcome generate(const TestVocab& v, std::shared_ptr<const ConstraintVocab> cv, StructuredOutput out, uint64_t seed,
             float temperature, int32_t num_predict = 400, std::vector<int32_t> script = {}) {
  FakeModel model(v.size(), 4096);
  FakeText text(v.size());
  v.fill(text);
  model.script = std::move(script);
  model.script_from = 3;
  Generator g(model, text);
  GrammarConstraint c(std::move(cv), std::move(out));
  RecordingSink sink;
  const std::vector<int32_t> prompt = {10, 11, 12};
  GenerateRequest req;
  req.prompt = prompt;
  req.options.temperature = temperature;
  req.options.seed = static_cast<int64_t>(seed);
  req.options.num_predict = num_predict;
  req.options.top_k = 0;
  req.options.top_p = 1.0f;
  req.constraint = &c;
  Outcome r{g.generate(req, sink), sink.output, sink.tokens};
  return r;
}

// Removes a leading thinking block, which the constraint leaves free.
std::string strip_thinking(const std::string& s) {
  if (s.rfind("<|channel>", 0) != 0) return s;
  const size_t end = s.find("<channel|>");
  return end == std::string::npos ? std::string() : s.substr(end + 10);
}

TEST(GrammarConstraint, EveryJsonAnswerParsesAndValidates) {
  TestVocab v;
  auto cv = ConstraintVocab::from_pieces(v.pieces);
  auto grammar = compile(R"({"type":"object","properties":{"name":{"type":"string","maxLength":12},
      "age":{"type":"integer","minimum":0,"maximum":150},"tags":{"type":"array","items":{"enum":["a","b"]},
      "maxItems":3},"ok":{"type":"boolean"}},"required":["name","age"]})");
  int finished = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    const Outcome r = generate(v, cv, {StructuredOutput::Kind::json, grammar}, seed, seed % 3 == 0 ? 0.0f : 1.0f);
    ASSERT_NE(r.result.reason, DoneReason::error) << r.result.error;
    if (r.result.reason != DoneReason::stop) continue;  // num_predict reached (a long string): cut, not wrong
    ++finished;
    const std::string body = strip_thinking(r.text);
    const auto j = nlohmann::json::parse(body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "seed " << seed << ": " << r.text;
    ASSERT_TRUE(j.is_object()) << body;
    ASSERT_TRUE(j.contains("name") && j["name"].is_string()) << body;
    ASSERT_TRUE(j.contains("age") && j["age"].is_number_integer()) << body;
    EXPECT_GE(j["age"].get<int64_t>(), 0);
    EXPECT_LE(j["age"].get<int64_t>(), 150);
    if (j.contains("tags")) {
      ASSERT_TRUE(j["tags"].is_array());
      EXPECT_LE(j["tags"].size(), 3u);
      for (const auto& t : j["tags"]) EXPECT_TRUE(t == "a" || t == "b") << body;
    }
    for (const auto& [key, value] : j.items()) {
      EXPECT_TRUE(key == "name" || key == "age" || key == "tags" || key == "ok") << body;
    }
  }
  EXPECT_GT(finished, 30);
}

TEST(GrammarConstraint, AnyJsonObjectForFormatJson) {
  TestVocab v;
  auto cv = ConstraintVocab::from_pieces(v.pieces);
  int finished = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const Outcome r = generate(v, cv, {StructuredOutput::Kind::json, text::any_json_object_grammar()}, seed, 1.0f);
    ASSERT_NE(r.result.reason, DoneReason::error) << r.result.error;
    if (r.result.reason != DoneReason::stop) continue;
    ++finished;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(strip_thinking(r.text));
    } catch (const std::exception& e) {
      FAIL() << e.what() << " in " << r.text;
    }
    EXPECT_TRUE(j.is_object()) << r.text;
  }
  EXPECT_GT(finished, 20);
}

TEST(GrammarConstraint, ThinkingIsAllowedFirstAndTheAnswerIsStillConstrained) {
  TestVocab v;
  auto cv = ConstraintVocab::from_pieces(v.pieces);
  // The model wants to open a thinking block, write some text, try to end the turn (refused), close it.
  const int32_t h = v.size() - 1 - static_cast<int32_t>(v.marker_parts.size());  // some plain text token
  const std::vector<int32_t> script = {v.channel_open, h, h, v.eog, v.channel_close};
  StructuredOutput thinking{StructuredOutput::Kind::json, compile(R"({"type":"object","properties":{"ok":
      {"type":"boolean"}},"required":["ok"]})")};
  thinking.allow_thinking = true;
  const Outcome r = generate(v, cv, thinking, 5, 0.0f, 400, script);
  ASSERT_EQ(r.result.reason, DoneReason::stop) << r.text;
  ASSERT_EQ(r.text.rfind("<|channel>", 0), 0u) << r.text;
  const auto j = nlohmann::json::parse(strip_thinking(r.text), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.text;
  EXPECT_TRUE(j["ok"].is_boolean());

  // Without thinking allowed, the same model must answer at once.
  StructuredOutput no_thinking{StructuredOutput::Kind::json, compile(R"({"type":"object","properties":{"ok":
      {"type":"boolean"}},"required":["ok"]})")};
  EXPECT_FALSE(no_thinking.allow_thinking) << "thinking must be asked for";
  const Outcome direct = generate(v, cv, no_thinking, 5, 0.0f, 400, script);
  ASSERT_EQ(direct.result.reason, DoneReason::stop) << direct.text;
  EXPECT_EQ(direct.text.find("<|channel>"), std::string::npos) << direct.text;
  EXPECT_FALSE(nlohmann::json::parse(direct.text, nullptr, false).is_discarded()) << direct.text;
}

TEST(GrammarConstraint, ForcedToolCallsValidate) {
  TestVocab v;
  auto cv = ConstraintVocab::from_pieces(v.pieces);
  const std::vector<nlohmann::ordered_json> tools = {
      nlohmann::ordered_json::parse(R"({"type":"function","function":{"name":"get_weather","parameters":{
          "type":"object","properties":{"city":{"type":"string","maxLength":10},"unit":{"enum":["c","f"]}},
          "required":["city","unit"]}}})"),
      nlohmann::ordered_json::parse(R"({"type":"function","function":{"name":"ok","parameters":{
          "type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}}})")};
  text::GrammarResult g = text::compile_tool_call_grammar(tools);
  ASSERT_TRUE(g.grammar) << g.error;
  for (bool parallel : {false, true}) {
    int finished = 0;
    for (uint64_t seed = 1; seed <= 40; ++seed) {
      const Outcome r = generate(v, cv, {StructuredOutput::Kind::tool_calls, g.grammar, parallel}, seed, 1.0f);
      ASSERT_NE(r.result.reason, DoneReason::error) << r.result.error;
      if (r.result.reason != DoneReason::stop) continue;
      ++finished;
      std::string rest = strip_thinking(r.text);
      int calls = 0;
      while (!rest.empty()) {
        ASSERT_EQ(rest.rfind("<|tool_call>", 0), 0u) << r.text;
        const size_t close = rest.find("<tool_call|>");
        ASSERT_NE(close, std::string::npos) << r.text;
        const text::ToolCallSyntax call = text::parse_tool_call_body(rest.substr(12, close - 12));
        ASSERT_TRUE(call.ok) << call.error << " in " << r.text;
        const auto args = nlohmann::json::parse(call.arguments_json);
        if (call.name == "get_weather") {
          ASSERT_TRUE(args["city"].is_string()) << r.text;
          EXPECT_LE(args["city"].get<std::string>().size(), 10u * 4);
          EXPECT_TRUE(args["unit"] == "c" || args["unit"] == "f") << r.text;
        } else {
          ASSERT_EQ(call.name, "ok") << r.text;
          EXPECT_TRUE(args["n"].is_number_integer()) << r.text;
        }
        rest = rest.substr(close + 12);
        ++calls;
      }
      EXPECT_GE(calls, 1);
      if (!parallel) {
        EXPECT_EQ(calls, 1) << r.text;
      }
    }
    EXPECT_GT(finished, 20) << "parallel " << parallel;
  }
}

// mask() (grouped by first byte, cached) and allows() (token by token) must agree on every token, in every state
// a random walk reaches.
TEST(GrammarConstraint, MaskAgreesWithAllowsEverywhere) {
  TestVocab v;
  auto cv = ConstraintVocab::from_pieces(v.pieces);
  std::vector<StructuredOutput> outputs = {
      {StructuredOutput::Kind::json, compile(R"({"type":"object","properties":{"name":{"type":"string"},"tags":
          {"type":"array","items":{"type":"number"}}}})")},
      // Bounded strings: the plain-text shortcut must cut tokens by their length in code points.
      {StructuredOutput::Kind::json, compile(R"({"type":"object","properties":{"a":{"type":"string","maxLength":3},
          "b":{"type":"string","minLength":2,"maxLength":7},"d":{"type":"string","format":"date"}},
          "required":["a","b","d"]})")},
      {StructuredOutput::Kind::json, text::any_json_object_grammar()}};
  const text::GrammarResult tools = text::compile_tool_call_grammar({nlohmann::ordered_json::parse(
      R"({"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":5},
          "unit":{"type":"string"}},"required":["city"]}})")});
  ASSERT_TRUE(tools.grammar) << tools.error;
  outputs.push_back({StructuredOutput::Kind::tool_calls, tools.grammar, true});
  std::mt19937_64 rng(3);
  std::vector<float> logits(static_cast<size_t>(v.size()));
  for (StructuredOutput out : outputs) {
    for (int walk = 0; walk < 60; ++walk) {
      // Half the walks may think first; some of them under a small budget, so the cap is reached too.
      out.allow_thinking = walk % 2 == 1;
      GrammarConstraint c(cv, out);
      if (walk % 4 == 1) c.set_token_budget(static_cast<int32_t>(rng() % 40));
      for (int step = 0; step < 80; ++step) {
        std::fill(logits.begin(), logits.end(), 0.0f);
        c.mask(logits);
        std::vector<int32_t> allowed, parts;
        for (int32_t id = 0; id < v.size(); ++id) {
          const bool by_mask = std::isfinite(logits[static_cast<size_t>(id)]);
          ASSERT_EQ(by_mask, c.allows(id)) << "token " << id << " walk " << walk << " step " << step;
          if (by_mask) allowed.push_back(id);
          if (by_mask && (id == v.channel_open || id == v.channel_close ||
                          std::find(v.marker_parts.begin(), v.marker_parts.end(), id) != v.marker_parts.end())) {
            parts.push_back(id);
          }
        }
        ASSERT_FALSE(allowed.empty());
        // Lean on the tokens that open and close blocks or spell markers, where the rules are.
        const int32_t t =
            !parts.empty() && rng() % 2 == 0 ? parts[rng() % parts.size()] : allowed[rng() % allowed.size()];
        c.accept(t);
        if (t == v.eog) break;
      }
    }
  }
}

// The text a token streams as (FakeText of TestVocab::fill): markers for the special tokens.
std::string piece_text(const TestVocab& v, int32_t id) {
  FakeText text(v.size());
  v.fill(text);
  return std::string(text.piece(id));
}

TEST(GrammarConstraint, SpellsMarkerSeesMarkersAcrossTokenBoundaries) {
  EXPECT_TRUE(GrammarConstraint::spells_marker("", "<turn|>"));
  EXPECT_TRUE(GrammarConstraint::spells_marker("ab<tur", "n|>"));
  EXPECT_TRUE(GrammarConstraint::spells_marker("x <|tool_", "response>"));
  EXPECT_TRUE(GrammarConstraint::spells_marker("<", "|\"|> and more"));
  EXPECT_TRUE(GrammarConstraint::spells_marker("", "say <eos> now"));
  EXPECT_TRUE(GrammarConstraint::spells_marker("<|channel", ">"));
  EXPECT_FALSE(GrammarConstraint::spells_marker("<tur", "n"));      // not finished yet
  EXPECT_FALSE(GrammarConstraint::spells_marker("<tur", "n |>"));   // broken up
  EXPECT_FALSE(GrammarConstraint::spells_marker("", "a -> b <p>"));  // HTML is not a marker
  EXPECT_FALSE(GrammarConstraint::spells_marker("<turn|", ""));
}

// Whatever a random walk through the allowed tokens does (leaning on marker-spelling pieces, thinking on and
// off, budgets small and large): the output holds no special token but the format's own, and the text between
// them never spells a marker, so the output parser sees exactly the structure the constraint enforced.
TEST(GrammarConstraint, NoOtherSpecialTokenAndNoSpelledMarker) {
  TestVocab v;
  auto cv = ConstraintVocab::from_pieces(v.pieces);
  const text::GrammarResult tools = text::compile_tool_call_grammar({nlohmann::ordered_json::parse(
      R"({"name":"f","parameters":{"type":"object","properties":{"s":{"type":"string"}},"required":["s"]}})")});
  ASSERT_TRUE(tools.grammar) << tools.error;
  const std::vector<StructuredOutput> outputs = {
      {StructuredOutput::Kind::json, text::any_json_object_grammar()},
      {StructuredOutput::Kind::json, compile(R"({"type":"array","items":{"type":"string"}})")},
      {StructuredOutput::Kind::tool_calls, tools.grammar, true}};
  std::mt19937_64 rng(11);
  std::vector<float> logits(static_cast<size_t>(v.size()));
  int spelled_refused = 0;
  for (StructuredOutput out : outputs) {
    for (int walk = 0; walk < 150; ++walk) {
      out.allow_thinking = walk % 2 == 0;
      GrammarConstraint c(cv, out);
      c.set_token_budget(8 + static_cast<int32_t>(rng() % 200));
      std::string run;  // text since the last special token
      bool thinking = false;
      for (int step = 0; step < 120; ++step) {
        std::fill(logits.begin(), logits.end(), 0.0f);
        c.mask(logits);
        std::vector<int32_t> allowed, parts;
        for (int32_t id = 0; id < v.size(); ++id) {
          if (!std::isfinite(logits[static_cast<size_t>(id)])) continue;
          allowed.push_back(id);
          if (std::find(v.marker_parts.begin(), v.marker_parts.end(), id) != v.marker_parts.end()) parts.push_back(id);
        }
        for (int32_t id : v.marker_parts) {
          if (!std::isfinite(logits[static_cast<size_t>(id)]) && run.size() > 0) ++spelled_refused;
        }
        ASSERT_FALSE(allowed.empty()) << "walk " << walk << " step " << step;
        const int32_t t =
            !parts.empty() && rng() % 4 != 0 ? parts[rng() % parts.size()] : allowed[rng() % allowed.size()];
        const Kind k = v.pieces[static_cast<size_t>(t)].first;
        ASSERT_NE(k, Kind::kNever) << "walk " << walk;
        // A thinking block holds text and ends with <channel|>: nothing else, not even <|"|>.
        if (thinking) {
          ASSERT_TRUE(k == Kind::kText || k == Kind::kChannelClose) << "walk " << walk << " kind " << k;
        }
        if (k == Kind::kChannelOpen) thinking = true;
        if (k == Kind::kChannelClose) thinking = false;
        if (out.kind == StructuredOutput::Kind::json) {
          ASSERT_NE(k, Kind::kQuote);
          ASSERT_NE(k, Kind::kToolCallOpen);
          ASSERT_NE(k, Kind::kToolCallClose);
        }
        c.accept(t);
        if (t == v.eog) break;
        if (k == Kind::kText) {
          run += piece_text(v, t);
          for (const std::string_view m : text::output_markers()) {
            ASSERT_EQ(run.find(m), std::string::npos) << "walk " << walk << " spelled " << m << " in " << run;
          }
        } else {
          run.clear();
        }
      }
    }
  }
  EXPECT_GT(spelled_refused, 100);  // the walks did press against the rule
}

// Thinking off (the default), a model that wants nothing but to open a thought block still answers with the
// value itself, from its first token, at every budget.
TEST(GrammarConstraint, ThinkingOffTheValueComesFirstWhateverTheModelPrefers) {
  TestVocab v;
  auto cv = ConstraintVocab::from_pieces(v.pieces);
  auto grammar = compile(R"({"type":"object","properties":{"ok":{"type":"boolean"},"n":{"enum":[1,2,3]}},
      "required":["ok","n"]})");
  const std::vector<int32_t> script(400, v.channel_open);
  int finished = 0;
  for (int32_t budget : {8, 16, 40, 100, 256}) {
    for (uint64_t seed = 1; seed <= 40; ++seed) {
      const Outcome r = generate(v, cv, {StructuredOutput::Kind::json, grammar}, seed, 1.0f, budget, script);
      ASSERT_NE(r.result.reason, DoneReason::error) << r.result.error;
      ASSERT_EQ(r.text.find("<|channel>"), std::string::npos)
          << "budget " << budget << " seed " << seed << ": " << r.text;
      ASSERT_FALSE(r.tokens.empty());
      const size_t first = r.text.find_first_not_of(" \t\r\n");
      if (first != std::string::npos) {
        ASSERT_EQ(r.text[first], '{') << r.text;
      }
      if (r.result.reason != DoneReason::stop) {
        EXPECT_TRUE(r.result.reason == DoneReason::length || r.result.reason == DoneReason::repetition);
        continue;
      }
      ++finished;
      const auto j = nlohmann::json::parse(r.text, nullptr, false);
      ASSERT_TRUE(j.is_object()) << r.text;
      EXPECT_TRUE(j["ok"].is_boolean()) << r.text;
      EXPECT_TRUE(j["n"] == 1 || j["n"] == 2 || j["n"] == 3) << r.text;
    }
  }
  EXPECT_GT(finished, 100);
}

// Thinking on, a model that would think forever: the block closes after at most half the budget (markers
// included), so the value gets the other half; a budget too small for any block gets none.
TEST(GrammarConstraint, ThinkingOnTakesAtMostHalfTheBudget) {
  TestVocab v;
  auto cv = ConstraintVocab::from_pieces(v.pieces);
  StructuredOutput out{StructuredOutput::Kind::json, compile(R"({"type":"object","properties":{"ok":
      {"type":"boolean"}},"required":["ok"]})")};
  out.allow_thinking = true;
  const int32_t word = v.size() - 1 - static_cast<int32_t>(v.marker_parts.size());  // "\"hi\"": plain text
  ASSERT_EQ(v.pieces[static_cast<size_t>(word)].second, "\"hi\"");
  std::vector<int32_t> script = {v.channel_open};
  script.resize(400, word);
  int finished = 0;
  for (int32_t budget : {4, 5, 6, 7, 8, 16, 40, 100, 256}) {
    for (uint64_t seed = 1; seed <= 30; ++seed) {
      const float temperature = seed == 1 ? 0.0f : 1.0f;
      const Outcome r = generate(v, cv, out, seed, temperature, budget, script);
      ASSERT_NE(r.result.reason, DoneReason::error) << r.result.error;
      // The thinking block's tokens: from <|channel> through <channel|>.
      const auto open = std::find(r.tokens.begin(), r.tokens.end(), v.channel_open);
      const auto close = std::find(r.tokens.begin(), r.tokens.end(), v.channel_close);
      if (budget / GrammarConstraint::kThinkingShare < GrammarConstraint::kMinThinkingTokens) {
        ASSERT_EQ(open, r.tokens.end()) << "budget " << budget << ": " << r.text;
      }
      if (open != r.tokens.end()) {
        ASSERT_EQ(open, r.tokens.begin()) << r.text;
        ASSERT_NE(close, r.tokens.end()) << "budget " << budget << " seed " << seed << ": never closed: " << r.text;
        const auto block = close - open + 1;
        ASSERT_LE(block, budget / GrammarConstraint::kThinkingShare) << "budget " << budget << ": " << r.text;
        // Greedy, this model thinks as long as it may.
        if (temperature == 0.0f) {
          EXPECT_EQ(block, budget / GrammarConstraint::kThinkingShare) << r.text;
        }
      }
      if (r.result.reason != DoneReason::stop) {
        ASSERT_TRUE(r.result.reason == DoneReason::length || r.result.reason == DoneReason::repetition);
        continue;
      }
      ++finished;
      const auto j = nlohmann::json::parse(strip_thinking(r.text), nullptr, false);
      ASSERT_TRUE(j.is_object()) << r.text;
      EXPECT_TRUE(j["ok"].is_boolean()) << r.text;
    }
  }
  EXPECT_GT(finished, 60);
}

// The generator tells the constraint its budget once, before the first token: num_predict, or what the context
// leaves when that is less.
TEST(GrammarConstraint, GeneratorTellsTheTokenBudget) {
  struct Recorder : TokenConstraint {
    bool allows(int32_t) override { return true; }
    void mask(std::span<float>) override {}
    void accept(int32_t) override { ++accepted; }
    void set_token_budget(int32_t tokens) override {
      budgets.push_back(tokens);
      accepted_then = accepted;
    }
    std::vector<int32_t> budgets;
    int accepted = 0, accepted_then = -1;
  };
  auto run = [](int32_t num_predict, int32_t n_ctx) {
    FakeModel model(50, n_ctx);
    FakeText text(50);
    Generator g(model, text);
    Recorder c;
    RecordingSink sink;
    const std::vector<int32_t> prompt = {1, 2, 3};
    GenerateRequest req;
    req.prompt = prompt;
    req.options.num_predict = num_predict;
    req.loop_guard_tokens = 0;
    req.constraint = &c;
    g.generate(req, sink);
    EXPECT_EQ(c.accepted_then, 0);
    return c.budgets;
  };
  EXPECT_EQ(run(20, 4096), std::vector<int32_t>{20});
  EXPECT_EQ(run(-1, 64), std::vector<int32_t>{62});  // tokens drawn at positions 3..64
  EXPECT_EQ(run(100, 64), std::vector<int32_t>{62});
}

TEST(GrammarConstraint, MasksAreCachedPerState) {
  TestVocab v;
  auto cv = ConstraintVocab::from_pieces(v.pieces);
  GrammarConstraint c(cv, {StructuredOutput::Kind::json, compile(R"({"type":"object","properties":{"name":
      {"type":"string"}},"required":["name"]})")});
  std::vector<float> logits(static_cast<size_t>(v.size()));
  auto step = [&](const std::string& text) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    c.mask(logits);
    for (int32_t id = 0; id < v.size(); ++id) {
      if (v.pieces[static_cast<size_t>(id)].first == Kind::kText && v.pieces[static_cast<size_t>(id)].second == text) {
        ASSERT_TRUE(std::isfinite(logits[static_cast<size_t>(id)])) << text;
        c.accept(id);
        return;
      }
    }
    FAIL() << "no token " << text;
  };
  step("{\"");
  step("name");
  step("\":\"");
  const size_t misses = c.cache_misses();
  for (int i = 0; i < 20; ++i) step("hello world");  // inside the string the state repeats
  EXPECT_EQ(c.cache_misses(), misses + 1);
  EXPECT_GE(c.cache_hits(), 19u);
}

}  // namespace
}  // namespace locus::runtime
