// Media over HTTP against the fake Backend, on loopback: POST /v1/audio/transcriptions end to end (every answer
// shape, streaming, errors in OpenAI's envelope), OpenAI content parts and Ollama `images` reaching the backend
// with their bytes, kinds and options, and remote URLs refused before anything is generated.
#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "server/base64.h"
#include "server/http_test_server.h"

namespace locus::server {
namespace {

using namespace testing;

const std::string kWav = [] {
  std::string s("RIFF\x24\x7d\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\0\x10\0data", 40);
  s += std::string(32000, '\x01');  // one second of 16 kHz 16-bit mono
  return s;
}();

class HttpMediaTest : public HttpServerTest {
 protected:
  httplib::Result transcribe(const httplib::MultipartFormDataItems& items) {
    return client_->Post("/v1/audio/transcriptions", items);
  }
  std::optional<ApiRequest> seen() {
    std::lock_guard<std::mutex> lock(backend_.mutex());
    return backend_.last_media_request;
  }
  static httplib::MultipartFormData item(std::string name, std::string content, std::string filename = "",
                                         std::string type = "") {
    return httplib::MultipartFormData{std::move(name), std::move(content), std::move(filename), std::move(type)};
  }
  static httplib::MultipartFormData wav_file() { return item("file", kWav, "clip.wav", "audio/wav"); }
  void expect_openai_error(const httplib::Result& r, int status, const std::string& message, const std::string& param) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    const Json e = Json::parse(r->body);
    EXPECT_EQ(e["error"]["message"], message);
    EXPECT_EQ(e["error"]["param"], param.empty() ? Json() : Json(param));
    EXPECT_EQ(e["error"]["type"], status == 404 ? "not_found_error" : "invalid_request_error");
  }
};

TEST_F(HttpMediaTest, TranscriptionJson) {
  start();
  auto r = transcribe({wav_file(), item("model", "media"), item("language", "en"), item("prompt", "Locus")});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  const Json j = Json::parse(r->body);
  EXPECT_EQ(j["text"], "audio:" + std::to_string(kWav.size()));
  EXPECT_EQ(j["usage"]["type"], "tokens");
  const auto req = seen();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->api, Api::kOpenAiTranscription);
  ASSERT_EQ(req->media.size(), 1u);
  EXPECT_EQ(req->media[0].bytes, kWav);  // byte for byte, NULs and all
  EXPECT_EQ(req->media[0].kind, text::ContentPartKind::kAudio);
  EXPECT_EQ(req->media[0].mime, "audio/wav");
  EXPECT_EQ(req->think.mode, Think::Mode::kOff);
  EXPECT_EQ(req->options.temperature, 0.0f);
  ASSERT_EQ(req->conversation.messages.size(), 1u);
  EXPECT_NE(req->conversation.messages[0].parts[1].text.find("(the language is en)"), std::string::npos);
  EXPECT_NE(req->conversation.messages[0].parts[1].text.find("Locus"), std::string::npos);
}

TEST_F(HttpMediaTest, TranscriptionTextAndVerboseJson) {
  start();
  auto text = transcribe({wav_file(), item("model", "media"), item("response_format", "text")});
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 200);
  EXPECT_EQ(text->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(text->body, "audio:" + std::to_string(kWav.size()));

  auto verbose = transcribe({wav_file(), item("model", "media"), item("response_format", "verbose_json"),
                             item("temperature", "0.25"), item("language", "en")});
  ASSERT_TRUE(verbose);
  EXPECT_EQ(verbose->status, 200) << verbose->body;
  const Json j = Json::parse(verbose->body);
  EXPECT_EQ(j["task"], "transcribe");
  EXPECT_EQ(j["language"], "en");
  const double seconds = static_cast<double>(kWav.size()) / 32000;  // what the fake backend said it decoded
  EXPECT_DOUBLE_EQ(j["duration"].get<double>(), seconds);
  ASSERT_EQ(j["segments"].size(), 1u);
  EXPECT_DOUBLE_EQ(j["segments"][0]["end"].get<double>(), seconds);
  EXPECT_EQ(j["segments"][0]["temperature"], 0.25);
  EXPECT_EQ(j["usage"]["seconds"], 2);
  const auto req = seen();
  ASSERT_TRUE(req);
  EXPECT_TRUE(req->logprobs);
  EXPECT_EQ(req->options.temperature, 0.25f);
}

