// /api/chat and /api/generate bodies into ApiRequest (api-compat.md §2.2–2.4).
#include <gtest/gtest.h>

#include "server/api_parse.h"
#include "server/base64.h"

namespace locus::server {
namespace {

using OrderedJson = nlohmann::ordered_json;
using text::ChatRole;
using text::ContentPartKind;

OrderedJson J(const char* text) { return OrderedJson::parse(text); }

ApiRequest chat_ok(const char* body) {
  ParseResult r = parse_ollama_chat(J(body));
  EXPECT_TRUE(r.ok()) << (r.error ? r.error->message : "");
  return r.request;
}

std::string chat_error(const char* body) {
  ParseResult r = parse_ollama_chat(J(body));
  if (r.ok()) return "no error";
  EXPECT_EQ(r.error->http_status, 400);
  return r.error->message;
}

ApiRequest generate_ok(const char* body) {
  ParseResult r = parse_ollama_generate(J(body));
  EXPECT_TRUE(r.ok()) << (r.error ? r.error->message : "");
  return r.request;
}

std::string generate_error(const char* body) {
  ParseResult r = parse_ollama_generate(J(body));
  return r.ok() ? "no error" : r.error->message;
}

TEST(OllamaChat, MinimalRequestGetsOllamaDefaults) {
  ApiRequest r = chat_ok(R"({"model":"gemma4:12b","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(r.api, Api::kOllamaChat);
  EXPECT_EQ(r.model, "gemma4:12b");
  EXPECT_TRUE(r.stream);  // Ollama's server default
  EXPECT_TRUE(r.truncate);
  EXPECT_TRUE(r.shift);
  EXPECT_FALSE(r.keep_alive.has_value());
  EXPECT_EQ(r.think.mode, Think::Mode::kUnset);
  EXPECT_EQ(r.format.kind, Format::Kind::kNone);
  EXPECT_EQ(r.tool_choice.kind, ToolChoice::Kind::kAuto);
  EXPECT_FALSE(r.logprobs);
  EXPECT_FALSE(r.load_only);
  const runtime::SamplingOptions defaults;
  EXPECT_EQ(r.options.temperature, defaults.temperature);
  EXPECT_EQ(r.options.top_p, defaults.top_p);
  EXPECT_EQ(r.options.top_k, defaults.top_k);
  ASSERT_EQ(r.conversation.messages.size(), 1u);
  EXPECT_EQ(r.conversation.messages[0].role, ChatRole::kUser);
  EXPECT_EQ(r.conversation.messages[0].text, "hi");
  EXPECT_FALSE(r.conversation.messages[0].use_parts);
}

TEST(OllamaChat, StreamFalseAsOllamaJsSendsIt) {
  EXPECT_FALSE(chat_ok(R"({"model":"m","messages":[],"stream":false})").stream);
}

TEST(OllamaChat, NoMessagesOnlyLoads) {
  EXPECT_TRUE(chat_ok(R"({"model":"m"})").load_only);
  EXPECT_TRUE(chat_ok(R"({"model":"m","messages":[]})").load_only);
  ApiRequest unload = chat_ok(R"({"model":"m","messages":[],"keep_alive":0})");
  EXPECT_TRUE(unload.load_only && unload.keep_alive->unload_now());
}

TEST(OllamaChat, RolesAreLowerCased) {
  ApiRequest r = chat_ok(R"({"model":"m","messages":[{"role":"SYSTEM","content":"s"},{"role":"User","content":"u"},
      {"role":"Assistant","content":"a"},{"role":"developer","content":"d"}]})");
  ASSERT_EQ(r.conversation.messages.size(), 4u);
  EXPECT_EQ(r.conversation.messages[0].role, ChatRole::kSystem);
  EXPECT_EQ(r.conversation.messages[1].role, ChatRole::kUser);
  EXPECT_EQ(r.conversation.messages[2].role, ChatRole::kAssistant);
  EXPECT_EQ(r.conversation.messages[3].role, ChatRole::kDeveloper);
}

TEST(OllamaChat, ToolRoundTripKeepsIdsNamesAndArgumentObjects) {
  ApiRequest r = chat_ok(R"({"model":"m","messages":[
      {"role":"user","content":"weather?"},
      {"role":"assistant","content":"","thinking":"look it up",
       "tool_calls":[{"id":"call_ab12cd34","function":{"index":0,"name":"get_weather","arguments":{"city":"Tokyo","days":2}}}]},
      {"role":"tool","content":"11 degrees celsius","tool_name":"get_weather","tool_call_id":"call_ab12cd34"}],
    "tools":[{"type":"function","function":{"name":"get_weather","description":"d",
              "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]})");
  const auto& a = r.conversation.messages[1];
  EXPECT_EQ(a.reasoning, "look it up");
  ASSERT_EQ(a.tool_calls.size(), 1u);
  EXPECT_EQ(a.tool_calls[0].id, "call_ab12cd34");
  EXPECT_EQ(a.tool_calls[0].name, "get_weather");
  EXPECT_EQ(a.tool_calls[0].arguments, nlohmann::json::parse(R"({"city":"Tokyo","days":2})"));
  const auto& t = r.conversation.messages[2];
  EXPECT_EQ(t.role, ChatRole::kTool);
  EXPECT_EQ(t.name, "get_weather");
  EXPECT_EQ(t.tool_call_id, "call_ab12cd34");
  EXPECT_EQ(t.text, "11 degrees celsius");
  ASSERT_EQ(r.conversation.tools.size(), 1u);
  EXPECT_EQ(r.conversation.tools[0]["function"]["name"], "get_weather");
  // The conversation renders: the parser's output is what the renderer takes.
  EXPECT_NO_THROW(text::render_gemma4_prompt(r.conversation, {}));
}

TEST(OllamaChat, ToolCallArgumentsMustBeAnObject) {
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f",
                "arguments":"{\"a\":1}"}}]}]})"),
            "messages[0].tool_calls[0].function.arguments: expected an object, found string \"{\\\"a\\\":1}\"");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":{"arguments":{}}}]}]})"),
            "messages[0].tool_calls[0].function.name: expected a non-empty string, found nothing");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"x"}]}]})"),
            "messages[0].tool_calls[0].function: expected an object {\"name\", \"arguments\"}, found nothing");
  // No arguments at all is a call without arguments.
  ApiRequest r = chat_ok(R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":{"name":"now"}}]}]})");
  EXPECT_EQ(r.conversation.messages[0].tool_calls[0].arguments, nlohmann::json::object());
}

