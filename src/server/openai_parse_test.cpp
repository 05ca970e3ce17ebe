// /v1/chat/completions and /v1/completions bodies into ApiRequest (api-compat.md §2.7).
#include <gtest/gtest.h>

#include "server/api_parse.h"
#include "server/base64.h"

namespace locus::server {
namespace {

using OrderedJson = nlohmann::ordered_json;
using text::ChatRole;
using text::ContentPartKind;

ApiRequest chat_ok(const std::string& body) {
  ParseResult r = parse_openai_chat(OrderedJson::parse(body));
  EXPECT_TRUE(r.ok()) << (r.error ? r.error->message : "");
  return r.request;
}

ApiError chat_fail(const std::string& body) {
  ParseResult r = parse_openai_chat(OrderedJson::parse(body));
  EXPECT_FALSE(r.ok());
  return r.error.value_or(ApiError{0, "no error", ""});
}

std::string chat_error(const std::string& body) { return chat_fail(body).message; }

// A chat body with one user message and `extra` fields.
std::string with(const std::string& extra) {
  return R"({"model":"gemma4","messages":[{"role":"user","content":"hi"}])" + (extra.empty() ? "" : "," + extra) + "}";
}

ApiRequest completions_ok(const std::string& body) {
  ParseResult r = parse_openai_completions(OrderedJson::parse(body));
  EXPECT_TRUE(r.ok()) << (r.error ? r.error->message : "");
  return r.request;
}

std::string completions_error(const std::string& body) {
  ParseResult r = parse_openai_completions(OrderedJson::parse(body));
  return r.ok() ? "no error" : r.error->message;
}

TEST(OpenAiChat, DefaultsDifferFromOllama) {
  ApiRequest r = chat_ok(with(""));
  EXPECT_EQ(r.api, Api::kOpenAiChat);
  EXPECT_FALSE(r.stream);  // OpenAI's default
  EXPECT_FALSE(r.include_usage);
  EXPECT_EQ(r.options.temperature, 1.0f);  // Ollama's compat layer: missing temperature/top_p are 1.0
  EXPECT_EQ(r.options.top_p, 1.0f);
  EXPECT_EQ(r.options.top_k, runtime::SamplingOptions{}.top_k);
  EXPECT_EQ(r.options.num_predict, -1);
  EXPECT_TRUE(r.parallel_tool_calls);
  EXPECT_EQ(r.tool_choice.kind, ToolChoice::Kind::kAuto);
  EXPECT_EQ(r.think.mode, Think::Mode::kUnset);
  EXPECT_FALSE(r.load_only);
}

TEST(OpenAiChat, SamplingFields) {
  ApiRequest r = chat_ok(with(R"("temperature":0.3,"top_p":0.8,"seed":7,"presence_penalty":0.5,
      "frequency_penalty":-0.5,"stop":"END","max_tokens":64,"stream":true,"stream_options":{"include_usage":true},
      "logprobs":true,"top_logprobs":3)"));
  EXPECT_FLOAT_EQ(r.options.temperature, 0.3f);
  EXPECT_FLOAT_EQ(r.options.top_p, 0.8f);
  EXPECT_EQ(r.options.seed, 7);
  EXPECT_FLOAT_EQ(r.options.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(r.options.frequency_penalty, -0.5f);
  EXPECT_EQ(r.options.stop, std::vector<std::string>{"END"});  // a string becomes [string]
  EXPECT_EQ(r.options.num_predict, 64);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 3);
  EXPECT_EQ(chat_ok(with(R"("stop":["a","b"])")).options.stop, (std::vector<std::string>{"a", "b"}));
}

TEST(OpenAiChat, LogprobsRanges) {
  EXPECT_EQ(chat_ok(with(R"("logprobs":true,"top_logprobs":20)")).top_logprobs, 20);
  EXPECT_EQ(chat_ok(with(R"("logprobs":false,"top_logprobs":0)")).top_logprobs, 0);
  EXPECT_EQ(chat_error(with(R"("logprobs":true,"top_logprobs":21)")),
            "top_logprobs: expected an integer in [0, 20], found number 21");
  EXPECT_EQ(chat_error(with(R"("logprobs":true,"top_logprobs":-1)")),
            "top_logprobs: expected an integer in [0, 20], found number -1");
  const ApiError e = chat_fail(with(R"("top_logprobs":2)"));
  EXPECT_EQ(e.http_status, 400);
  EXPECT_EQ(e.param, "top_logprobs");
  EXPECT_EQ(e.message, "top_logprobs: needs logprobs: true, found logprobs not set");
  EXPECT_EQ(chat_error(with(R"("logprobs":false,"top_logprobs":2)")),
            "top_logprobs: needs logprobs: true, found logprobs false");
}

TEST(OpenAiChat, MaxCompletionTokensWinsOverMaxTokens) {
  EXPECT_EQ(chat_ok(with(R"("max_completion_tokens":100)")).options.num_predict, 100);
  EXPECT_EQ(chat_ok(with(R"("max_tokens":50,"max_completion_tokens":100)")).options.num_predict, 100);
  EXPECT_EQ(chat_ok(with(R"("max_completion_tokens":100,"max_tokens":50)")).options.num_predict, 100);
  EXPECT_EQ(chat_error(with(R"("max_tokens":0)")), "max_tokens: expected a positive integer, found number 0");
}

TEST(OpenAiChat, UnsupportedFieldsAreClear400s) {
  ApiError n = chat_fail(with(R"("n":2)"));
  EXPECT_EQ(n.message, "n: expected 1 (several choices per request are not supported), found number 2");
  EXPECT_EQ(n.param, "n");
  EXPECT_EQ(n.http_status, 400);
  EXPECT_TRUE(chat_ok(with(R"("n":1)")).options.stop.empty());
  ApiError bias = chat_fail(with(R"("logit_bias":{"50256":-100,"1":5})"));
  EXPECT_EQ(bias.message, "logit_bias: expected an empty object (logit_bias is not supported), found 2 token bias(es)");
  EXPECT_EQ(bias.param, "logit_bias");
  chat_ok(with(R"("logit_bias":{})"));
  chat_ok(with(R"("logit_bias":null)"));
}

TEST(OpenAiChat, IgnoredFieldsAreAccepted) {
  chat_ok(with(R"("user":"u1","metadata":{"a":"b"},"store":false,"service_tier":"auto","prompt_cache_key":"k",
      "modalities":["text"],"audio":null,"prediction":null,"verbosity":"low","web_search_options":{},
      "stream_options":{"include_usage":false,"include_obfuscation":false})"));
}

TEST(OpenAiChat, ReasoningEffort) {
  EXPECT_EQ(chat_ok(with(R"("reasoning_effort":"none")")).think.mode, Think::Mode::kOff);
  for (const char* e : {"minimal", "low", "medium", "high", "xhigh", "max"}) {
    const Think t = chat_ok(with(std::string(R"("reasoning_effort":")") + e + "\"")).think;
    EXPECT_EQ(t.mode, Think::Mode::kOn) << e;
    EXPECT_EQ(t.level, e);
  }
  const Think nested = chat_ok(with(R"("reasoning":{"effort":"high"})")).think;
  EXPECT_EQ(nested.mode, Think::Mode::kOn);
  EXPECT_EQ(nested.level, "high");
  EXPECT_EQ(chat_error(with(R"("reasoning_effort":"huge")")),
            "reasoning_effort: expected \"none\", \"minimal\", \"low\", \"medium\", \"high\", \"xhigh\" or \"max\", found "
            "string \"huge\"");
}

TEST(OpenAiChat, ResponseFormat) {
  EXPECT_EQ(chat_ok(with(R"("response_format":{"type":"text"})")).format.kind, Format::Kind::kNone);
  EXPECT_EQ(chat_ok(with(R"("response_format":{"type":"json_object"})")).format.kind, Format::Kind::kJsonObject);
  ApiRequest r = chat_ok(with(R"("response_format":{"type":"json_schema","json_schema":{"name":"person","strict":true,
      "schema":{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]}}})"));
  EXPECT_EQ(r.format.kind, Format::Kind::kJsonSchema);
  EXPECT_EQ(r.format.name, "person");
  EXPECT_TRUE(r.format.strict);
  EXPECT_EQ(r.format.schema.dump(),
            R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]})");
  EXPECT_FALSE(chat_ok(with(R"("response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}})"))
                   .format.strict);
  EXPECT_EQ(chat_error(with(R"("response_format":{"type":"json_schema","json_schema":{"name":"x"}})")),
            "response_format.json_schema.schema: expected a JSON Schema object, found nothing");
  EXPECT_EQ(chat_error(with(R"("response_format":{"type":"yaml"})")),
            "response_format.type: expected \"text\", \"json_object\" or \"json_schema\", found string \"yaml\"");
  EXPECT_EQ(chat_error(with(R"("response_format":"json")")),
            "response_format: expected an object {\"type\"}, found string \"json\"");
}

