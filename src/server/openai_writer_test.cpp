// OpenAI chat.completion(.chunk) and text_completion output (api-compat.md §2.8, §2.9), as golden text, and the
// openai-node 7.x ChatCompletionStream rules checked on whole streams.
#include <map>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "server/response_writer.h"

namespace locus::server {
namespace {

std::unique_ptr<ResponseWriter> writer(Api api, bool stream, bool include_usage = false) {
  ApiRequest r;
  r.api = api;
  r.stream = stream;
  r.include_usage = include_usage;
  WriterConfig c;
  c.model = "gemma4:12b";
  c.id = api == Api::kOpenAiChat ? "chatcmpl-123" : "cmpl-123";
  c.created = 1764000000;
  c.tool_call_seed = 9;
  return make_response_writer(r, std::move(c));
}

const std::string kChunk =
    R"({"id":"chatcmpl-123","object":"chat.completion.chunk","created":1764000000,"model":"gemma4:12b",)"
    R"("system_fingerprint":"fp_local","choices":[{"index":0,"delta":)";
std::string event(const std::string& delta, const std::string& finish = "null") {
  return "data: " + kChunk + delta + R"(,"logprobs":null,"finish_reason":)" + finish + "}]}\n\n";
}
const std::string kRole = event(R"({"role":"assistant","content":""})");

DoneEvent usage(int32_t prompt, int32_t completion) {
  DoneEvent d;
  d.prompt_eval_count = prompt;
  d.eval_count = completion;
  return d;
}

TEST(OpenAiChatStream, GoldenChunks) {
  auto w = writer(Api::kOpenAiChat, true, true);
  EXPECT_STREQ(w->content_type(), "text/event-stream");
  EXPECT_EQ(w->thinking("The user"), kRole + event(R"({"reasoning":"The user"})"));
  EXPECT_EQ(w->text("Hello"), event(R"({"content":"Hello"})"));
  EXPECT_EQ(w->tool_call("get_weather", R"({ "city": "Tokyo", "a": [1, 2] })"),
            event(R"({"tool_calls":[{"index":0,"id":")" + make_tool_call_id(9, 0) +
                  R"(","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Tokyo\",\"a\":[1,2]}"}}]})"));
  EXPECT_EQ(w->tool_call("get_time", "{}"),
            event(R"({"tool_calls":[{"index":1,"id":")" + make_tool_call_id(9, 1) +
                  R"(","type":"function","function":{"name":"get_time","arguments":"{}"}}]})"));
  DoneEvent d = usage(16, 282);  // 16 evaluated + 10 from the cache: a prompt of 26
  d.cached_prompt_tokens = 10;
  d.reasoning_tokens = 3;
  EXPECT_EQ(w->done(d),
            event("{}", R"("tool_calls")") +
                R"(data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1764000000,"model":"gemma4:12b",)"
                R"("system_fingerprint":"fp_local","choices":[],"usage":{"prompt_tokens":26,"completion_tokens":282,)"
                R"("total_tokens":308,"prompt_tokens_details":{"cached_tokens":10},"completion_tokens_details":)"
                R"({"reasoning_tokens":3}}})" "\n\ndata: [DONE]\n\n");
  EXPECT_EQ(w->text("late"), "");
}

TEST(OpenAiChatStream, WithoutUsageAndLength) {
  auto w = writer(Api::kOpenAiChat, true);
  EXPECT_EQ(w->text("Hi"), kRole + event(R"({"content":"Hi"})"));
  DoneEvent d;
  d.reason = FinishReason::kLength;
  EXPECT_EQ(w->done(d), event("{}", R"("length")") + "data: [DONE]\n\n");
}

TEST(OpenAiChatStream, EmptyAnswerStillSendsChunks) {
  auto w = writer(Api::kOpenAiChat, true);
  EXPECT_EQ(w->done({}), kRole + event("{}", R"("stop")") + "data: [DONE]\n\n");
}

TEST(OpenAiChatStream, MidStreamErrorEndsTheStream) {
  auto w = writer(Api::kOpenAiChat, true);
  w->text("partial");
  EXPECT_EQ(w->error("the model failed"),
            R"(data: {"error":{"message":"the model failed","type":"api_error","param":null,"code":null}})" "\n\n");
  EXPECT_TRUE(w->finished());
  EXPECT_EQ(w->done({}), "");
}