TEST(OllamaChat, ImagesBecomeMediaPartsBeforeTheText) {
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + "pixels";
  const std::string wav = std::string("RIFF\x10\0\0\0WAVEfmt ", 16);
  const std::string body = R"({"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":"What is this?",
      "images":[")" + encode_base64(png) + R"(",")" + encode_base64(wav) + R"("]}]})";
  ParseResult pr = parse_ollama_chat(OrderedJson::parse(body));
  ASSERT_TRUE(pr.ok()) << pr.error->message;
  const ApiRequest& r = pr.request;
  const auto& m = r.conversation.messages[1];
  ASSERT_TRUE(m.use_parts);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[0].kind, ContentPartKind::kImage);
  EXPECT_EQ(m.parts[1].kind, ContentPartKind::kAudio);  // audio travels in `images`, told apart by its bytes
  EXPECT_EQ(m.parts[2].kind, ContentPartKind::kText);
  EXPECT_EQ(m.parts[2].text, "What is this?");
  ASSERT_EQ(r.media.size(), 2u);
  EXPECT_EQ(r.media[0].bytes, png);
  EXPECT_EQ(r.media[0].message, 1u);
  EXPECT_EQ(r.media[0].part, 0u);
  EXPECT_EQ(r.media[0].kind, ContentPartKind::kImage);
  EXPECT_EQ(r.media[1].bytes, wav);
  EXPECT_EQ(r.media[1].part, 1u);
  EXPECT_EQ(r.media[1].kind, ContentPartKind::kAudio);
}