TEST_F(HttpMediaTest, TranscriptionStream) {
  start();
  auto r = transcribe({wav_file(), item("model", "media"), item("stream", "true")});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  const std::string want_text = "audio:" + std::to_string(kWav.size());
  EXPECT_NE(r->body.find(R"("type":"transcript.text.delta","delta":")" + want_text), std::string::npos) << r->body;
  EXPECT_NE(r->body.find(R"("type":"transcript.text.done","text":")" + want_text), std::string::npos) << r->body;
}

TEST_F(HttpMediaTest, TranscriptionErrorsUseOpenAisEnvelope) {
  start();
  expect_openai_error(transcribe({wav_file(), item("model", "media"), item("response_format", "srt")}), 400,
                      "response_format: expected \"json\", \"text\" or \"verbose_json\" (srt and vtt are not supported), "
                      "found string \"srt\"", "response_format");
  expect_openai_error(transcribe({item("model", "media")}), 400,
                      "file: expected the audio file as a form field named file, found none", "file");
  expect_openai_error(transcribe({wav_file()}), 400, "model: expected a model name (a non-empty string), found none",
                      "model");
  expect_openai_error(transcribe({wav_file(), item("model", "nope")}), 404,
                      "model \"nope\" not found, try pulling it first", "model");
  // Not a form at all.
  auto json = post("/v1/audio/transcriptions", {{"model", "media"}});
  ASSERT_TRUE(json);
  EXPECT_EQ(json->status, 400);
  EXPECT_EQ(Json::parse(json->body)["error"]["message"], "Content-Type: expected multipart/form-data, found \"application/json\"");
  // A form cut short.
  const std::string body = "--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nmedia\r\n--XyZ\r\n"
                           "Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n" + kWav.substr(0, 100);
  auto cut = client_->Post("/v1/audio/transcriptions", body, "multipart/form-data; boundary=XyZ");
  expect_openai_error(cut, 400, "multipart body: expected a boundary after part 2's data, found the end of the body (cut short?)", "");
  // The body limit holds for uploads like every body.
  ServeOptions small;
  small.max_request_bytes = 1000;
  TearDown();
  server_.reset();
  start(small);
  auto big = transcribe({wav_file(), item("model", "media")});
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
}

TEST_F(HttpMediaTest, OpenAiContentPartsReachTheBackend) {
  start();
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  const std::string mp4("\0\0\0\x18" "ftypisom\0\0\0\0", 16);
  const Json body = {
      {"model", "media"},
      {"image_tokens", 560},
      {"video_frames", 8},
      {"video_audio", true},
      {"messages",
       {{{"role", "user"},
         {"content",
          {{{"type", "text"}, {"text", "What is in these?"}},
           {{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64," + encode_base64(png)}, {"detail", "high"}}}},
           {{"type", "input_audio"}, {"input_audio", {{"data", encode_base64(kWav)}, {"format", "wav"}}}},
           {{"type", "video_url"}, {"video_url", {{"url", "data:video/mp4;base64," + encode_base64(mp4)}}}},
           {{"type", "input_video"}, {"input_video", {{"data", encode_base64(mp4)}}}}}}}}}};
  auto r = post("/v1/chat/completions", body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Json::parse(r->body)["choices"][0]["message"]["content"],
            "image:16 audio:" + std::to_string(kWav.size()) + " video:16 video:16");
  const auto req = seen();
  ASSERT_TRUE(req);
  ASSERT_EQ(req->media.size(), 4u);
  EXPECT_EQ(req->media[0].bytes, png);
  EXPECT_EQ(req->media[0].max_tokens, 1120);
  EXPECT_EQ(req->media[1].bytes, kWav);
  EXPECT_EQ(req->media[2].bytes, mp4);
  EXPECT_EQ(req->media_options.image_tokens, 560);
  EXPECT_EQ(req->media_options.video_frames, 8);
  EXPECT_EQ(req->media_options.video_audio, true);
}

TEST_F(HttpMediaTest, OllamaImagesCarryAudioToo) {
  start();
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  auto chat = post("/api/chat", {{"model", "media"},
                                 {"stream", false},
                                 {"options", {{"image_tokens", 140}}},
                                 {"messages", {{{"role", "user"}, {"content", "Listen and look"},
                                                {"images", {encode_base64(kWav), encode_base64(png)}}}}}});
  ASSERT_TRUE(chat);
  ASSERT_EQ(chat->status, 200) << chat->body;
  EXPECT_EQ(Json::parse(chat->body)["message"]["content"], "audio:" + std::to_string(kWav.size()) + " image:16");
  auto req = seen();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->media_options.image_tokens, 140);
  EXPECT_EQ(req->media[0].kind, text::ContentPartKind::kAudio);
  EXPECT_EQ(req->conversation.messages[0].parts[0].kind, text::ContentPartKind::kAudio);

  auto gen = post("/api/generate", {{"model", "media"}, {"stream", false}, {"prompt", "Transcribe"},
                                    {"images", {encode_base64(kWav)}}});
  ASSERT_TRUE(gen);
  ASSERT_EQ(gen->status, 200) << gen->body;
  EXPECT_EQ(Json::parse(gen->body)["response"], "audio:" + std::to_string(kWav.size()));

  auto bad = post("/api/chat", {{"model", "media"}, {"options", {{"video_frames", 99}}},
                                {"messages", {{{"role", "user"}, {"content", "x"}}}}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(Json::parse(bad->body)["error"], "options.video_frames: expected an integer in [1, 64], found 99");
}

TEST_F(HttpMediaTest, RemoteAndFileUrlsAreRefusedBeforeTheBackend) {
  start();
  auto chat = [&](const Json& part) {
    return post("/v1/chat/completions",
                {{"model", "media"}, {"messages", {{{"role", "user"}, {"content", {part}}}}}});
  };
  const std::string p = "messages[0].content[0].image_url.url";
  expect_openai_error(chat({{"type", "image_url"}, {"image_url", {{"url", "https://example.com/cat.png"}}}}), 400,
                      p + ": expected a data: URI with the bytes in base64, found an http(s) URL (this server does not "
                          "fetch media; it would with LOCUS_ALLOW_MEDIA_URLS=1)", p);
  expect_openai_error(chat({{"type", "image_url"}, {"image_url", {{"url", "file:///etc/passwd"}}}}), 400,
                      p + ": expected a data: URI with the bytes in base64, found a file: URL (a request never makes the "
                          "server read a file)", p);
  const std::string v = "messages[0].content[0].video_url.url";
  expect_openai_error(chat({{"type", "video_url"}, {"video_url", {{"url", "http://127.0.0.1:1/v.mp4"}}}}), 400,
                      v + ": expected a data: URI with the bytes in base64, found an http(s) URL (this server does not "
                          "fetch media; it would with LOCUS_ALLOW_MEDIA_URLS=1)", v);
  EXPECT_FALSE(seen());  // nothing reached the backend
}

TEST_F(HttpMediaTest, UrlsAreFetchedWhenTheServerAllowsIt) {
  httplib::Server media;
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  media.Get("/cat.png", [&](const httplib::Request&, httplib::Response& res) { res.set_content(png, "image/png"); });
  media.Get("/clip", [&](const httplib::Request&, httplib::Response& res) { res.set_content(kWav, "audio/wav"); });
  media.Get("/slow.png", [&](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(400ms);
    res.set_content(png, "image/png");
  });
  const int port = media.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread media_thread([&] { media.listen_after_bind(); });
  while (!media.is_running()) std::this_thread::sleep_for(1ms);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);

  ServeOptions o;
  o.allow_media_urls = true;
  o.media_urls_allow_loopback_for_tests = true;
  start(o);
  auto chat = [&](const Json& content) {
    return post("/v1/chat/completions", {{"model", "media"}, {"messages", {{{"role", "user"}, {"content", content}}}}});
  };
  auto r = chat({{{"type", "image_url"}, {"image_url", {{"url", base + "/cat.png"}, {"detail", "low"}}}},
                 {{"type", "input_video"}, {"input_video", {{"url", base + "/clip"}}}},
                 {{"type", "text"}, {"text", "and?"}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto req = seen();
  ASSERT_TRUE(req);
  ASSERT_EQ(req->media.size(), 2u);
  EXPECT_EQ(req->media[0].bytes, png);
  EXPECT_EQ(req->media[0].mime, "image/png");
  EXPECT_EQ(req->media[0].max_tokens, 70);
  EXPECT_TRUE(req->media[0].url.empty());
  EXPECT_EQ(req->media[1].bytes, kWav);
  EXPECT_EQ(req->media[1].mime, "audio/wav");

  const std::string p = "messages[0].content[0].image_url.url";
  expect_openai_error(chat({{{"type", "image_url"}, {"image_url", {{"url", base + "/nothing.png"}}}}}), 400,
                      p + ": could not fetch " + base + "/nothing.png: the server answered HTTP 404", p);
  // All of a request's fetched media count against the body limit together.
  TearDown();
  server_.reset();
  o.max_request_bytes = kWav.size() + 10;
  start(o);
  expect_openai_error(chat({{{"type", "image_url"}, {"image_url", {{"url", base + "/cat.png"}}}},
                            {{"type", "image_url"}, {"image_url", {{"url", base + "/clip"}}}}}),
                      400, "messages[0].content[1].image_url.url: could not fetch " + base +
                               "/clip: the media is larger than the limit of " + std::to_string(kWav.size() + 10 - 16) +
                               " bytes (LOCUS_MAX_REQUEST_BYTES)", "messages[0].content[1].image_url.url");
  // The time limit holds for all of a request's URLs together: two answers of 400 ms do not fit in 600.
  TearDown();
  server_.reset();
  o.max_request_bytes = ServeOptions().max_request_bytes;
  o.media_url_timeout = 600ms;
  start(o);
  r = chat({{{"type", "image_url"}, {"image_url", {{"url", base + "/slow.png"}}}},
            {{"type", "image_url"}, {"image_url", {{"url", base + "/slow.png"}}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  const std::string message = Json::parse(r->body)["error"]["message"];
  EXPECT_EQ(message.rfind("messages[0].content[1].image_url.url: could not fetch " + base + "/slow.png: no complete "
                          "answer within ", 0), 0u) << message;
  // Without the test switch, loopback is out of reach like any private address.
  TearDown();
  server_.reset();
  o = ServeOptions();
  o.allow_media_urls = true;
  start(o);
  expect_openai_error(chat({{{"type", "image_url"}, {"image_url", {{"url", base + "/cat.png"}}}}}), 400,
                      p + ": could not fetch " + base + "/cat.png: its host is at 127.0.0.1, a loopback address (media "
                          "is fetched only from public addresses)", p);
  media.stop();
  media_thread.join();
}

}  // namespace
}  // namespace locus::server