const char* kTools = R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}},
                                 {"type":"function","function":{"name":"get_time"}}])";

TEST(OpenAiChat, ToolChoice) {
  EXPECT_EQ(chat_ok(with(std::string(kTools) + R"(,"tool_choice":"auto")")).tool_choice.kind, ToolChoice::Kind::kAuto);
  EXPECT_EQ(chat_ok(with(std::string(kTools) + R"(,"tool_choice":"none")")).tool_choice.kind, ToolChoice::Kind::kNone);
  EXPECT_EQ(chat_ok(with(std::string(kTools) + R"(,"tool_choice":"required")")).tool_choice.kind,
            ToolChoice::Kind::kRequired);
  const ToolChoice named =
      chat_ok(with(std::string(kTools) + R"(,"tool_choice":{"type":"function","function":{"name":"get_time"}})"))
          .tool_choice;
  EXPECT_EQ(named.kind, ToolChoice::Kind::kNamed);
  EXPECT_EQ(named.name, "get_time");
  EXPECT_FALSE(chat_ok(with(std::string(kTools) + R"(,"parallel_tool_calls":false)")).parallel_tool_calls);
  EXPECT_EQ(chat_error(with(std::string(kTools) + R"(,"tool_choice":{"type":"function","function":{"name":"nope"}})")),
            "tool_choice.function.name: expected a declared tool (get_weather, get_time), found string \"nope\"");
  EXPECT_EQ(chat_error(with(R"("tool_choice":"required")")),
            "tool_choice: expected \"none\" or \"auto\" when no tools are declared, found string \"required\"");
  EXPECT_EQ(chat_error(with(std::string(kTools) + R"(,"tool_choice":"any")")),
            "tool_choice: expected \"none\", \"auto\", \"required\" or {\"type\":\"function\",\"function\":{\"name\"}}, "
            "found string \"any\"");
}

