// Value-level rules: base64, Go durations and keep_alive, Ollama options typing, ids and timestamps.
#include <functional>

#include <gtest/gtest.h>

#include "server/base64.h"
#include "server/go_duration.h"
#include "server/ollama_options.h"
#include "server/parse_common.h"
#include "server/response_writer.h"

namespace locus::server {
namespace {

OrderedJson J(const char* text) { return OrderedJson::parse(text); }

std::string field_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const FieldError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Base64, DecodesPaddedStandardAlphabet) {
  EXPECT_EQ(*decode_base64("aGVsbG8=").bytes, "hello");
  EXPECT_EQ(*decode_base64("aGVsbA==").bytes, "hell");
  EXPECT_EQ(*decode_base64("aGVs").bytes, "hel");
  EXPECT_EQ(*decode_base64("").bytes, "");
  EXPECT_EQ(*decode_base64("+/8=").bytes, std::string("\xfb\xff"));
}

TEST(Base64, SkipsLineBreaksLikeGo) { EXPECT_EQ(*decode_base64("aGVs\r\nbG8=\n").bytes, "hello"); }

TEST(Base64, RefusesWhatIsNotStrictBase64) {
  EXPECT_EQ(decode_base64("aGV%bG8=").error, "invalid character '%' at offset 3");
  EXPECT_EQ(decode_base64("aGVsbG8").error, "length is not a multiple of 4 (missing '=' padding?)");
  EXPECT_EQ(decode_base64("aGVsbG-_").error, "invalid character '-' at offset 6");  // URL-safe alphabet
  EXPECT_EQ(decode_base64("aGVs bG8=").error, "invalid character ' ' at offset 4");
  EXPECT_EQ(decode_base64("a===").error, "misplaced '=' at offset 1");
  EXPECT_EQ(decode_base64("aG=s").error, "data after '=' at offset 3");
  EXPECT_EQ(decode_base64("aGU=aGVs").error, "data after the '=' padding at offset 4");
  EXPECT_EQ(decode_base64("aGVs\x01").error, "invalid character 0x01 at offset 4");
}

TEST(Base64, RoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    EXPECT_EQ(*decode_base64(encode_base64(bytes)).bytes, bytes) << n;
    bytes += static_cast<char>(n * 37 + 200);
  }
  EXPECT_EQ(encode_base64("hello"), "aGVsbG8=");
}

