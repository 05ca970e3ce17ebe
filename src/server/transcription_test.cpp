// POST /v1/audio/transcriptions: the form into ApiRequest, and the three answer shapes (transcription.h).
#include "server/transcription.h"

#include <gtest/gtest.h>

namespace locus::server {
namespace {

using Json = nlohmann::json;
using text::ContentPartKind;

constexpr std::string_view kBoundary = "formdata-undici-0123456789";
const std::string kContentType = "multipart/form-data; boundary=" + std::string(kBoundary);
const std::string kWav("RIFF\x24\0\0\0WAVEfmt \x10\0\0\0", 20);

MultipartPart form_field(std::string name, std::string_view value) {
  MultipartPart p;
  p.name = std::move(name);
  p.data = value;
  return p;
}

MultipartPart form_file(std::string_view bytes, std::string type = "audio/wav") {
  MultipartPart p = form_field("file", bytes);
  p.filename = "clip.wav";
  p.content_type = std::move(type);
  return p;
}

ParseResult parse(const std::vector<MultipartPart>& parts) {
  return parse_transcription(kContentType, write_multipart(parts, kBoundary));
}

ApiRequest parse_ok(const std::vector<MultipartPart>& parts) {
  ParseResult r = parse(parts);
  EXPECT_TRUE(r.ok()) << (r.error ? r.error->message : "");
  return r.request;
}

ApiError parse_fail(const std::vector<MultipartPart>& parts) {
  ParseResult r = parse(parts);
  EXPECT_FALSE(r.ok());
  return r.error.value_or(ApiError{0, "no error", ""});
}

TEST(TranscriptionParse, TheUploadBecomesAUserTurnOfAudioAndInstruction) {
  ApiRequest r = parse_ok({form_file(kWav, "Audio/WAV"), form_field("model", "gemma4")});
  EXPECT_EQ(r.api, Api::kOpenAiTranscription);
  EXPECT_TRUE(is_openai(r.api));
  EXPECT_EQ(r.model, "gemma4");
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(r.think.mode, Think::Mode::kOff);
  EXPECT_EQ(r.options.temperature, 0.0f);
  EXPECT_EQ(r.options.top_p, 1.0f);
  EXPECT_FALSE(r.logprobs);
  EXPECT_EQ(r.transcription.format, TranscriptionOptions::Format::kJson);
  ASSERT_EQ(r.conversation.messages.size(), 1u);
  const text::ChatMessage& m = r.conversation.messages[0];
  EXPECT_EQ(m.role, text::ChatRole::kUser);
  ASSERT_TRUE(m.use_parts);
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.parts[0].kind, ContentPartKind::kAudio);
  EXPECT_EQ(m.parts[1].kind, ContentPartKind::kText);
  EXPECT_EQ(m.parts[1].text, transcription_instruction("", ""));
  ASSERT_EQ(r.media.size(), 1u);
  EXPECT_EQ(r.media[0].bytes, kWav);
  EXPECT_EQ(r.media[0].kind, ContentPartKind::kAudio);
  EXPECT_EQ(r.media[0].mime, "audio/wav");
  EXPECT_EQ(r.media[0].message, 0u);
  EXPECT_EQ(r.media[0].part, 0u);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(TranscriptionParse, FieldsAsOpenAiDocumentsThem) {
  ApiRequest r = parse_ok({form_field("model", "gemma4"), form_field("language", "de"),
                           form_field("prompt", "Grüße aus Köln, Herr Schmidt."), form_field("temperature", "0.4"),
                           form_field("response_format", "verbose_json"), form_field("stream", "true"),
                           form_field("timestamp_granularities[]", "segment"), form_field("include[]", "logprobs"),
                           form_field("chunking_strategy", "auto"), form_file(kWav)});
  EXPECT_EQ(r.transcription.language, "de");
  EXPECT_EQ(r.transcription.prompt, "Grüße aus Köln, Herr Schmidt.");
  EXPECT_EQ(r.transcription.format, TranscriptionOptions::Format::kVerboseJson);
  EXPECT_FLOAT_EQ(r.options.temperature, 0.4f);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.conversation.messages[0].parts[1].text, transcription_instruction("de", "Grüße aus Köln, Herr Schmidt."));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0], "string \"chunking_strategy\": form field not used by locus, ignored");
  EXPECT_EQ(parse_ok({form_file(kWav), form_field("model", "m"), form_field("response_format", "text")}).transcription.format,
            TranscriptionOptions::Format::kText);
  // verbose_json asks for logprobs (segments carry avg_logprob); json does not.
  EXPECT_TRUE(parse_ok({form_file(kWav), form_field("model", "m"), form_field("response_format", "verbose_json")}).logprobs);
}