TEST(OpenAiChat, NonStreamedCompletion) {
  auto w = writer(Api::kOpenAiChat, false);
  EXPECT_STREQ(w->content_type(), "application/json");
  EXPECT_EQ(w->thinking("think"), "");
  EXPECT_EQ(w->text("Hello "), "");
  EXPECT_EQ(w->text("there."), "");
  EXPECT_EQ(w->done(usage(26, 282)),
            R"({"id":"chatcmpl-123","object":"chat.completion","created":1764000000,"model":"gemma4:12b",)"
            R"("system_fingerprint":"fp_local","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there.",)"
            R"("reasoning":"think"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":26,)"
            R"("completion_tokens":282,"total_tokens":308,"prompt_tokens_details":{"cached_tokens":0},)"
            R"("completion_tokens_details":{"reasoning_tokens":0}}})");
}

TEST(OpenAiChat, NonStreamedToolCallsHaveNullContent) {
  auto w = writer(Api::kOpenAiChat, false);
  w->tool_call("get_weather", R"({"city":"Tokyo"})");
  const auto j = nlohmann::ordered_json::parse(w->done({}));
  const auto& choice = j["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
  EXPECT_TRUE(choice["message"]["content"].is_null());
  EXPECT_EQ(choice["message"]["tool_calls"].dump(),
            R"([{"id":")" + make_tool_call_id(9, 0) +
                R"(","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Tokyo\"}"}}])");
}

TEST(OpenAiCompletions, StreamedAndWhole) {
  const std::string head =
      R"({"id":"cmpl-123","object":"text_completion","created":1764000000,"model":"gemma4:12b",)"
      R"("system_fingerprint":"fp_local",)";
  auto w = writer(Api::kOpenAiCompletions, true, true);
  EXPECT_EQ(w->thinking("hidden"), "");  // no place for thinking in text completions
  EXPECT_EQ(w->text("Once"),
            "data: " + head + R"("choices":[{"index":0,"text":"Once","logprobs":null,"finish_reason":null}]})" "\n\n");
  EXPECT_EQ(w->done(usage(4, 1)),
            "data: " + head + R"("choices":[{"index":0,"text":"","logprobs":null,"finish_reason":"stop"}]})" "\n\n" +
                "data: " + head +
                R"("choices":[],"usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5,)"
                R"("prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}})"
                "\n\ndata: [DONE]\n\n");
  auto whole = writer(Api::kOpenAiCompletions, false);
  whole->text("Once upon");
  DoneEvent d = usage(4, 2);
  d.reason = FinishReason::kLength;
  EXPECT_EQ(whole->done(d), head + R"("choices":[{"index":0,"text":"Once upon","logprobs":null,"finish_reason":"length"}],)"
                                   R"("usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6,)"
                                   R"("prompt_tokens_details":{"cached_tokens":0},)"
                                   R"("completion_tokens_details":{"reasoning_tokens":0}}})");
}

TEST(OpenAiErrors, EnvelopeTypesByStatus) {
  EXPECT_EQ(openai_error_body(ApiError{400, "n: expected 1", "n"}),
            R"({"error":{"message":"n: expected 1","type":"invalid_request_error","param":"n","code":null}})");
  EXPECT_EQ(openai_error_body(ApiError{404, "model \"x\" not found", ""}),
            R"({"error":{"message":"model \"x\" not found","type":"not_found_error","param":null,"code":null}})");
  // An unknown model: OpenAI's code for it, which its clients test for.
  EXPECT_EQ(openai_error_body(ApiError{404, "model \"x\" not found", "model"}),
            R"({"error":{"message":"model \"x\" not found","type":"not_found_error","param":"model",)"
            R"("code":"model_not_found"}})");
  EXPECT_EQ(nlohmann::json::parse(openai_error_body(ApiError{401, "m", ""}))["error"]["type"], "authentication_error");
  EXPECT_EQ(nlohmann::json::parse(openai_error_body(ApiError{429, "m", ""}))["error"]["type"], "rate_limit_error");
  EXPECT_EQ(nlohmann::json::parse(openai_error_body(ApiError{500, "m", ""}))["error"]["type"], "api_error");
  EXPECT_EQ(writer(Api::kOpenAiChat, false)->error_body(ApiError{400, "x", "p"}), openai_error_body(ApiError{400, "x", "p"}));
  EXPECT_EQ(writer(Api::kOpenAiChat, false)->error("boom"),
            R"({"error":{"message":"boom","type":"api_error","param":null,"code":null}})");
}