// Ollama has no audio or video field: every kind travels in `images`, and its first bytes say which it is
// (the media layer's probe has the last word). Each sample is the opening of a real file of that format.
TEST(OllamaChat, AnyMediaInImagesIsToldApartByItsBytes) {
  struct Sample {
    std::string bytes;
    ContentPartKind kind;
  };
  const Sample samples[] = {
      {std::string("RIFF\x24\0\0\0WAVEfmt ", 16), ContentPartKind::kAudio},
      {std::string("ID3\x04\0\0\0\0\0\0", 10), ContentPartKind::kAudio},
      {std::string("\xFF\xFB\x90\x64\0\0", 6), ContentPartKind::kAudio},  // an MP3 frame without a tag
      {std::string("\xFF\xF1\x50\x80\0\0", 6), ContentPartKind::kAudio},  // ADTS AAC
      {std::string("fLaC\0\0\0\x22", 8), ContentPartKind::kAudio},
      {std::string("OggS\0\x02\0\0", 8), ContentPartKind::kAudio},
      {std::string("#!AMR\n", 6), ContentPartKind::kAudio},
      {std::string("\0\0\0\x20" "ftypM4A \0\0\0\0", 16), ContentPartKind::kAudio},
      {std::string("\0\0\0\x18" "ftypisom\0\0\0\0", 16), ContentPartKind::kVideo},
      {std::string("\0\0\0\x14" "ftypqt  \0\0\0\0", 16), ContentPartKind::kVideo},
      {std::string("\x1A\x45\xDF\xA3\x9F\x42\x86\x81", 8), ContentPartKind::kVideo},
      {std::string("RIFF\x24\0\0\0AVI LIST", 16), ContentPartKind::kVideo},
      {std::string("\0\0\0\x1C" "ftypheic\0\0\0\0", 16), ContentPartKind::kImage},
      {std::string("\0\0\0\x1C" "ftypavif\0\0\0\0", 16), ContentPartKind::kImage},
      {std::string("RIFF\x24\0\0\0WEBPVP8 ", 16), ContentPartKind::kImage},
      {std::string("\x89PNG\r\n\x1a\n", 8), ContentPartKind::kImage},
      {std::string("\xFF\xD8\xFF\xE0\0\x10JFIF", 10), ContentPartKind::kImage},
      {std::string("GIF89a", 6), ContentPartKind::kImage},
      {std::string("BM", 2), ContentPartKind::kImage},
      {std::string("RIFF", 4), ContentPartKind::kImage},     // too short to say: left to the decoder, no crash
      {std::string("\0\0\0\0ftyp", 8), ContentPartKind::kVideo},  // no brand at all
      {std::string("x", 1), ContentPartKind::kImage},
  };
  std::string images;
  for (const Sample& s : samples) images += (images.empty() ? "\"" : ",\"") + encode_base64(s.bytes) + "\"";
  const std::string chat = R"({"model":"m","messages":[{"role":"user","content":"?","images":[)" + images + "]}]}";
  const std::string generate = R"({"model":"m","prompt":"?","images":[)" + images + "]}";
  for (const std::string& body : {chat, generate}) {
    ParseResult pr = body == chat ? parse_ollama_chat(OrderedJson::parse(body)) : parse_ollama_generate(OrderedJson::parse(body));
    ASSERT_TRUE(pr.ok()) << pr.error->message;
    const ApiRequest& r = pr.request;
    ASSERT_EQ(r.media.size(), std::size(samples));
    const auto& parts = r.conversation.messages.back().parts;
    for (size_t i = 0; i < std::size(samples); ++i) {
      EXPECT_EQ(r.media[i].kind, samples[i].kind) << i;
      EXPECT_EQ(parts[r.media[i].part].kind, samples[i].kind) << i;
      EXPECT_EQ(r.media[i].bytes, samples[i].bytes) << i;
    }
  }
}

