// Structured output at the token level: through the real generator (fake model, random logits), every output
// is what the grammar allows: JSON that parses and validates, or Gemma 4 tool calls whose arguments validate;
// masks agree with allows() token by token, whatever the token boundaries; thinking stays possible.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/generator.h"
#include "runtime/grammar_constraint.h"
#include "runtime/test_fakes.h"
#include "text/json_grammar.h"
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
  Outcome r{g.generate(req, sink), sink.output};
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
  const int32_t h = v.size() - 1;  // some text token
  const std::vector<int32_t> script = {v.channel_open, h, h, v.eog, v.channel_close};
  const Outcome r = generate(v, cv, {StructuredOutput::Kind::json, compile(R"({"type":"object","properties":{"ok":
      {"type":"boolean"}},"required":["ok"]})")}, 5, 0.0f, 400, script);
  ASSERT_EQ(r.result.reason, DoneReason::stop) << r.text;
  ASSERT_EQ(r.text.rfind("<|channel>", 0), 0u) << r.text;
  const auto j = nlohmann::json::parse(strip_thinking(r.text), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.text;
  EXPECT_TRUE(j["ok"].is_boolean());

  // Without thinking allowed, the same model must answer at once.
  StructuredOutput no_thinking{StructuredOutput::Kind::json, compile(R"({"type":"object","properties":{"ok":
      {"type":"boolean"}},"required":["ok"]})")};
  no_thinking.allow_thinking = false;
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
  for (const StructuredOutput& out : outputs) {
    for (int walk = 0; walk < 40; ++walk) {
      GrammarConstraint c(cv, out);
      for (int step = 0; step < 80; ++step) {
        std::fill(logits.begin(), logits.end(), 0.0f);
        c.mask(logits);
        std::vector<int32_t> allowed;
        for (int32_t id = 0; id < v.size(); ++id) {
          const bool by_mask = std::isfinite(logits[static_cast<size_t>(id)]);
          ASSERT_EQ(by_mask, c.allows(id)) << "token " << id << " walk " << walk << " step " << step;
          if (by_mask) allowed.push_back(id);
        }
        ASSERT_FALSE(allowed.empty());
        const int32_t t = allowed[rng() % allowed.size()];
        c.accept(t);
        if (t == v.eog) break;
      }
    }
  }
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