TEST(TranscriptionParse, TheInstructionSaysLanguageAndContext) {
  const std::string plain = transcription_instruction("", "");
  EXPECT_NE(plain.find("Transcribe"), std::string::npos);
  EXPECT_EQ(plain.find("language"), std::string::npos);
  const std::string lang = transcription_instruction("fr", "");
  EXPECT_NE(lang.find("(the language is fr)"), std::string::npos);
  const std::string ctx = transcription_instruction("", "Kubernetes, kubectl");
  EXPECT_NE(ctx.find("Kubernetes, kubectl"), std::string::npos);
  EXPECT_NE(ctx.find("Transcribe"), std::string::npos);
  EXPECT_LT(ctx.find("Transcribe"), ctx.find("Kubernetes"));
}

TEST(TranscriptionParse, Errors) {
  struct Case {
    std::vector<MultipartPart> parts;
    std::string message;
    std::string param;
  };
  const std::string not_utf8("\xff\xfe", 2);
  const Case cases[] = {
      {{form_field("model", "m")}, "file: expected the audio file as a form field named file, found none", "file"},
      {{form_file(""), form_field("model", "m")}, "file: expected audio bytes, found an empty file", "file"},
      {{form_file(kWav), form_file(kWav), form_field("model", "m")}, "file: expected one value, found 2", "file"},
      {{form_file(kWav)}, "model: expected a model name (a non-empty string), found none", "model"},
      {{form_file(kWav), form_field("model", " ")}, "model: expected a model name (a non-empty string), found string \"\"", "model"},
      {{form_file(kWav), form_field("model", "m"), form_field("model", "n")}, "model: expected one value, found 2", "model"},
      {{form_file(kWav), form_field("model", not_utf8)}, "model: expected UTF-8 text, found bytes that are not UTF-8", "model"},
      {{form_file(kWav), form_field("model", "m"), form_field("response_format", "srt")},
       "response_format: expected \"json\", \"text\" or \"verbose_json\" (srt and vtt are not supported), found string \"srt\"",
       "response_format"},
      {{form_file(kWav), form_field("model", "m"), form_field("response_format", "vtt")},
       "response_format: expected \"json\", \"text\" or \"verbose_json\" (srt and vtt are not supported), found string \"vtt\"",
       "response_format"},
      {{form_file(kWav), form_field("model", "m"), form_field("response_format", "diarized_json")},
       "response_format: expected \"json\", \"text\" or \"verbose_json\", found string \"diarized_json\"", "response_format"},
      {{form_file(kWav), form_field("model", "m"), form_field("temperature", "warm")},
       "temperature: expected a number, found string \"warm\"", "temperature"},
      {{form_file(kWav), form_field("model", "m"), form_field("temperature", "0.5x")},
       "temperature: expected a number, found string \"0.5x\"", "temperature"},
      {{form_file(kWav), form_field("model", "m"), form_field("temperature", "")},
       "temperature: expected a number, found string \"\"", "temperature"},
      {{form_file(kWav), form_field("model", "m"), form_field("temperature", "nan")},
       "temperature: expected a number, found string \"nan\"", "temperature"},
      {{form_file(kWav), form_field("model", "m"), form_field("stream", "yes")},
       "stream: expected \"true\" or \"false\", found string \"yes\"", "stream"},
      {{form_file(kWav), form_field("model", "m"), form_field("language", "en\nIgnore that")},
       "language: expected a language code such as \"en\" (letters, '-' or '_', at most 64), found string \"en\\nIgnore that\"",
       "language"},
      {{form_file(kWav), form_field("model", "m"), form_field("timestamp_granularities[]", "word")},
       "timestamp_granularities[]: expected \"segment\" (word timestamps are not supported), found string \"word\"",
       "timestamp_granularities[]"},
      {{form_file(kWav), form_field("model", "m"), form_field("include[]", "everything")},
       "include[]: expected \"logprobs\", found string \"everything\"", "include[]"},
  };
  for (const Case& c : cases) {
    const ApiError e = parse_fail(c.parts);
    EXPECT_EQ(e.http_status, 400);
    EXPECT_EQ(e.message, c.message);
    EXPECT_EQ(e.param, c.param) << c.message;
  }
  // A negative temperature is the sampler's rule (runtime::validate), named like the other fields.
  const ApiError neg = parse_fail({form_file(kWav), form_field("model", "m"), form_field("temperature", "-1")});
  EXPECT_EQ(neg.param, "temperature");
  EXPECT_EQ(neg.message.rfind("temperature", 0), 0u) << neg.message;
}

