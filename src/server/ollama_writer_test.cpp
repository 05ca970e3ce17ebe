// Ollama NDJSON chunks, final objects and errors (api-compat.md §2.1, §2.5), as golden text.
#include <limits>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "server/api_parse.h"
#include "server/response_writer.h"

namespace locus::server {
namespace {

using namespace std::chrono;

const system_clock::time_point kT0{seconds{1780567200} + nanoseconds{123456789}};
const char* kAt = R"("created_at":"2026-06-04T10:00:00.123456789Z")";

std::unique_ptr<ResponseWriter> writer(Api api, bool stream) {
  ApiRequest r;
  r.api = api;
  r.stream = stream;
  WriterConfig c;
  c.model = "gemma4:12b";
  c.tool_call_seed = 42;
  c.now = [] { return kT0; };
  return make_response_writer(r, std::move(c));
}

std::string head() { return std::string(R"({"model":"gemma4:12b",)") + kAt; }

DoneEvent metrics() {
  DoneEvent d;
  d.total_duration_ns = 4883583458;
  d.load_duration_ns = 1334875;
  d.prompt_eval_count = 26;
  d.prompt_eval_duration_ns = 342546000;
  d.eval_count = 282;
  d.eval_duration_ns = 4535599000;
  return d;
}

TEST(OllamaChatWriter, StreamedChunks) {
  auto w = writer(Api::kOllamaChat, true);
  EXPECT_STREQ(w->content_type(), "application/x-ndjson");
  EXPECT_FALSE(w->started());
  EXPECT_EQ(w->text("The"), head() + R"(,"message":{"role":"assistant","content":"The"},"done":false})" "\n");
  EXPECT_TRUE(w->started());
  EXPECT_EQ(w->thinking("The user asks"),
            head() + R"(,"message":{"role":"assistant","content":"","thinking":"The user asks"},"done":false})" "\n");
  const std::string id = make_tool_call_id(42, 0);
  EXPECT_EQ(w->tool_call("get_weather", R"({"city":"Tokyo","unit":"c"})"),
            head() + R"(,"message":{"role":"assistant","content":"","tool_calls":[{"id":")" + id +
                R"(","function":{"index":0,"name":"get_weather","arguments":{"city":"Tokyo","unit":"c"}}}]},"done":false})"
                "\n");
  EXPECT_EQ(w->tool_call("get_time", R"({"zone":"JST","a":1})"),
            head() + R"(,"message":{"role":"assistant","content":"","tool_calls":[{"id":")" + make_tool_call_id(42, 1) +
                R"(","function":{"index":1,"name":"get_time","arguments":{"zone":"JST","a":1}}}]},"done":false})" "\n");
  EXPECT_EQ(w->done(metrics()),
            head() + R"(,"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop",)"
                     R"("total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,)"
                     R"("prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000})" "\n");
  EXPECT_TRUE(w->finished());
  EXPECT_EQ(w->text("late"), "");
  EXPECT_EQ(w->done(metrics()), "");
  EXPECT_EQ(w->error("late"), "");
}

TEST(OllamaChatWriter, EmptyTextIsNoChunkAndZeroMetricsAreOmitted) {
  auto w = writer(Api::kOllamaChat, true);
  EXPECT_EQ(w->text(""), "");
  EXPECT_EQ(w->thinking(""), "");
  DoneEvent d;
  d.reason = FinishReason::kLength;
  d.eval_count = 5;
  EXPECT_EQ(w->done(d), head() + R"(,"message":{"role":"assistant","content":""},"done":true,"done_reason":"length",)"
                                 R"("eval_count":5})" "\n");
}

TEST(OllamaChatWriter, LoadAndUnloadAnswers) {
  DoneEvent d;
  d.reason = FinishReason::kLoad;
  EXPECT_EQ(writer(Api::kOllamaChat, false)->done(d),
            head() + R"(,"message":{"role":"assistant","content":""},"done":true,"done_reason":"load"})");
  d.reason = FinishReason::kUnload;
  EXPECT_EQ(writer(Api::kOllamaGenerate, true)->done(d),
            head() + R"(,"response":"","done":true,"done_reason":"unload"})" "\n");
}