TEST(OllamaChat, MediaOptions) {
  ApiRequest none = chat_ok(R"({"model":"m","messages":[],"options":{"temperature":0.5}})");
  EXPECT_EQ(none.media_options, MediaOptions{});
  ApiRequest r = chat_ok(R"({"model":"m","messages":[],"options":{"image_tokens":1120,"image_size_rule":"google",
      "video_frames":8.9,"video_frame_tokens":70,"video_audio":true,"video_layout":"google","image_tokens_typo":1}})");
  EXPECT_EQ(r.media_options.image_tokens, 1120);
  EXPECT_EQ(r.media_options.image_size_rule, MediaOptions::SizeRule::kGoogle);
  EXPECT_EQ(r.media_options.video_frames, 8);  // Ollama's integer options truncate a fraction
  EXPECT_EQ(r.media_options.video_frame_tokens, 70);
  EXPECT_EQ(r.media_options.video_audio, true);
  EXPECT_EQ(r.media_options.video_layout, MediaOptions::VideoLayout::kGoogle);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0], "options.image_tokens_typo: unknown option, ignored");
  // The budget is checked against the rule whatever the key order, and on generate too.
  ApiRequest l = generate_ok(R"({"model":"m","prompt":"p","options":{"image_tokens":500,"image_size_rule":"llama.cpp",
      "video_frame_tokens":71,"video_layout":"llama.cpp","video_audio":false}})");
  EXPECT_EQ(l.media_options.image_tokens, 500);
  EXPECT_EQ(l.media_options.image_size_rule, MediaOptions::SizeRule::kLlamaCpp);
  EXPECT_EQ(l.media_options.video_frame_tokens, 71);
  EXPECT_EQ(l.media_options.video_audio, false);
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[],"options":{"image_tokens":500}})"),
            "options.image_tokens: expected 70, 140, 280, 560 or 1120 (the size rule is google; llama.cpp's takes any of "
            "70..1120), found 500");
  EXPECT_EQ(generate_error(R"({"model":"m","prompt":"p","options":{"image_tokens":2000,"image_size_rule":"llama.cpp"}})"),
            "options.image_tokens: expected an integer in [70, 1120] (the size rule is llama.cpp), found 2000");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[],"options":{"video_frames":100}})"),
            "options.video_frames: expected an integer in [1, 64], found 100");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[],"options":{"video_frames":-3}})"),
            "options.video_frames: expected an integer in [1, 64], found -3");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[],"options":{"video_frame_tokens":71}})"),
            "options.video_frame_tokens: expected 70, 140, 280, 560 or 1120 (the video layout is google; llama.cpp's "
            "takes any of 70..1120), found 71");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[],"options":{"image_size_rule":"bicubic"}})"),
            "options.image_size_rule: expected \"google\" or \"llama.cpp\", found string \"bicubic\"");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[],"options":{"video_layout":1}})"),
            "options.video_layout: expected \"google\" or \"llama.cpp\", found number 1");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[],"options":{"video_audio":1}})"),
            "options.video_audio: expected true or false, found number 1");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[],"options":{"image_tokens":"big"}})"),
            "options.image_tokens: expected an integer (a JSON number), found string \"big\"");
  ParseResult e = parse_ollama_chat(J(R"({"model":"m","messages":[],"options":{"video_frames":0}})"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error->param, "options.video_frames");
}

TEST(OllamaChat, BadBase64IsAClearError) {
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[{"role":"user","content":"x","images":["aGVsbG8=","aGV%bG8="]}]})"),
            "messages[0].images[1]: expected standard base64 (A-Z a-z 0-9 + /, '=' padded), found invalid character "
            "'%' at offset 3");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[{"role":"user","content":"x","images":["data:image/png;base64,aGVs"]}]})"),
            "messages[0].images[0]: expected standard base64 (A-Z a-z 0-9 + /, '=' padded), found invalid character "
            "':' at offset 4");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[{"role":"user","content":"x","images":[""]}]})"),
            "messages[0].images[0]: expected media bytes in base64, found an empty string");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[{"role":"user","content":"x","images":[12]}]})"),
            "messages[0].images[0]: expected a base64 string, found number 12");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[{"role":"user","content":"x","images":"aGVs"}]})"),
            "messages[0].images: expected an array of base64 strings, found string \"aGVs\"");
}

TEST(OllamaChat, ThinkValues) {
  auto think = [](const char* v) {
    return chat_ok((std::string(R"({"model":"m","messages":[],"think":)") + v + "}").c_str()).think;
  };
  EXPECT_EQ(think("true").mode, Think::Mode::kOn);
  EXPECT_EQ(think("true").level, "medium");
  EXPECT_EQ(think("false").mode, Think::Mode::kOff);
  EXPECT_EQ(think("false").level, "");
  for (const char* level : {"low", "medium", "high", "max"}) {
    const Think t = think((std::string("\"") + level + "\"").c_str());
    EXPECT_EQ(t.mode, Think::Mode::kOn);
    EXPECT_EQ(t.level, level);
  }
  EXPECT_EQ(think("null").mode, Think::Mode::kUnset);
  EXPECT_EQ(chat_error(R"({"model":"m","think":"extreme"})"),
            "think: expected true, false, \"low\", \"medium\", \"high\" or \"max\", found string \"extreme\"");
  EXPECT_EQ(chat_error(R"({"model":"m","think":1})"),
            "think: expected true, false, \"low\", \"medium\", \"high\" or \"max\", found number 1");
}