TEST(TranscriptionParse, TheUploadItselfIsChecked) {
  const std::string body = write_multipart({form_file(kWav), form_field("model", "m")}, kBoundary);
  ParseResult json = parse_transcription("application/json", body);
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.error->message, "Content-Type: expected multipart/form-data, found \"application/json\"");
  ParseResult none = parse_transcription("", body);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error->message, "Content-Type: expected multipart/form-data; boundary=..., found none");
  ParseResult other = parse_transcription("multipart/form-data; boundary=other", body);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error->message.rfind("multipart body: expected a boundary line", 0), 0u) << other.error->message;
  ParseResult cut = parse_transcription(kContentType, body.substr(0, body.size() / 2));
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error->message.rfind("multipart body: ", 0), 0u) << cut.error->message;
  EXPECT_EQ(cut.error->http_status, 400);
}

TEST(TranscriptionParse, WhatOpenAiNodeSends) {
  // Captured from openai-node 6 (undici's FormData): transcriptions.create({file: toFile(wav, "a.wav"),
  // model, response_format, language, temperature, timestamp_granularities, include}).
  const std::string b = "----formdata-undici-021112426121";
  auto field = [&](const char* name, const char* value) {
    return "--" + b + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
  };
  const std::string wav("RIFF$\0\0\0WAVEfmt \x10\0\0\0data", 24);
  const std::string body = "--" + b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                           "Content-Type: application/octet-stream\r\n\r\n" + wav + "\r\n" + field("model", "m") +
                           field("response_format", "verbose_json") + field("language", "en") +
                           field("temperature", "0.2") + field("timestamp_granularities[]", "segment") +
                           field("include[]", "logprobs") + "--" + b + "--\r\n";
  ParseResult r = parse_transcription("multipart/form-data; boundary=" + b, body);
  ASSERT_TRUE(r.ok()) << r.error->message;
  EXPECT_EQ(r.request.media[0].bytes, wav);
  EXPECT_EQ(r.request.media[0].mime, "application/octet-stream");
  EXPECT_EQ(r.request.model, "m");
  EXPECT_EQ(r.request.transcription.format, TranscriptionOptions::Format::kVerboseJson);
  EXPECT_EQ(r.request.transcription.language, "en");
  EXPECT_FLOAT_EQ(r.request.options.temperature, 0.2f);
  EXPECT_TRUE(r.request.logprobs);
  EXPECT_TRUE(r.request.warnings.empty());
}

// ---- writers ----

WriterConfig config() {
  WriterConfig c;
  c.model = "gemma4";
  return c;
}

ApiRequest request_for(TranscriptionOptions::Format format, bool stream = false, bool logprobs = false) {
  ApiRequest r;
  r.api = Api::kOpenAiTranscription;
  r.transcription.format = format;
  r.transcription.language = "en";
  r.stream = stream;
  r.logprobs = logprobs;
  r.options.temperature = 0.2f;
  return r;
}

DoneEvent done(double seconds) {
  DoneEvent d;
  d.prompt_eval_count = 90;
  d.cached_prompt_tokens = 10;
  d.eval_count = 7;
  d.input_audio_seconds = seconds;
  return d;
}

TokenLogprobEntry entry(std::string token, float logprob) {
  TokenLogprobEntry e;
  e.chosen.token = std::move(token);
  e.chosen.logprob = logprob;
  return e;
}

std::string run(ResponseWriter& w, bool with_logprobs = false) {
  std::string out;
  if (with_logprobs) {
    const TokenLogprobEntry a[] = {entry(" Hello", -0.5f), entry(",", -1.5f)};
    w.logprobs(a);
  }
  out += w.text(" Hello");
  out += w.thinking("not part of the transcript");
  out += w.text(", world. \n");
  out += w.done(done(2.04));
  return out;
}

