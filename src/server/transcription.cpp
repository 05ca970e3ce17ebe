#include "server/transcription.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "server/json_fields.h"
#include "server/parse_common.h"
#include "text/utf8.h"

namespace locus::server {

namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kMaxLanguage = 64;

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// A float as the double of its shortest decimal form (0.2, not 0.20000000298023224).
double shortest(float f) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, f);
  double d = f;
  std::from_chars(buf, r.ptr, d);
  return d;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// A form value inside an error message: as a JSON string, cut.
std::string shown(std::string_view v) {
  OrderedJson j = text::sanitize_utf8(v.substr(0, 60));
  return describe_json(&j);
}

[[noreturn]] void fail(const std::string& field, const std::string& expected, std::string_view found) {
  throw FieldError(field, field + ": expected " + expected + ", found " + shown(found));
}

// The form's fields by name, each value a view into the body. Fields that may repeat are the array ones.
struct Form {
  std::map<std::string, std::vector<const MultipartPart*>> fields;
  const MultipartPart* one(const std::string& name) const {
    auto it = fields.find(name);
    if (it == fields.end()) return nullptr;
    if (it->second.size() > 1) {
      throw FieldError(name, name + ": expected one value, found " + std::to_string(it->second.size()));
    }
    return it->second.front();
  }
  // A text field: UTF-8, trimmed; nullopt when absent.
  std::optional<std::string> text(const std::string& name) const {
    const MultipartPart* p = one(name);
    if (p == nullptr) return std::nullopt;
    if (!text::is_valid_utf8(p->data)) {
      throw FieldError(name, name + ": expected UTF-8 text, found bytes that are not UTF-8");
    }
    return std::string(trim(p->data));
  }
};

TranscriptionOptions::Format read_format(const std::optional<std::string>& v) {
  using F = TranscriptionOptions::Format;
  if (!v || *v == "json") return F::kJson;
  if (*v == "text") return F::kText;
  if (*v == "verbose_json") return F::kVerboseJson;
  const bool subtitles = *v == "srt" || *v == "vtt";
  fail("response_format",
       std::string("\"json\", \"text\" or \"verbose_json\"") + (subtitles ? " (srt and vtt are not supported)" : ""), *v);
}

}  // namespace

std::string transcription_instruction(const std::string& language, const std::string& prompt) {
  std::string s = "Transcribe the speech in this audio exactly as it is spoken";
  if (!language.empty()) s += " (the language is " + language + ")";
  s += ". Write only the transcription: no introduction, no notes, no translation.";
  if (!prompt.empty()) {
    s += "\n\nText that came before this audio, which may help with names and spelling:\n" + prompt;
  }
  return s;
}

ParseResult parse_transcription(std::string_view content_type, std::string_view body, const MultipartLimits& limits) {
  return parse_guarded([&](ApiRequest& r) {
    const BoundaryResult b = multipart_boundary(content_type);
    if (!b.error.empty()) throw FieldError("", b.error);
    const MultipartResult m = parse_multipart(body, b.boundary, limits);
    if (!m.ok()) throw FieldError("", m.error);
    Form form;
    for (const MultipartPart& p : m.parts) form.fields[p.name].push_back(&p);

    r.api = Api::kOpenAiTranscription;
    const MultipartPart* file = form.one("file");
    if (file == nullptr) {
      throw FieldError("file", "file: expected the audio file as a form field named file, found none");
    }
    if (file->data.empty()) throw FieldError("file", "file: expected audio bytes, found an empty file");
    const std::optional<std::string> model = form.text("model");
    if (!model) throw FieldError("model", "model: expected a model name (a non-empty string), found none");
    if (model->empty()) fail("model", "a model name (a non-empty string)", *model);
    r.model = *model;

    TranscriptionOptions& t = r.transcription;
    t.format = read_format(form.text("response_format"));
    t.language = form.text("language").value_or("");
    if (t.language.size() > kMaxLanguage ||
        !std::all_of(t.language.begin(), t.language.end(), [](unsigned char c) {
          return std::isalpha(c) || c == '-' || c == '_' || c == ' ';
        })) {
      fail("language", "a language code such as \"en\" (letters, '-' or '_', at most 64)", t.language);
    }
    t.prompt = form.text("prompt").value_or("");

    // OpenAI's defaults for a transcription: temperature 0, top_p 1.
    r.options.temperature = 0.0f;
    r.options.top_p = 1.0f;
    if (const auto v = form.text("temperature")) {
      double x = 0;
      const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
      if (v->empty() || ec != std::errc() || end != v->data() + v->size() || !std::isfinite(x)) {
        fail("temperature", "a number", *v);
      }
      r.options.temperature = static_cast<float>(x);
    }
    check_sampling(r.options, "");
    r.stream = false;
    if (const auto v = form.text("stream")) {
      if (*v != "true" && *v != "false") fail("stream", "\"true\" or \"false\"", *v);
      r.stream = *v == "true";
    }
    r.logprobs = t.format == TranscriptionOptions::Format::kVerboseJson;
    for (const char* name : {"include[]", "include"}) {
      auto it = form.fields.find(name);
      if (it == form.fields.end()) continue;
      for (const MultipartPart* p : it->second) {
        if (p->data != "logprobs") fail(name, "\"logprobs\"", p->data);
        r.logprobs = true;
      }
    }
    for (const char* name : {"timestamp_granularities[]", "timestamp_granularities"}) {
      auto it = form.fields.find(name);
      if (it == form.fields.end()) continue;
      for (const MultipartPart* p : it->second) {
        if (p->data != "segment") fail(name, "\"segment\" (word timestamps are not supported)", p->data);
      }
    }
    static constexpr const char* kKnown[] = {"file", "model", "response_format", "language", "prompt", "temperature",
                                             "stream", "include[]", "include", "timestamp_granularities[]",
                                             "timestamp_granularities"};
    for (const auto& field : form.fields) {
      const std::string& name = field.first;
      if (std::none_of(std::begin(kKnown), std::end(kKnown), [&](const char* k) { return name == k; })) {
        r.warnings.push_back(shown(name) + ": form field not used by locus, ignored");
      }
    }

    r.think.mode = Think::Mode::kOff;
    text::ChatMessage user;
    user.role = text::ChatRole::kUser;
    user.use_parts = true;
    text::ContentPart audio;
    audio.kind = text::ContentPartKind::kAudio;
    user.parts.push_back(audio);
    text::ContentPart instruction;
    instruction.text = transcription_instruction(t.language, t.prompt);
    user.parts.push_back(std::move(instruction));
    r.conversation.messages.push_back(std::move(user));

    MediaInput in;
    in.kind = text::ContentPartKind::kAudio;
    in.message = 0;
    in.part = 0;
    in.bytes = std::string(file->data);
    in.mime = file->content_type;
    for (char& c : in.mime) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.media.push_back(std::move(in));
  });
}