// The checks openai-node 7.x's ChatCompletionStream makes on what it receives (§2.9), applied to a whole stream.
void expect_valid_for_openai_node(const std::string& stream) {
  std::vector<nlohmann::json> chunks;
  size_t pos = 0;
  bool done = false;
  while (pos < stream.size()) {
    const size_t end = stream.find("\n\n", pos);
    ASSERT_NE(end, std::string::npos) << "unterminated event";
    const std::string ev = stream.substr(pos, end - pos);
    pos = end + 2;
    ASSERT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    ASSERT_FALSE(done) << "data after [DONE]";
    if (ev == "data: [DONE]") {
      done = true;
      continue;
    }
    chunks.push_back(nlohmann::json::parse(ev.substr(6)));
  }
  ASSERT_TRUE(done) << "no [DONE]";
  ASSERT_FALSE(chunks.empty()) << "request ended without sending any chunks";
  std::map<int, std::pair<std::string, std::string>> identity;  // index -> (type, name)
  bool finished = false;
  for (const auto& c : chunks) {
    EXPECT_EQ(c["id"], chunks[0]["id"]);
    EXPECT_EQ(c["created"], chunks[0]["created"]);
    EXPECT_FALSE(c.contains("error"));
    for (const auto& choice : c["choices"]) {
      ASSERT_EQ(choice["index"], 0);
      EXPECT_FALSE(finished) << "a choice delta after the finish chunk";
      if (!choice["finish_reason"].is_null()) finished = true;
      if (!choice["delta"].contains("tool_calls")) continue;
      for (const auto& tc : choice["delta"]["tool_calls"]) {
        ASSERT_TRUE(tc.contains("index") && tc["index"].is_number_integer());
        const int i = tc["index"];
        EXPECT_TRUE(i >= 0 && i <= 127);
        const std::string type = tc.value("type", "");
        const std::string name = tc.contains("function") ? tc["function"].value("name", "") : "";
        if (!identity.count(i)) {
          ASSERT_FALSE(type.empty()) << "tool call snapshot missing `type`";
          ASSERT_TRUE(tc.contains("id"));
          identity[i] = {type, name};
        } else {
          if (!type.empty()) {
            EXPECT_EQ(type, identity[i].first) << "changed tool call identity";
          }
          if (!name.empty()) {
            EXPECT_EQ(name, identity[i].second) << "changed tool call identity";
          }
        }
      }
    }
  }
  EXPECT_TRUE(finished);
}

std::unique_ptr<ResponseWriter> logprobs_writer(Api api, bool stream) {
  ApiRequest r;
  r.api = api;
  r.stream = stream;
  r.logprobs = true;
  r.top_logprobs = 2;
  WriterConfig c;
  c.model = "gemma4:12b";
  c.id = api == Api::kOpenAiChat ? "chatcmpl-123" : "cmpl-123";
  c.created = 1764000000;
  return make_response_writer(r, std::move(c));
}

const std::vector<TokenLogprobEntry> kLogprobs = {
    {{"Hi", -0.125f}, {{"Hi", -0.125f}, {"Hey", -2.5f}}},
    {{" there", -0.5f}, {{" there", -0.5f}, {"!", -1.0f}}},
};
const std::string kHiJson =
    R"({"token":"Hi","logprob":-0.125,"bytes":[72,105],"top_logprobs":[{"token":"Hi","logprob":-0.125,"bytes":[72,105]},)"
    R"({"token":"Hey","logprob":-2.5,"bytes":[72,101,121]}]})";
const std::string kThereJson =
    R"({"token":" there","logprob":-0.5,"bytes":[32,116,104,101,114,101],"top_logprobs":[)"
    R"({"token":" there","logprob":-0.5,"bytes":[32,116,104,101,114,101]},{"token":"!","logprob":-1.0,"bytes":[33]}]})";

TEST(OpenAiChatLogprobs, StreamedChunksCarryTheirTokens) {
  auto w = logprobs_writer(Api::kOpenAiChat, true);
  w->logprobs(std::span(kLogprobs).first(1));
  const std::string chunk_head = "data: " + kChunk;
  EXPECT_EQ(w->thinking("Hi"), kRole + chunk_head + R"({"reasoning":"Hi"},"logprobs":{"content":[)" + kHiJson +
                                   R"(]},"finish_reason":null}]})" "\n\n");
  w->logprobs(std::span(kLogprobs).subspan(1));
  EXPECT_EQ(w->text(" there"), chunk_head + R"({"content":" there"},"logprobs":{"content":[)" + kThereJson +
                                   R"(]},"finish_reason":null}]})" "\n\n");
  EXPECT_EQ(w->text("!"), event(R"({"content":"!"})"));  // no tokens behind it: null
  EXPECT_EQ(w->done({}), event("{}", R"("stop")") + "data: [DONE]\n\n");
}

