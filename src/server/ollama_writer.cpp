#include "server/ollama_writer.h"

#include <nlohmann/json.hpp>

namespace locus::server {

namespace {

using Json = nlohmann::ordered_json;

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

const char* done_reason(FinishReason r) {
  switch (r) {
    case FinishReason::kLength: return "length";
    case FinishReason::kLoad: return "load";
    case FinishReason::kUnload: return "unload";
    default: return "stop";
  }
}

// Arguments as a JSON object with the model's key order; the output parser only emits objects, so anything
// else is a bug upstream, kept visible as a string rather than dropped.
Json arguments_json(std::string_view text) {
  Json args = Json::parse(text, nullptr, false);
  if (args.is_discarded() || !args.is_object()) return Json(std::string(text));
  return args;
}

// One writer for /api/chat and /api/generate: they differ only in where the text goes (message.content or
// response) and in generate's context.
class OllamaWriter final : public ResponseWriter {
 public:
  OllamaWriter(const ApiRequest& request, WriterConfig config)
      : chat_(request.api == Api::kOllamaChat), stream_(request.stream), config_(std::move(config)) {}

  std::string text(std::string_view t) override {
    if (finished_ || t.empty()) return {};
    if (!stream_) {
      content_ += t;
      return {};
    }
    return line(chunk(t, {}, nullptr));
  }

  std::string thinking(std::string_view t) override {
    if (finished_ || t.empty()) return {};
    if (!stream_) {
      thinking_ += t;
      return {};
    }
    return line(chunk({}, t, nullptr));
  }

  std::string tool_call(std::string_view name, std::string_view arguments) override {
    if (finished_) return {};
    Json call;
    call["id"] = make_tool_call_id(config_.tool_call_seed, n_calls_);
    Json& f = call["function"];
    f["index"] = n_calls_;
    f["name"] = std::string(name);
    f["arguments"] = arguments_json(arguments);
    ++n_calls_;
    if (!stream_) {
      calls_.push_back(std::move(call));
      return {};
    }
    Json calls = Json::array({std::move(call)});
    return line(chunk({}, {}, &calls));
  }

  std::string done(const DoneEvent& d) override {
    if (finished_) return {};
    Json j = stream_ ? chunk({}, {}, nullptr) : chunk(content_, thinking_, calls_.empty() ? nullptr : &calls_);
    j["done"] = true;
    j["done_reason"] = done_reason(d.reason);
    if (!chat_ && !d.context.empty()) j["context"] = d.context;
    // Metrics are omitempty in Ollama's Go structs.
    auto metric = [&](const char* key, int64_t v) {
      if (v != 0) j[key] = v;
    };
    metric("total_duration", d.total_duration_ns);
    metric("load_duration", d.load_duration_ns);
    metric("prompt_eval_count", d.prompt_eval_count);
    metric("prompt_eval_duration", d.prompt_eval_duration_ns);
    metric("eval_count", d.eval_count);
    metric("eval_duration", d.eval_duration_ns);
    finished_ = true;
    return line(j);
  }

  std::string error(std::string_view message) override {
    if (finished_) return {};
    finished_ = true;
    return ollama_error_body(message) + (stream_ ? "\n" : "");
  }

  const char* content_type() const override { return stream_ ? "application/x-ndjson" : "application/json"; }
  std::string error_body(const ApiError& error) const override { return ollama_error_body(error.message); }

 private:
  // A response object with `done:false`; done() changes that. content/response is always present (not
  // omitempty in Go); thinking and tool_calls only when non-empty.
  Json chunk(std::string_view content, std::string_view thinking, const Json* calls) const {
    Json j;
    j["model"] = config_.model;
    j["created_at"] = format_rfc3339_nano(config_.now());
    if (chat_) {
      Json& m = j["message"];
      m["role"] = "assistant";
      m["content"] = std::string(content);
      if (!thinking.empty()) m["thinking"] = std::string(thinking);
      if (calls != nullptr) m["tool_calls"] = *calls;
    } else {
      j["response"] = std::string(content);
      if (!thinking.empty()) j["thinking"] = std::string(thinking);
      if (calls != nullptr) j["tool_calls"] = *calls;
    }
    j["done"] = false;
    return j;
  }

  std::string line(const Json& j) {
    started_ = true;
    // A non-streamed answer is one JSON object; a stream is one object per line.
    return dump(j) + (stream_ ? "\n" : "");
  }

  bool chat_;
  bool stream_;
  WriterConfig config_;
  uint32_t n_calls_ = 0;
  std::string content_;  // non-streaming: the whole answer so far
  std::string thinking_;
  Json calls_ = Json::array();
};

}  // namespace

std::unique_ptr<ResponseWriter> make_ollama_writer(const ApiRequest& request, WriterConfig config) {
  return std::make_unique<OllamaWriter>(request, std::move(config));
}

}  // namespace locus::server