TEST(OpenAiChat, ToolHistoryWithStringArguments) {
  ApiRequest r = chat_ok(std::string(R"({"model":"m","messages":[
      {"role":"developer","content":"be terse"},
      {"role":"user","content":"weather in Tokyo?"},
      {"role":"assistant","content":null,"reasoning_content":"need the tool",
       "tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Tokyo\"}"}},
                     {"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},
      {"role":"tool","tool_call_id":"call_1","content":"11 degrees"},
      {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"noon"}]}],)") + kTools + "}");
  const auto& msgs = r.conversation.messages;
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_EQ(msgs[0].role, ChatRole::kDeveloper);
  EXPECT_EQ(msgs[2].reasoning, "need the tool");
  EXPECT_TRUE(msgs[2].text.empty());
  ASSERT_EQ(msgs[2].tool_calls.size(), 2u);
  EXPECT_EQ(msgs[2].tool_calls[0].id, "call_1");
  EXPECT_EQ(msgs[2].tool_calls[0].arguments, nlohmann::json::parse(R"({"city":"Tokyo"})"));
  EXPECT_EQ(msgs[2].tool_calls[1].arguments, nlohmann::json::object());
  EXPECT_EQ(msgs[3].tool_call_id, "call_1");
  EXPECT_EQ(msgs[3].name, "");  // the renderer finds it by tool_call_id
  EXPECT_EQ(msgs[4].parts.at(0).text, "noon");
  EXPECT_EQ(r.conversation.tools.size(), 2u);
  EXPECT_NO_THROW(text::render_gemma4_prompt(r.conversation, {}));
  EXPECT_EQ(chat_ok(R"({"model":"m","messages":[{"role":"assistant","reasoning":"r","content":"a"}]})")
                .conversation.messages[0].reasoning, "r");
}