TEST(GoDuration, ParsesGoSyntax) {
  EXPECT_EQ(parse_go_duration_ns("5m"), 300'000'000'000);
  EXPECT_EQ(parse_go_duration_ns("1h30m"), 5'400'000'000'000);
  EXPECT_EQ(parse_go_duration_ns("300ms"), 300'000'000);
  EXPECT_EQ(parse_go_duration_ns("1.5h"), 5'400'000'000'000);
  EXPECT_EQ(parse_go_duration_ns(".5s"), 500'000'000);
  EXPECT_EQ(parse_go_duration_ns("2us"), 2'000);
  EXPECT_EQ(parse_go_duration_ns("2\xC2\xB5s"), 2'000);
  EXPECT_EQ(parse_go_duration_ns("2\xCE\xBCs"), 2'000);
  EXPECT_EQ(parse_go_duration_ns("7ns"), 7);
  EXPECT_EQ(parse_go_duration_ns("-1m"), -60'000'000'000);
  EXPECT_EQ(parse_go_duration_ns("+2s"), 2'000'000'000);
  EXPECT_EQ(parse_go_duration_ns("0"), 0);
  EXPECT_EQ(parse_go_duration_ns("1h1m1s1ms"), 3'661'001'000'000);
}

TEST(GoDuration, RefusesWhatGoRefuses) {
  for (const char* bad : {"", "5", "-1", "m", "5x", "1.h2", ".s", "5m ", " 5m", "1d", "-", "9999999999h"}) {
    EXPECT_FALSE(parse_go_duration_ns(bad).has_value()) << bad;
  }
  EXPECT_TRUE(parse_go_duration_ns("2562047h").has_value());   // just below 2^63 ns
  EXPECT_FALSE(parse_go_duration_ns("2562048h").has_value());  // past it
}

TEST(KeepAlive, NumbersAreSecondsAndStringsAreDurations) {
  EXPECT_EQ(parse_keep_alive(J("300"), "keep_alive"), (KeepAlive{false, 300'000}));
  EXPECT_EQ(parse_keep_alive(J("0.25"), "keep_alive"), (KeepAlive{false, 250}));
  EXPECT_EQ(parse_keep_alive(J("\"10m\""), "keep_alive"), (KeepAlive{false, 600'000}));
  EXPECT_EQ(parse_keep_alive(J("\"1h30m\""), "keep_alive"), (KeepAlive{false, 5'400'000}));
  EXPECT_EQ(parse_keep_alive(J("\"300ms\""), "keep_alive"), (KeepAlive{false, 300}));
  EXPECT_EQ(parse_keep_alive(J("\"300\""), "keep_alive"), (KeepAlive{false, 300'000}));
}

TEST(KeepAlive, NegativeIsForeverAndZeroUnloads) {
  EXPECT_TRUE(parse_keep_alive(J("-1"), "keep_alive").forever);
  EXPECT_TRUE(parse_keep_alive(J("\"-1\""), "keep_alive").forever);
  EXPECT_TRUE(parse_keep_alive(J("\"-5m\""), "keep_alive").forever);
  EXPECT_TRUE(parse_keep_alive(J("0"), "keep_alive").unload_now());
  EXPECT_TRUE(parse_keep_alive(J("\"0\""), "keep_alive").unload_now());
  EXPECT_TRUE(parse_keep_alive(J("\"0s\""), "keep_alive").unload_now());
  // A positive duration under a millisecond must not turn into "unload now".
  EXPECT_EQ(parse_keep_alive(J("\"1ns\""), "keep_alive"), (KeepAlive{false, 1}));
}

TEST(KeepAlive, OtherValuesNameTheField) {
  const std::string expected =
      "keep_alive: expected a duration (\"5m\", \"1h30m\", \"300ms\"), a number of seconds, or -1 for forever, found ";
  EXPECT_EQ(field_error([] { parse_keep_alive(J("\"soon\""), "keep_alive"); }), expected + "string \"soon\"");
  EXPECT_EQ(field_error([] { parse_keep_alive(J("true"), "keep_alive"); }), expected + "true");
  EXPECT_EQ(field_error([] { parse_keep_alive(J("\"inf\""), "keep_alive"); }), expected + "string \"inf\"");
  EXPECT_EQ(field_error([] { parse_keep_alive(J("[1]"), "keep_alive"); }), expected + "an array");
}

TEST(DescribeJson, ShortTypedDescriptions) {
  EXPECT_EQ(describe_json(nullptr), "nothing");
  const OrderedJson n = nullptr, t = true, i = 42, f = 1.5, o = OrderedJson::object(), a = OrderedJson::array();
  EXPECT_EQ(describe_json(&n), "null");
  EXPECT_EQ(describe_json(&t), "true");
  EXPECT_EQ(describe_json(&i), "number 42");
  EXPECT_EQ(describe_json(&f), "number 1.5");
  EXPECT_EQ(describe_json(&o), "an object");
  EXPECT_EQ(describe_json(&a), "an array");
  const OrderedJson s = "a \"quoted\" word";
  EXPECT_EQ(describe_json(&s), "string \"a \\\"quoted\\\" word\"");
  const OrderedJson long_s = std::string(100, 'x');
  EXPECT_EQ(describe_json(&long_s), "string \"" + std::string(40, 'x') + "...\"");
}

TEST(OllamaOptions, IntsAcceptNumbersAndTruncateFloats) {
  runtime::SamplingOptions s;
  RunnerOptions r;
  std::vector<std::string> w;
  apply_ollama_options(J(R"({"num_ctx": 8192.9, "num_predict": -1, "top_k": 64, "seed": 42, "num_keep": -1.7,
                             "repeat_last_n": 0, "num_batch": 256, "num_gpu": 99, "main_gpu": 1, "num_thread": 8,
                             "draft_num_predict": 2.0, "use_mmap": false})"),
                       "options", s, r, w);
  EXPECT_EQ(s.num_ctx, 8192);
  EXPECT_EQ(s.num_predict, -1);
  EXPECT_EQ(s.top_k, 64);
  EXPECT_EQ(s.seed, 42);
  EXPECT_EQ(s.num_keep, -1);  // truncated toward zero, as Go's int(float64)
  EXPECT_EQ(s.repeat_last_n, 0);
  EXPECT_EQ(s.num_batch, 256);
  EXPECT_EQ(r.num_gpu, 99);
  EXPECT_EQ(r.main_gpu, 1);
  EXPECT_EQ(r.num_thread, 8);
  EXPECT_EQ(r.draft_num_predict, 2);
  EXPECT_EQ(r.use_mmap, false);
  EXPECT_TRUE(w.empty());
}

TEST(OllamaOptions, FloatsAndStop) {
  runtime::SamplingOptions s;
  RunnerOptions r;
  std::vector<std::string> w;
  apply_ollama_options(J(R"({"temperature": 0, "top_p": 0.5, "min_p": 0.05, "typical_p": 0.9, "repeat_penalty": 1.1,
                             "presence_penalty": 0.5, "frequency_penalty": 0.25, "stop": ["</s>", "\n\n"]})"),
                       "options", s, r, w);
  EXPECT_EQ(s.temperature, 0.0f);
  EXPECT_FLOAT_EQ(s.top_p, 0.5f);
  EXPECT_FLOAT_EQ(s.min_p, 0.05f);
  EXPECT_FLOAT_EQ(s.typical_p, 0.9f);
  EXPECT_FLOAT_EQ(s.repeat_penalty, 1.1f);
  EXPECT_FLOAT_EQ(s.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(s.frequency_penalty, 0.25f);
  EXPECT_EQ(s.stop, (std::vector<std::string>{"</s>", "\n\n"}));
}

TEST(OllamaOptions, DefaultsStayWhenAbsentOrNull) {
  runtime::SamplingOptions s;
  RunnerOptions r;
  std::vector<std::string> w;
  apply_ollama_options(J(R"({"temperature": null, "num_ctx": null})"), "options", s, r, w);
  const runtime::SamplingOptions defaults;
  EXPECT_EQ(s.temperature, defaults.temperature);
  EXPECT_EQ(s.num_ctx, defaults.num_ctx);
  EXPECT_TRUE(w.empty());
}

TEST(OllamaOptions, UnknownKeysWarnLegacyKeysAreSilent) {
  runtime::SamplingOptions s;
  RunnerOptions r;
  std::vector<std::string> w;
  apply_ollama_options(J(R"({"numa": true, "low_vram": false, "f16_kv": true, "logits_all": false, "vocab_only": false,
                             "use_mlock": true, "embedding_only": false, "tfs_z": 1.0, "mirostat": 0,
                             "mirostat_tau": 5.0, "mirostat_eta": 0.1, "penalize_newline": true,
                             "frobnicate": 3, "temprature": 0.2})"),
                       "options", s, r, w);
  EXPECT_EQ(w, (std::vector<std::string>{"options.frobnicate: unknown option, ignored",
                                         "options.temprature: unknown option, ignored"}));
}

TEST(OllamaOptions, WrongTypesNameTheOption) {
  auto err = [](const char* body) {
    return field_error([&] {
      runtime::SamplingOptions s;
      RunnerOptions r;
      std::vector<std::string> w;
      apply_ollama_options(J(body), "options", s, r, w);
    });
  };
  EXPECT_EQ(err(R"({"num_ctx": "4096"})"),
            "options.num_ctx: expected an integer (a JSON number), found string \"4096\"");
  EXPECT_EQ(err(R"({"seed": true})"), "options.seed: expected an integer (a JSON number), found true");
  EXPECT_EQ(err(R"({"num_ctx": 1e12})"),
            "options.num_ctx: expected an integer in [-2147483648, 2147483647], found number 1000000000000.0");
  EXPECT_EQ(err(R"({"temperature": "0.7"})"), "options.temperature: expected a number, found string \"0.7\"");
  EXPECT_EQ(err(R"({"stop": "\n"})"), "options.stop: expected an array of strings, found string \"\\n\"");
  EXPECT_EQ(err(R"({"stop": ["a", 3]})"), "options.stop[1]: expected a string, found number 3");
  EXPECT_EQ(err(R"({"use_mmap": 1})"), "options.use_mmap: expected true or false, found number 1");
  EXPECT_EQ(err(R"([1, 2])"), "options: expected an object, found an array");
}

TEST(MediaKind, AudioByMagicBytesElseImage) {
  using K = text::ContentPartKind;
  EXPECT_EQ(sniff_media_kind(std::string("RIFF\x24\0\0\0WAVEfmt ", 16)), K::kAudio);
  EXPECT_EQ(sniff_media_kind("ID3\x04\0"), K::kAudio);
  EXPECT_EQ(sniff_media_kind("\xFF\xFB\x90\x00"), K::kAudio);
  EXPECT_EQ(sniff_media_kind("fLaC\0\0\0\x22"), K::kAudio);
  EXPECT_EQ(sniff_media_kind("OggS\0\x02"), K::kAudio);
  EXPECT_EQ(sniff_media_kind("\x89PNG\r\n\x1a\n"), K::kImage);
  EXPECT_EQ(sniff_media_kind("\xFF\xD8\xFF\xE0"), K::kImage);  // JPEG's FF D8 is not an MPEG frame sync
  EXPECT_EQ(sniff_media_kind(std::string("RIFF\x24\0\0\0WEBPVP8 ", 16)), K::kImage);
}

TEST(Ids, ToolCallIdsAreCallPlusEightLowercaseAlnumAndStable) {
  const std::string id = make_tool_call_id(7, 0);
  ASSERT_EQ(id.size(), 13u);
  EXPECT_EQ(id.substr(0, 5), "call_");
  for (char c : id.substr(5)) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) << id;
  EXPECT_EQ(id, make_tool_call_id(7, 0));
  EXPECT_NE(id, make_tool_call_id(7, 1));
  EXPECT_NE(id, make_tool_call_id(8, 0));
  EXPECT_EQ(make_response_id(Api::kOpenAiChat, 1).substr(0, 9), "chatcmpl-");
  EXPECT_EQ(make_response_id(Api::kOpenAiChat, 1).size(), 21u);
  EXPECT_EQ(make_response_id(Api::kOpenAiCompletions, 1).substr(0, 5), "cmpl-");
}

TEST(Rfc3339, NanosecondsWithTrailingZerosTrimmedLikeGo) {
  using namespace std::chrono;
  const system_clock::time_point t0{seconds{1780567200}};  // 2026-06-04T10:00:00Z
  EXPECT_EQ(format_rfc3339_nano(t0), "2026-06-04T10:00:00Z");
  EXPECT_EQ(format_rfc3339_nano(t0 + nanoseconds{123456789}), "2026-06-04T10:00:00.123456789Z");
  EXPECT_EQ(format_rfc3339_nano(t0 + nanoseconds{120000000}), "2026-06-04T10:00:00.12Z");
  EXPECT_EQ(format_rfc3339_nano(t0 + nanoseconds{1}), "2026-06-04T10:00:00.000000001Z");
}

TEST(DoneEventFrom, MapsRuntimeReasonsAndDurations) {
  runtime::GenerateResult r;
  r.reason = runtime::DoneReason::length;
  r.prompt_eval_count = 26;
  r.eval_count = 282;
  r.prompt_eval_seconds = 0.342546;
  r.eval_seconds = 4.535599;
  DoneEvent d = done_event_from(r);
  EXPECT_EQ(d.reason, FinishReason::kLength);
  EXPECT_EQ(d.prompt_eval_count, 26);
  EXPECT_EQ(d.eval_count, 282);
  EXPECT_EQ(d.prompt_eval_duration_ns, 342546000);
  EXPECT_EQ(d.eval_duration_ns, 4535599000);
  EXPECT_EQ(d.total_duration_ns, 342546000 + 4535599000);
  r.reason = runtime::DoneReason::repetition;
  EXPECT_EQ(done_event_from(r).reason, FinishReason::kLength);
  r.reason = runtime::DoneReason::stop;
  EXPECT_EQ(done_event_from(r).reason, FinishReason::kStop);
}

}  // namespace
}  // namespace locus::server

#include "server/client_json.h"

namespace locus::server {
namespace {

TEST(ClientJson, NestingIsBounded) {
  const std::string ok = std::string(kMaxClientJsonDepth - 1, '[') + std::string(kMaxClientJsonDepth - 1, ']');
  EXPECT_FALSE(parse_client_json(ok).too_deep);
  EXPECT_FALSE(parse_client_json(ok).value.is_discarded());
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const ClientJson j = parse_client_json(deep);
  EXPECT_TRUE(j.too_deep);
  EXPECT_TRUE(j.value.is_discarded());
  EXPECT_TRUE(parse_client_json("{not json").value.is_discarded());
  EXPECT_FALSE(parse_client_json("{not json").too_deep);
  EXPECT_EQ(parse_client_json(R"({"b":1,"a":2})").value.begin().key(), "b");  // key order kept
}

}  // namespace
}  // namespace locus::server