TEST(OllamaChat, FormatJsonOrSchema) {
  EXPECT_EQ(chat_ok(R"({"model":"m","format":"json"})").format.kind, Format::Kind::kJsonObject);
  EXPECT_EQ(chat_ok(R"({"model":"m","format":""})").format.kind, Format::Kind::kNone);
  ApiRequest r = chat_ok(R"({"model":"m","format":{"type":"object","properties":{"z":{"type":"string"},"a":{"type":"integer"}}}})");
  EXPECT_EQ(r.format.kind, Format::Kind::kJsonSchema);
  EXPECT_EQ(r.format.schema.dump(), R"({"type":"object","properties":{"z":{"type":"string"},"a":{"type":"integer"}}})");
  EXPECT_EQ(chat_error(R"({"model":"m","format":"xml"})"),
            "format: expected \"json\" or a JSON Schema object, found string \"xml\"");
}

TEST(OllamaChat, OptionsKeepAliveAndFlags) {
  ApiRequest r = chat_ok(R"({"model":"m","messages":[],"options":{"temperature":0.2,"num_ctx":8192,"stop":["x"],"bogus":1},
      "keep_alive":"10m","truncate":false,"shift":false,"logprobs":true,"top_logprobs":5})");
  EXPECT_FLOAT_EQ(r.options.temperature, 0.2f);
  EXPECT_EQ(r.options.num_ctx, 8192);
  EXPECT_EQ(r.options.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(r.warnings, std::vector<std::string>{"options.bogus: unknown option, ignored"});
  EXPECT_EQ(r.keep_alive, (KeepAlive{false, 600'000}));
  EXPECT_FALSE(r.truncate);
  EXPECT_FALSE(r.shift);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 5);
  EXPECT_TRUE(chat_ok(R"({"model":"m","keep_alive":-1})").keep_alive->forever);
  EXPECT_EQ(chat_ok(R"({"model":"m","keep_alive":300})").keep_alive, (KeepAlive{false, 300'000}));
}

TEST(OllamaChat, ErrorsNameFieldExpectedAndFound) {
  EXPECT_EQ(chat_error(R"([1])"), "request body: expected a JSON object, found an array");
  EXPECT_EQ(chat_error(R"({"messages":[]})"), "model: expected a model name (a non-empty string), found nothing");
  EXPECT_EQ(chat_error(R"({"model":""})"), "model: expected a model name (a non-empty string), found string \"\"");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":{}})"), "messages: expected an array of messages, found an object");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":["hi"]})"), "messages[0]: expected a message object, found string \"hi\"");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[{"content":"hi"}]})"),
            "messages[0].role: expected \"system\", \"developer\", \"user\", \"assistant\" or \"tool\", found nothing");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[{"role":"bot","content":"hi"}]})"),
            "messages[0].role: expected \"system\", \"developer\", \"user\", \"assistant\" or \"tool\", found string \"bot\"");
  EXPECT_EQ(chat_error(R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]})"),
            "messages[0].content: expected a string, found an array");
  EXPECT_EQ(chat_error(R"({"model":"m","stream":"yes"})"), "stream: expected true or false, found string \"yes\"");
  EXPECT_EQ(chat_error(R"({"model":"m","top_logprobs":21})"), "top_logprobs: expected an integer in [0, 20], found number 21");
  EXPECT_EQ(chat_error(R"({"model":"m","top_logprobs":1.5})"), "top_logprobs: expected an integer, found number 1.5");
  EXPECT_EQ(chat_error(R"({"model":"m","options":{"top_p":1.5}})"), "options.top_p must be in [0, 1], got 1.5");
  EXPECT_EQ(chat_error(R"({"model":"m","tools":{}})"), "tools: expected an array of tools, found an object");
  EXPECT_EQ(chat_error(R"({"model":"m","tools":[{"type":"function","function":{"description":"x"}}]})"),
            "tools[0].function.name: expected a non-empty string, found nothing");
  EXPECT_EQ(chat_error(R"({"model":"m","tools":[{"type":"retrieval","function":{"name":"f"}}]})"),
            "tools[0].type: expected \"function\", found string \"retrieval\"");
  EXPECT_EQ(chat_error(R"({"model":"m","tools":[{"function":{"name":"f","parameters":"{}"}}]})"),
            "tools[0].function.parameters: expected a JSON Schema object, found string \"{}\"");
}