TEST(OpenAiChat, BadToolCallArguments) {
  auto body = [](const char* args) {
    return std::string(R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function",
        "function":{"name":"f","arguments":)") + args + "}}]}]}";
  };
  EXPECT_EQ(chat_error(body(R"("{\"city\":")")),
            "messages[0].tool_calls[0].function.arguments: expected a string holding a JSON object, found string "
            "\"{\\\"city\\\":\"");
  EXPECT_EQ(chat_error(body(R"("[1,2]")")),
            "messages[0].tool_calls[0].function.arguments: expected a string holding a JSON object, found string \"[1,2]\"");
  EXPECT_EQ(chat_error(body("42")),
            "messages[0].tool_calls[0].function.arguments: expected a JSON-encoded object string, found number 42");
}

TEST(OpenAiChat, ContentPartsCarryMedia) {
  const std::string png = "\x89PNG\r\n\x1a\nabc";
  const std::string mp3 = "ID3\x04rest";
  const std::string mp4 = "....ftypisom";
  ApiRequest r = chat_ok(R"({"model":"m","messages":[{"role":"USER","content":[
      {"type":"text","text":"Describe both"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,)" + encode_base64(png) + R"(","detail":"low"}},
      {"type":"input_audio","input_audio":{"data":")" + encode_base64(mp3) + R"(","format":"mp3"}},
      {"type":"input_video","input_video":{"data":")" + encode_base64(mp4) + R"("}}]}]})");
  const auto& m = r.conversation.messages.at(0);
  EXPECT_EQ(m.role, ChatRole::kUser);
  ASSERT_TRUE(m.use_parts);
  ASSERT_EQ(m.parts.size(), 4u);
  EXPECT_EQ(m.parts[0].text, "Describe both");
  EXPECT_EQ(m.parts[1].kind, ContentPartKind::kImage);
  EXPECT_EQ(m.parts[2].kind, ContentPartKind::kAudio);
  EXPECT_EQ(m.parts[3].kind, ContentPartKind::kVideo);
  ASSERT_EQ(r.media.size(), 3u);
  EXPECT_EQ(r.media[0].bytes, png);
  EXPECT_EQ(r.media[0].mime, "image/png");
  EXPECT_EQ(r.media[0].part, 1u);
  EXPECT_EQ(r.media[0].message, 0u);
  EXPECT_EQ(r.media[1].bytes, mp3);
  EXPECT_EQ(r.media[1].mime, "audio/mp3");
  EXPECT_EQ(r.media[1].kind, ContentPartKind::kAudio);
  EXPECT_EQ(r.media[2].bytes, mp4);
  EXPECT_EQ(r.media[2].part, 3u);
  EXPECT_EQ(r.media[2].kind, ContentPartKind::kVideo);
}