TEST(OpenAiChatLogprobs, WholeAnswerHasContentAndRefusal) {
  auto w = logprobs_writer(Api::kOpenAiChat, false);
  w->logprobs(kLogprobs);
  w->text("Hi there");
  const auto j = nlohmann::ordered_json::parse(w->done(usage(3, 2)));
  EXPECT_EQ(j["choices"][0]["logprobs"].dump(), R"({"content":[)" + kHiJson + "," + kThereJson + R"(],"refusal":null})");
  // Asked for, but no token: an empty list, not null.
  auto empty = logprobs_writer(Api::kOpenAiChat, false);
  EXPECT_EQ(nlohmann::ordered_json::parse(empty->done({}))["choices"][0]["logprobs"].dump(),
            R"({"content":[],"refusal":null})");
  // Not asked for: null even when the runtime reported some.
  auto off = writer(Api::kOpenAiChat, false);
  off->logprobs(kLogprobs);
  EXPECT_TRUE(nlohmann::ordered_json::parse(off->done({}))["choices"][0]["logprobs"].is_null());
}

TEST(OpenAiCompletionsLogprobs, LegacyParallelArrays) {
  const std::string expected =
      R"({"tokens":["Hi"," there"],"token_logprobs":[-0.125,-0.5],)"
      R"("top_logprobs":[{"Hi":-0.125,"Hey":-2.5},{" there":-0.5,"!":-1.0}],"text_offset":[0,2]})";
  auto whole = logprobs_writer(Api::kOpenAiCompletions, false);
  whole->logprobs(kLogprobs);
  whole->text("Hi there");
  EXPECT_EQ(nlohmann::ordered_json::parse(whole->done({}))["choices"][0]["logprobs"].dump(), expected);

  auto w = logprobs_writer(Api::kOpenAiCompletions, true);
  w->logprobs(std::span(kLogprobs).first(1));
  const auto first = nlohmann::ordered_json::parse(w->text("Hi").substr(6));
  EXPECT_EQ(first["choices"][0]["logprobs"].dump(),
            R"({"tokens":["Hi"],"token_logprobs":[-0.125],"top_logprobs":[{"Hi":-0.125,"Hey":-2.5}],"text_offset":[0]})");
  w->logprobs(std::span(kLogprobs).subspan(1));
  const auto second = nlohmann::ordered_json::parse(w->text(" there").substr(6));
  EXPECT_EQ(second["choices"][0]["logprobs"]["text_offset"].dump(), "[2]");  // offsets run on across chunks
}

TEST(OpenAiChatStream, LogprobChunksSatisfyOpenAiNodeStreamRules) {
  auto w = logprobs_writer(Api::kOpenAiChat, true);
  std::string s;
  w->logprobs(std::span(kLogprobs).first(1));
  s += w->text("Hi");
  w->logprobs(std::span(kLogprobs).subspan(1));
  s += w->tool_call("f", "{}");
  s += w->done({});
  expect_valid_for_openai_node(s);
}

TEST(OpenAiChatStream, SatisfiesOpenAiNodeStreamRules) {
  {
    auto w = writer(Api::kOpenAiChat, true);
    expect_valid_for_openai_node(w->done({}));
  }
  {
    auto w = writer(Api::kOpenAiChat, true, true);
    // One statement per event: the operands of + are evaluated in no set order.
    std::string s = w->thinking("a");
    s += w->text("b");
    s += w->tool_call("f", R"({"x":1})");
    s += w->tool_call("g", "{}");
    s += w->tool_call("f", R"({"x":2})");
    s += w->done(usage(1, 2));
    expect_valid_for_openai_node(s);
    EXPECT_NE(s.find(R"("finish_reason":"tool_calls")"), std::string::npos);
  }
  {
    auto w = writer(Api::kOpenAiChat, true);
    std::string s;
    for (int i = 0; i < 50; ++i) s += w->text("tok");
    s += w->done({});
    expect_valid_for_openai_node(s);
  }
}

}  // namespace
}  // namespace locus::server