TEST(OllamaChatWriter, NonStreamedIsOneObjectWithEverything) {
  auto w = writer(Api::kOllamaChat, false);
  EXPECT_STREQ(w->content_type(), "application/json");
  EXPECT_EQ(w->thinking("Hmm, "), "");
  EXPECT_EQ(w->thinking("weather."), "");
  EXPECT_EQ(w->text("Let me "), "");
  EXPECT_EQ(w->text("check."), "");
  EXPECT_EQ(w->tool_call("get_weather", R"({"city":"Tokyo"})"), "");
  EXPECT_FALSE(w->started());
  DoneEvent d;
  d.eval_count = 9;
  EXPECT_EQ(w->done(d), head() + R"(,"message":{"role":"assistant","content":"Let me check.","thinking":"Hmm, weather.",)"
                                 R"("tool_calls":[{"id":")" + make_tool_call_id(42, 0) +
                                 R"(","function":{"index":0,"name":"get_weather","arguments":{"city":"Tokyo"}}}]},)"
                                 R"("done":true,"done_reason":"stop","eval_count":9})");
}

TEST(OllamaGenerateWriter, ResponseFieldAndContext) {
  auto w = writer(Api::kOllamaGenerate, true);
  EXPECT_EQ(w->text("Blue"), head() + R"(,"response":"Blue","done":false})" "\n");
  EXPECT_EQ(w->thinking("why"), head() + R"(,"response":"","thinking":"why","done":false})" "\n");
  DoneEvent d;
  d.context = {1, 2, 3};
  d.prompt_eval_count = 3;
  EXPECT_EQ(w->done(d), head() + R"(,"response":"","done":true,"done_reason":"stop","context":[1,2,3],)"
                                 R"("prompt_eval_count":3})" "\n");
  auto whole = writer(Api::kOllamaGenerate, false);
  whole->thinking("t");
  whole->text("Blue ");
  whole->text("light.");
  EXPECT_EQ(whole->done({}), head() + R"(,"response":"Blue light.","thinking":"t","done":true,"done_reason":"stop"})");
}

TEST(OllamaWriter, Errors) {
  auto w = writer(Api::kOllamaChat, true);
  w->text("partial");
  EXPECT_EQ(w->error("model crashed: \"x\""), R"({"error":"model crashed: \"x\""})" "\n");
  EXPECT_TRUE(w->finished());
  EXPECT_EQ(w->done({}), "");
  EXPECT_EQ(writer(Api::kOllamaChat, false)->error("boom"), R"({"error":"boom"})");
  EXPECT_EQ(w->error_body(ApiError{400, "model: expected x", "model"}), R"({"error":"model: expected x"})");
  EXPECT_EQ(ollama_error_body("bad \xff byte"), "{\"error\":\"bad \xEF\xBF\xBD byte\"}");
}

std::unique_ptr<ResponseWriter> logprobs_writer(Api api, bool stream, bool logprobs, int32_t top) {
  ApiRequest r;
  r.api = api;
  r.stream = stream;
  r.logprobs = logprobs;
  r.top_logprobs = top;
  WriterConfig c;
  c.model = "gemma4:12b";
  c.now = [] { return kT0; };
  return make_response_writer(r, std::move(c));
}

// "Hi" (-0.125, alternatives "Hi" and "Hey"), then "é" split over two byte tokens, the second with no
// probability at all (-inf, written as -9999.0).
std::vector<TokenLogprobEntry> sample_logprobs() {
  return {{{"Hi", -0.125f}, {{"Hi", -0.125f}, {"Hey", -2.5f}}},
          {{"\xC3", -0.5f}, {}},
          {{"\xA9", -std::numeric_limits<float>::infinity()}, {}}};
}