TEST(OpenAiChat, MediaErrors) {
  auto part = [](const std::string& p) {
    return R"({"model":"m","messages":[{"role":"user","content":[)" + p + "]}]}";
  };
  struct Case {
    std::string part;
    std::string message;
    std::string param;
  };
  const std::string p0 = "messages[0].content[0]";
  const Case cases[] = {
      {R"({"type":"image_url","image_url":{"url":"data:image/png,rawbytes"}})",
       p0 + ".image_url.url: expected base64 data (data:<type>;base64,<data>), found the header \"image/png\" without ;base64",
       p0 + ".image_url.url"},
      {R"({"type":"image_url","image_url":{"url":"data:image/png;base64,ab$d"}})",
       p0 + ".image_url.url: expected standard base64 (A-Z a-z 0-9 + /, '=' padded) after the comma, found invalid "
            "character '$' at offset 2", p0 + ".image_url.url"},
      {R"({"type":"image_url","image_url":{"url":"data:image/png;base64,"}})",
       p0 + ".image_url.url: expected media bytes in base64 after the comma, found none", p0 + ".image_url.url"},
      {R"({"type":"image_url","image_url":{"url":"data:image/png;base64"}})",
       p0 + ".image_url.url: expected a data: URI (data:<type>;base64,<data>), found no ',' before the data",
       p0 + ".image_url.url"},
      {R"({"type":"image_url","image_url":{"url":"file:///etc/passwd"}})",
       p0 + ".image_url.url: expected a data: URI with the bytes in base64, found a file: URL (a request never makes "
            "the server read a file)", p0 + ".image_url.url"},
      {R"({"type":"image_url","image_url":{"url":"FILE:/etc/passwd"}})",
       p0 + ".image_url.url: expected a data: URI with the bytes in base64, found a file: URL (a request never makes "
            "the server read a file)", p0 + ".image_url.url"},
      {R"({"type":"image_url","image_url":{"url":"aGVsbG8="}})",
       p0 + ".image_url.url: expected a data: URI (data:<type>;base64,<data>) or an http(s) URL, found string \"aGVsbG8=\"",
       p0 + ".image_url.url"},
      {R"({"type":"image_url","image_url":{"url":"ftp://example.com/a.png"}})",
       p0 + ".image_url.url: expected a data: URI (data:<type>;base64,<data>) or an http(s) URL, found string "
            "\"ftp://example.com/a.png\"", p0 + ".image_url.url"},
      {R"({"type":"image_url","image_url":{}})", p0 + ".image_url.url: expected a data: URI string, found nothing",
       p0 + ".image_url.url"},
      {R"({"type":"image_url","image_url":{"url":7}})", p0 + ".image_url.url: expected a data: URI string, found number 7",
       p0 + ".image_url.url"},
      {R"({"type":"image_url"})", p0 + ".image_url: expected an object {\"url\"}, found nothing", p0 + ".image_url"},
      {R"({"type":"image_url","image_url":{"url":"data:image/png;base64,aGVs","detail":"medium"}})",
       p0 + ".image_url.detail: expected \"auto\", \"low\" or \"high\", found string \"medium\"", p0 + ".image_url.detail"},
      {R"({"type":"input_audio","input_audio":{"data":"aGVs","format":"a a"}})",
       p0 + ".input_audio.format: expected a format name such as \"wav\" or \"mp3\", found string \"a a\"",
       p0 + ".input_audio.format"},
      {R"({"type":"input_audio","input_audio":{"data":"aGVs","format":3}})",
       p0 + ".input_audio.format: expected a format name such as \"wav\" or \"mp3\", found number 3",
       p0 + ".input_audio.format"},
      {R"({"type":"input_audio","input_audio":{"format":"wav"}})",
       p0 + ".input_audio.data: expected a base64 string, found nothing", p0 + ".input_audio.data"},
      {R"({"type":"input_audio","input_audio":{"data":"aGV%bG8=","format":"wav"}})",
       p0 + ".input_audio.data: expected standard base64 (A-Z a-z 0-9 + /, '=' padded), found invalid character '%' at "
            "offset 3", p0 + ".input_audio.data"},
      {R"({"type":"input_audio","input_audio":{"data":"data:audio/wav,raw","format":"wav"}})",
       p0 + ".input_audio.data: expected base64 data (data:<type>;base64,<data>), found the header \"audio/wav\" without "
            ";base64", p0 + ".input_audio.data"},
      {R"({"type":"video_url","video_url":{"url":"data:video/mp4;base64,!!!!"}})",
       p0 + ".video_url.url: expected standard base64 (A-Z a-z 0-9 + /, '=' padded) after the comma, found invalid "
            "character '!' at offset 0", p0 + ".video_url.url"},
      {R"({"type":"video_url","video_url":{"url":"file:///tmp/a.mp4"}})",
       p0 + ".video_url.url: expected a data: URI with the bytes in base64, found a file: URL (a request never makes "
            "the server read a file)", p0 + ".video_url.url"},
      {R"({"type":"input_video","input_video":{}})",
       p0 + ".input_video: expected an object {\"data\"} or {\"url\"}, found an object", p0 + ".input_video"},
      {R"({"type":"input_video","input_video":{"url":"file:///tmp/a.mp4"}})",
       p0 + ".input_video.url: expected a data: URI with the bytes in base64, found a file: URL (a request never makes "
            "the server read a file)", p0 + ".input_video.url"},
      {R"({"type":"file","file":{}})",
       p0 + ".type: expected \"text\", \"image_url\", \"input_audio\", \"video_url\" or \"input_video\", found string \"file\"",
       p0 + ".type"},
      {R"({"type":"text"})", p0 + ".text: expected a string, found nothing", p0 + ".text"},
  };
  for (const Case& c : cases) {
    const ApiError e = chat_fail(part(c.part));
    EXPECT_EQ(e.http_status, 400) << c.part;
    EXPECT_EQ(e.message, c.message) << c.part;
    EXPECT_EQ(e.param, c.param) << c.part;
  }
}