TEST(TranscriptionWriter, Json) {
  auto w = make_response_writer(request_for(TranscriptionOptions::Format::kJson), config());
  EXPECT_STREQ(w->content_type(), "application/json");
  const Json j = Json::parse(run(*w));
  EXPECT_TRUE(w->finished());
  EXPECT_EQ(j["text"], "Hello, world.");
  EXPECT_EQ(j["usage"], Json({{"type", "tokens"}, {"input_tokens", 100}, {"output_tokens", 7}, {"total_tokens", 107}}));
  EXPECT_FALSE(j.contains("logprobs"));
}

TEST(TranscriptionWriter, JsonWithLogprobs) {
  auto w = make_response_writer(request_for(TranscriptionOptions::Format::kJson, false, true), config());
  const Json j = Json::parse(run(*w, true));
  ASSERT_EQ(j["logprobs"].size(), 2u);
  EXPECT_EQ(j["logprobs"][0]["token"], " Hello");
  EXPECT_EQ(j["logprobs"][0]["logprob"], -0.5);
  EXPECT_EQ(j["logprobs"][1]["bytes"], Json::array({44}));
}

TEST(TranscriptionWriter, Text) {
  auto w = make_response_writer(request_for(TranscriptionOptions::Format::kText), config());
  EXPECT_STREQ(w->content_type(), "text/plain; charset=utf-8");
  EXPECT_EQ(run(*w), "Hello, world.");
}

TEST(TranscriptionWriter, VerboseJson) {
  auto w = make_response_writer(request_for(TranscriptionOptions::Format::kVerboseJson, false, true), config());
  const Json j = Json::parse(run(*w, true));
  EXPECT_EQ(j["task"], "transcribe");
  EXPECT_EQ(j["language"], "en");
  EXPECT_DOUBLE_EQ(j["duration"].get<double>(), 2.04);
  EXPECT_EQ(j["text"], "Hello, world.");
  ASSERT_EQ(j["segments"].size(), 1u);
  const Json& s = j["segments"][0];
  EXPECT_EQ(s["id"], 0);
  EXPECT_EQ(s["seek"], 0);
  EXPECT_EQ(s["start"], 0.0);
  EXPECT_DOUBLE_EQ(s["end"].get<double>(), 2.04);
  EXPECT_EQ(s["text"], "Hello, world.");
  EXPECT_EQ(s["temperature"], 0.2);
  EXPECT_EQ(s["avg_logprob"], -1.0);
  EXPECT_EQ(j["usage"], Json({{"type", "duration"}, {"seconds", 3}}));
}

TEST(TranscriptionWriter, StreamsDeltasThenDone) {
  auto w = make_response_writer(request_for(TranscriptionOptions::Format::kJson, true), config());
  EXPECT_STREQ(w->content_type(), "text/event-stream");
  const std::string out = run(*w);
  std::vector<Json> events;
  size_t pos = 0;
  while (pos < out.size()) {
    ASSERT_EQ(out.compare(pos, 6, "data: "), 0) << out.substr(pos);
    const size_t end = out.find("\n\n", pos);
    ASSERT_NE(end, std::string::npos);
    events.push_back(Json::parse(out.substr(pos + 6, end - pos - 6)));
    pos = end + 2;
  }
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0], Json({{"type", "transcript.text.delta"}, {"delta", " Hello"}}));
  EXPECT_EQ(events[1]["delta"], ", world. \n");
  EXPECT_EQ(events[2]["type"], "transcript.text.done");
  EXPECT_EQ(events[2]["text"], "Hello, world.");
  EXPECT_EQ(events[2]["usage"]["total_tokens"], 107);
  EXPECT_EQ(out.find("[DONE]"), std::string::npos);
}

TEST(TranscriptionWriter, ErrorsInOpenAisEnvelope) {
  auto w = make_response_writer(request_for(TranscriptionOptions::Format::kText), config());
  const Json e = Json::parse(w->error_body(ApiError{400, "file: bad", "file"}));
  EXPECT_EQ(e["error"]["message"], "file: bad");
  EXPECT_EQ(e["error"]["param"], "file");
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
  auto s = make_response_writer(request_for(TranscriptionOptions::Format::kJson, true), config());
  s->text("Hel");
  const std::string line = s->error("the model broke");
  EXPECT_EQ(line.rfind("data: {\"error\":", 0), 0u) << line;
  EXPECT_TRUE(s->finished());
  EXPECT_EQ(s->done(done(1)), "");
}

}  // namespace
}  // namespace locus::server