TEST(OllamaChat, ErrorsCarryTheParam) {
  ParseResult r = parse_ollama_chat(J(R"({"model":"m","options":{"num_ctx":"big"}})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->param, "options.num_ctx");
  EXPECT_EQ(r.error->http_status, 400);
}

TEST(OllamaGenerate, PromptIsTemplatedAsOneUserTurnWithSystem) {
  ApiRequest r = generate_ok(R"({"model":"m","prompt":"Why is the sky blue?","system":"Be brief.","suffix":"END"})");
  EXPECT_EQ(r.api, Api::kOllamaGenerate);
  EXPECT_TRUE(r.stream);
  EXPECT_FALSE(r.raw);
  EXPECT_FALSE(r.load_only);
  EXPECT_EQ(r.prompt, "Why is the sky blue?");
  EXPECT_EQ(r.system, "Be brief.");
  EXPECT_EQ(r.suffix, "END");
  ASSERT_EQ(r.conversation.messages.size(), 2u);
  EXPECT_EQ(r.conversation.messages[0].role, ChatRole::kSystem);
  EXPECT_EQ(r.conversation.messages[0].text, "Be brief.");
  EXPECT_EQ(r.conversation.messages[1].role, ChatRole::kUser);
  EXPECT_EQ(r.conversation.messages[1].text, "Why is the sky blue?");
  EXPECT_EQ(generate_ok(R"({"model":"m","prompt":"p"})").conversation.messages.size(), 1u);
}

TEST(OllamaGenerate, RawKeepsThePromptOutOfTheConversation) {
  const std::string body = R"({"model":"m","prompt":"<start>raw","raw":true,"context":[1,2,3],"images":[")" +
                           encode_base64("\x89PNG....") + R"("]})";
  ParseResult pr = parse_ollama_generate(OrderedJson::parse(body));
  ASSERT_TRUE(pr.ok()) << pr.error->message;
  EXPECT_TRUE(pr.request.raw);
  EXPECT_EQ(pr.request.prompt, "<start>raw");
  EXPECT_TRUE(pr.request.conversation.messages.empty());
  EXPECT_EQ(pr.request.context, (std::vector<int32_t>{1, 2, 3}));
  ASSERT_EQ(pr.request.media.size(), 1u);
  EXPECT_EQ(pr.request.media[0].message, MediaInput::kInPrompt);
}

TEST(OllamaGenerate, ImagesGoIntoTheUserTurn) {
  const std::string body = R"({"model":"m","prompt":"describe","images":[")" + encode_base64("\x89PNG....") + R"("]})";
  ParseResult pr = parse_ollama_generate(OrderedJson::parse(body));
  ASSERT_TRUE(pr.ok());
  const auto& user = pr.request.conversation.messages.at(0);
  ASSERT_EQ(user.parts.size(), 2u);
  EXPECT_EQ(user.parts[0].kind, ContentPartKind::kImage);
  EXPECT_EQ(user.parts[1].text, "describe");
  EXPECT_EQ(pr.request.media.at(0).message, 0u);
  EXPECT_EQ(pr.request.media.at(0).part, 0u);
}

TEST(OllamaGenerate, EmptyPromptLoadsOrUnloads) {
  ApiRequest load = generate_ok(R"({"model":"m"})");
  EXPECT_TRUE(load.load_only);
  EXPECT_TRUE(load.conversation.messages.empty());
  ApiRequest unload = generate_ok(R"({"model":"m","prompt":"","keep_alive":0})");
  EXPECT_TRUE(unload.load_only);
  EXPECT_TRUE(unload.keep_alive->unload_now());
}

TEST(OllamaGenerate, Errors) {
  EXPECT_EQ(generate_error(R"({"model":"m","prompt":["a"]})"), "prompt: expected a string, found an array");
  EXPECT_EQ(generate_error(R"({"model":"m","raw":"true"})"), "raw: expected true or false, found string \"true\"");
  EXPECT_EQ(generate_error(R"({"model":"m","context":[1,-2]})"),
            "context[1]: expected a token id (a non-negative integer), found number -2");
  EXPECT_EQ(generate_error(R"({"model":"m","context":"1,2"})"), "context: expected an array of token ids, found string \"1,2\"");
  EXPECT_EQ(generate_error(R"({"model":"m","prompt":"p","keep_alive":"forever"})"),
            "keep_alive: expected a duration (\"5m\", \"1h30m\", \"300ms\"), a number of seconds, or -1 for forever, found "
            "string \"forever\"");
  EXPECT_EQ(generate_error(R"({"model":"m","prompt":"p","options":{"num_predict":"10"}})"),
            "options.num_predict: expected an integer (a JSON number), found string \"10\"");
}

}  // namespace
}  // namespace locus::server