TEST(OpenAiChat, MediaPartsInEveryFormClientsSend) {
  const std::string wav("RIFF\x24\0\0\0WAVEfmt ", 16);
  const std::string mp4("\0\0\0\x18" "ftypisom\0\0\0\0", 16);
  const std::string png("\x89PNG\r\n\x1a\n", 8);
  const std::string b_wav = encode_base64(wav), b_mp4 = encode_base64(mp4), b_png = encode_base64(png);
  ApiRequest r = chat_ok(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"image_url","image_url":"data:image/png;base64,)" + b_png + R"("},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,)" + b_png + R"(","detail":"high"}},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,)" + b_png + R"(","detail":"auto"}},
      {"type":"input_audio","input_audio":{"data":")" + b_wav + R"(","format":"M4A"}},
      {"type":"input_audio","input_audio":{"data":"data:audio/wav;base64,)" + b_wav + R"("}},
      {"type":"input_audio","input_audio":{"url":"data:audio/flac;base64,)" + b_wav + R"("}},
      {"type":"video_url","video_url":{"url":"data:video/mp4;base64,)" + b_mp4 + R"("}},
      {"type":"video_url","video_url":"data:video/webm;base64,)" + b_mp4 + R"("},
      {"type":"input_video","input_video":{"data":")" + b_mp4 + R"("}},
      {"type":"input_video","input_video":{"data":"data:video/mp4;base64,)" + b_mp4 + R"("}},
      {"type":"input_video","input_video":{"url":"data:video/quicktime;base64,)" + b_mp4 + R"("}},
      {"type":"text","text":"What happens?"}]}]})");
  const auto& parts = r.conversation.messages[0].parts;
  ASSERT_EQ(parts.size(), 12u);
  ASSERT_EQ(r.media.size(), 11u);
  const ContentPartKind kinds[] = {ContentPartKind::kImage, ContentPartKind::kImage, ContentPartKind::kImage,
                                   ContentPartKind::kAudio, ContentPartKind::kAudio, ContentPartKind::kAudio,
                                   ContentPartKind::kVideo, ContentPartKind::kVideo, ContentPartKind::kVideo,
                                   ContentPartKind::kVideo, ContentPartKind::kVideo};
  const char* mimes[] = {"image/png", "image/png", "image/png", "audio/m4a", "audio/wav", "audio/flac",
                         "video/mp4", "video/webm", "", "video/mp4", "video/quicktime"};
  for (size_t i = 0; i < r.media.size(); ++i) {
    EXPECT_EQ(r.media[i].kind, kinds[i]) << i;
    EXPECT_EQ(parts[i].kind, kinds[i]) << i;
    EXPECT_EQ(r.media[i].part, i);
    EXPECT_EQ(r.media[i].message, 0u);
    EXPECT_EQ(r.media[i].mime, mimes[i]) << i;
    EXPECT_EQ(r.media[i].bytes, i < 3 ? png : i < 6 ? wav : mp4) << i;
    EXPECT_TRUE(r.media[i].url.empty());
  }
  EXPECT_FALSE(r.media[0].max_tokens);
  EXPECT_EQ(r.media[1].max_tokens, 1120);
  EXPECT_FALSE(r.media[2].max_tokens);  // auto: the request's or the server's budget
  EXPECT_EQ(parts[11].text, "What happens?");
  // detail low, and a data URI whose type lies (WAV bytes said to be a JPEG): taken as sent, the bytes decide.
  ApiRequest low = chat_ok(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,)" + b_wav + R"(","detail":"low"}}]}]})");
  EXPECT_EQ(low.media[0].max_tokens, 70);
  EXPECT_EQ(low.media[0].mime, "image/jpeg");
  EXPECT_EQ(low.media[0].bytes, wav);
}