TEST(OllamaChatWriter, StreamedLogprobsRideOnTheChunkOfTheirText) {
  auto w = logprobs_writer(Api::kOllamaChat, true, true, 2);
  const auto lp = sample_logprobs();
  w->logprobs(std::span(lp).first(1));
  EXPECT_EQ(w->text("Hi"),
            head() + R"(,"message":{"role":"assistant","content":"Hi"},"done":false,"logprobs":[)"
                     R"({"token":"Hi","logprob":-0.125,"bytes":[72,105],"top_logprobs":[)"
                     R"({"token":"Hi","logprob":-0.125,"bytes":[72,105]},{"token":"Hey","logprob":-2.5,"bytes":[72,101,121]}]}]})"
                     "\n");
  w->logprobs(std::span(lp).subspan(1));
  // A split character: the JSON token shows U+FFFD, bytes has the exact byte; no top list when there is none.
  EXPECT_EQ(w->thinking("\xC3\xA9"),
            head() + R"(,"message":{"role":"assistant","content":"","thinking":")" "\xC3\xA9" R"("},"done":false,"logprobs":[)"
                     R"({"token":")" "\xEF\xBF\xBD" R"(","logprob":-0.5,"bytes":[195]},)"
                     R"({"token":")" "\xEF\xBF\xBD" R"(","logprob":-9999.0,"bytes":[169]}]})" "\n");
  // A chunk without tokens behind it has no logprobs key (omitempty); leftovers go on the done line.
  EXPECT_EQ(w->text("x"), head() + R"(,"message":{"role":"assistant","content":"x"},"done":false})" "\n");
  w->logprobs(std::span(lp).first(1));
  DoneEvent d;
  d.eval_count = 4;
  EXPECT_EQ(w->done(d), head() + R"(,"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop",)"
                                 R"("eval_count":4,"logprobs":[{"token":"Hi","logprob":-0.125,"bytes":[72,105],)"
                                 R"("top_logprobs":[{"token":"Hi","logprob":-0.125,"bytes":[72,105]},)"
                                 R"({"token":"Hey","logprob":-2.5,"bytes":[72,101,121]}]}]})" "\n");
}

TEST(OllamaGenerateWriter, WholeAnswerCarriesEveryTokensLogprobs) {
  auto w = logprobs_writer(Api::kOllamaGenerate, false, true, 0);
  const std::vector<TokenLogprobEntry> lp = {{{"Once", -1.0f}, {}}, {{" upon", -0.25f}, {}}};
  w->logprobs(std::span(lp).first(1));
  EXPECT_EQ(w->text("Once"), "");
  w->logprobs(std::span(lp).subspan(1));
  EXPECT_EQ(w->text(" upon"), "");
  EXPECT_EQ(w->done({}), head() + R"(,"response":"Once upon","done":true,"done_reason":"stop","logprobs":[)"
                                  R"({"token":"Once","logprob":-1.0,"bytes":[79,110,99,101]},)"
                                  R"({"token":" upon","logprob":-0.25,"bytes":[32,117,112,111,110]}]})");
}

TEST(OllamaChatWriter, LogprobsNotAskedForAreNotWritten) {
  auto w = logprobs_writer(Api::kOllamaChat, false, false, 0);
  const auto lp = sample_logprobs();
  w->logprobs(lp);
  w->text("Hi");
  EXPECT_EQ(w->done({}), head() + R"(,"message":{"role":"assistant","content":"Hi"},"done":true,"done_reason":"stop"})");
  // top_logprobs alone asks for them, as in the runtime.
  auto top_only = logprobs_writer(Api::kOllamaChat, false, false, 1);
  top_only->logprobs(std::span(lp).first(1));
  EXPECT_NE(top_only->done({}).find(R"("logprobs":[{"token":"Hi")"), std::string::npos);
}

TEST(WireValues, LogprobNumbersAreShortAndFinite) {
  EXPECT_EQ(wire_logprob(-0.12f), -0.12);
  EXPECT_EQ(wire_logprob(0.0f), 0.0);
  EXPECT_EQ(wire_logprob(-std::numeric_limits<float>::infinity()), -9999.0);
  EXPECT_EQ(wire_bytes("a\xff").dump(), "[97,255]");
}

TEST(OllamaWriter, ParsedRequestPicksTheShape) {
  ParseResult r = parse_ollama_generate(nlohmann::ordered_json::parse(R"({"model":"m","prompt":"p","stream":false})"));
  ASSERT_TRUE(r.ok());
  WriterConfig c;
  c.model = "m";
  auto w = make_response_writer(r.request, c);
  w->text("x");
  const auto j = nlohmann::json::parse(w->done({}));
  EXPECT_EQ(j["response"], "x");
  EXPECT_EQ(j["done"], true);
  // The real clock: RFC 3339 in UTC.
  EXPECT_EQ(j["created_at"].get<std::string>().back(), 'Z');
}

}  // namespace
}  // namespace locus::server