namespace {

class TranscriptionWriter final : public ResponseWriter {
 public:
  TranscriptionWriter(const ApiRequest& request, WriterConfig config)
      : options_(request.transcription),
        stream_(request.stream),
        want_logprobs_(request.logprobs),
        temperature_(request.options.temperature),
        config_(std::move(config)) {}

  std::string text(std::string_view t) override {
    if (finished_ || t.empty()) return {};
    started_ = true;
    text_ += t;
    if (!stream_) return {};
    return sse(Json{{"type", "transcript.text.delta"}, {"delta", std::string(t)}});
  }
  // Thinking is off for transcriptions; a model that thinks anyway does not get it into the transcript.
  std::string thinking(std::string_view) override { return {}; }
  std::string tool_call(std::string_view, std::string_view) override { return {}; }

  void logprobs(std::span<const TokenLogprobEntry> entries) override {
    if (finished_ || !want_logprobs_) return;
    for (const auto& e : entries) {
      logprob_sum_ += e.chosen.logprob;
      ++logprob_count_;
      lp_.push_back(wire_logprob_json(e.chosen));
    }
  }

  std::string done(const DoneEvent& d) override {
    if (finished_) return {};
    finished_ = true;
    started_ = true;
    const std::string text(trim(text_));
    const int64_t input = static_cast<int64_t>(d.prompt_eval_count) + d.cached_prompt_tokens;
    const Json token_usage{{"type", "tokens"},
                           {"input_tokens", input},
                           {"output_tokens", d.eval_count},
                           {"total_tokens", input + d.eval_count}};
    if (stream_) {
      Json j{{"type", "transcript.text.done"}, {"text", text}};
      if (want_logprobs_) j["logprobs"] = lp_;
      j["usage"] = token_usage;
      return sse(j);
    }
    using F = TranscriptionOptions::Format;
    if (options_.format == F::kText) return text;
    if (options_.format == F::kJson) {
      Json j{{"text", text}};
      if (want_logprobs_) j["logprobs"] = lp_;
      j["usage"] = token_usage;
      return dump(j);
    }
    const double duration = d.input_audio_seconds;
    Json segment{{"id", 0}, {"seek", 0}, {"start", 0.0}, {"end", duration}, {"text", text},
                 {"temperature", shortest(temperature_)}};
    if (logprob_count_ > 0) segment["avg_logprob"] = wire_logprob(static_cast<float>(logprob_sum_ / logprob_count_));
    Json j{{"task", "transcribe"},
           {"language", options_.language},
           {"duration", duration},
           {"text", text},
           {"segments", Json::array({segment})},
           {"usage", Json{{"type", "duration"}, {"seconds", static_cast<int64_t>(std::ceil(duration))}}}};
    return dump(j);
  }

  std::string error(std::string_view message) override {
    if (finished_) return {};
    finished_ = true;
    const std::string body = openai_error_body(ApiError{500, std::string(message), ""});
    return stream_ ? "data: " + body + "\n\n" : body;
  }

  const char* content_type() const override {
    if (stream_) return "text/event-stream";
    return options_.format == TranscriptionOptions::Format::kText ? "text/plain; charset=utf-8" : "application/json";
  }
  std::string error_body(const ApiError& error) const override { return openai_error_body(error); }

 private:
  static std::string sse(const Json& j) { return "data: " + dump(j) + "\n\n"; }

  TranscriptionOptions options_;
  bool stream_;
  bool want_logprobs_;
  float temperature_;
  WriterConfig config_;
  std::string text_;
  Json lp_ = Json::array();
  double logprob_sum_ = 0;
  int64_t logprob_count_ = 0;
};

}  // namespace

std::unique_ptr<ResponseWriter> make_transcription_writer(const ApiRequest& request, WriterConfig config) {
  return std::make_unique<TranscriptionWriter>(request, std::move(config));
}

}  // namespace locus::server