TEST(OpenAiChat, RemoteUrlsAreKeptForTheServerToRefuseOrFetch) {
  ApiRequest r = chat_ok(R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"look"},
      {"type":"image_url","image_url":{"url":"https://example.com/cat.png","detail":"low"}},
      {"type":"video_url","video_url":{"url":"HTTP://example.com/v.mp4"}}]}]})");
  ASSERT_EQ(r.media.size(), 2u);
  EXPECT_EQ(r.media[0].url, "https://example.com/cat.png");
  EXPECT_EQ(r.media[0].param, "messages[0].content[1].image_url.url");
  EXPECT_TRUE(r.media[0].bytes.empty());
  EXPECT_EQ(r.media[0].max_tokens, 70);
  EXPECT_EQ(r.media[1].url, "HTTP://example.com/v.mp4");
  EXPECT_EQ(r.media[1].kind, ContentPartKind::kVideo);
  EXPECT_EQ(r.media[1].param, "messages[0].content[2].video_url.url");
}

TEST(OpenAiChat, MediaOptionsAsTopLevelFields) {
  ApiRequest none = chat_ok(with(""));
  EXPECT_EQ(none.media_options, MediaOptions{});
  ApiRequest r = chat_ok(with(R"("image_tokens":560,"video_frames":16,"video_frame_tokens":140,"video_audio":true,
      "video_layout":"google","image_size_rule":"google")"));
  EXPECT_EQ(r.media_options.image_tokens, 560);
  EXPECT_EQ(r.media_options.image_size_rule, MediaOptions::SizeRule::kGoogle);
  EXPECT_EQ(r.media_options.video_frames, 16);
  EXPECT_EQ(r.media_options.video_frame_tokens, 140);
  EXPECT_EQ(r.media_options.video_audio, true);
  EXPECT_EQ(r.media_options.video_layout, MediaOptions::VideoLayout::kGoogle);
  ApiRequest l = chat_ok(with(R"("image_size_rule":"llama.cpp","image_tokens":333,"video_layout":"llama.cpp",
      "video_frame_tokens":100,"video_frames":64.0)"));
  EXPECT_EQ(l.media_options.image_size_rule, MediaOptions::SizeRule::kLlamaCpp);
  EXPECT_EQ(l.media_options.image_tokens, 333);
  EXPECT_EQ(l.media_options.video_frame_tokens, 100);
  EXPECT_EQ(l.media_options.video_frames, 64);
  struct Case {
    std::string extra;
    std::string message;
  };
  const Case cases[] = {
      {R"("image_tokens":300)", "image_tokens: expected 70, 140, 280, 560 or 1120 (the size rule is google; llama.cpp's "
                                "takes any of 70..1120), found 300"},
      {R"("image_tokens":1200,"image_size_rule":"llama.cpp")",
       "image_tokens: expected an integer in [70, 1120] (the size rule is llama.cpp), found 1200"},
      {R"("image_tokens":69,"image_size_rule":"llama.cpp")",
       "image_tokens: expected an integer in [70, 1120] (the size rule is llama.cpp), found 69"},
      {R"("image_tokens":280.5)", "image_tokens: expected an integer, found number 280.5"},
      {R"("image_tokens":"280")", "image_tokens: expected an integer, found string \"280\""},
      {R"("image_tokens":1e12)", "image_tokens: expected an integer in the 32-bit range, found number 1000000000000.0"},
      {R"("image_size_rule":"pillow")", "image_size_rule: expected \"google\" or \"llama.cpp\", found string \"pillow\""},
      {R"("video_layout":true)", "video_layout: expected \"google\" or \"llama.cpp\", found true"},
      {R"("video_frames":0)", "video_frames: expected an integer in [1, 64], found 0"},
      {R"("video_frames":65)", "video_frames: expected an integer in [1, 64], found 65"},
      {R"("video_frame_tokens":100)", "video_frame_tokens: expected 70, 140, 280, 560 or 1120 (the video layout is "
                                      "google; llama.cpp's takes any of 70..1120), found 100"},
      {R"("video_frame_tokens":2000,"video_layout":"llama.cpp")",
       "video_frame_tokens: expected an integer in [70, 1120] (the video layout is llama.cpp), found 2000"},
      {R"("video_audio":"yes")", "video_audio: expected true or false, found string \"yes\""},
  };
  for (const Case& c : cases) {
    const ApiError e = chat_fail(with(c.extra));
    EXPECT_EQ(e.message, c.message) << c.extra;
    EXPECT_EQ(e.param, c.message.substr(0, c.message.find(':'))) << c.extra;
  }
}

TEST(OpenAiChat, RequestErrors) {
  EXPECT_EQ(chat_error(R"({"model":"m"})"), "messages: expected a non-empty array of messages, found nothing");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[]})"), "messages: expected a non-empty array of messages, found an array");
  EXPECT_EQ(chat_error(R"({"messages":[{"role":"user","content":"x"}]})"),
            "model: expected a model name (a non-empty string), found nothing");
  EXPECT_EQ(chat_error(with(R"("temperature":"hot")")), "temperature: expected a number, found string \"hot\"");
  EXPECT_EQ(chat_error(with(R"("temperature":-1)")), "temperature must be a number >= 0 (0 = greedy), got -1");
  EXPECT_EQ(chat_error(with(R"("top_p":2)")), "top_p must be in [0, 1], got 2");
  EXPECT_EQ(chat_fail(with(R"("top_p":2)")).param, "top_p");
  EXPECT_EQ(chat_error(with(R"("stop":[1])")), "stop[0]: expected a string, found number 1");
  EXPECT_EQ(chat_error(with(R"("stop":{})")), "stop: expected a string or an array of strings, found an object");
  EXPECT_EQ(chat_error(with(R"("seed":"1")")), "seed: expected an integer, found string \"1\"");
  EXPECT_EQ(chat_error(with(R"("stream_options":true)")), "stream_options: expected an object, found true");
  EXPECT_EQ(chat_error(with(R"("stream_options":{"include_usage":1})")),
            "stream_options.include_usage: expected true or false, found number 1");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[{"role":"user","content":7}]})"),
            "messages[0].content: expected a string or an array of content parts, found number 7");
}

TEST(OpenAiCompletions, PromptAndLegacyFields) {
  ApiRequest r = completions_ok(R"({"model":"m","prompt":"Once upon a time","max_tokens":16,"suffix":"The end.",
      "stop":"\n","logprobs":2,"stream":true,"stream_options":{"include_usage":true}})");
  EXPECT_EQ(r.api, Api::kOpenAiCompletions);
  EXPECT_EQ(r.prompt, "Once upon a time");
  EXPECT_FALSE(r.raw);  // Ollama's compat layer templates it as a user turn
  ASSERT_EQ(r.conversation.messages.size(), 1u);
  EXPECT_EQ(r.conversation.messages[0].role, ChatRole::kUser);
  EXPECT_EQ(r.conversation.messages[0].text, "Once upon a time");
  EXPECT_EQ(r.suffix, "The end.");
  EXPECT_EQ(r.options.num_predict, 16);
  EXPECT_EQ(r.options.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(r.options.temperature, 1.0f);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 2);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_FALSE(completions_ok(R"({"model":"m","prompt":["one"]})").stream);
}

TEST(OpenAiCompletions, Errors) {
  EXPECT_EQ(completions_error(R"({"model":"m"})"), "prompt: expected a string (or an array of one string), found nothing");
  EXPECT_EQ(completions_error(R"({"model":"m","prompt":["a","b"]})"),
            "prompt: expected a string (or an array of one string), found an array");
  EXPECT_EQ(completions_error(R"({"model":"m","prompt":[1,2,3]})"),
            "prompt: expected a string (or an array of one string), found an array");
  EXPECT_EQ(completions_error(R"({"model":"m","prompt":"p","echo":true})"),
            "echo: expected false (echoing the prompt is not supported), found true");
  EXPECT_EQ(completions_error(R"({"model":"m","prompt":"p","best_of":3})"),
            "best_of: expected 1 (several choices per request are not supported), found number 3");
  EXPECT_EQ(completions_error(R"({"model":"m","prompt":"p","logit_bias":{"1":1}})"),
            "logit_bias: expected an empty object (logit_bias is not supported), found 1 token bias(es)");
  EXPECT_EQ(completions_error(R"({"model":"m","prompt":"p","logprobs":true})"),
            "logprobs: expected an integer, found true");
  EXPECT_EQ(completions_error(R"({"model":"m","prompt":"p","logprobs":50})"),
            "logprobs: expected an integer in [0, 20], found number 50");
}

}  // namespace
}  // namespace locus::server
