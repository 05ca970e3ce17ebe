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

// Ollama's Logprob: {token, logprob, bytes, top_logprobs} with top_logprobs omitted when empty (omitempty).
Json logprob_entry_json(const TokenLogprobEntry& e) {
  Json j = wire_logprob_json(e.chosen);
  if (!e.top.empty()) {
    Json top = Json::array();
    for (const auto& t : e.top) top.push_back(wire_logprob_json(t));
    j["top_logprobs"] = std::move(top);
  }
  return j;
}

// One writer for /api/chat and /api/generate: they differ only in where the text goes (message.content or
// response) and in generate's context.
class OllamaWriter final : public ResponseWriter {
 public:
  OllamaWriter(const ApiRequest& request, WriterConfig config)
      : chat_(request.api == Api::kOllamaChat),
        stream_(request.stream),
        // top_logprobs alone turns them on too, as it does in the runtime (GenerateRequest).
        want_logprobs_(request.logprobs || request.top_logprobs > 0),
        config_(std::move(config)) {}

  void logprobs(std::span<const TokenLogprobEntry> entries) override {
    if (finished_ || !want_logprobs_) return;
    for (const auto& e : entries) logprobs_.push_back(logprob_entry_json(e));
  }

  std::string text(std::string_view t) override {
    if (finished_ || t.empty()) return {};
    if (!stream_) {
      content_ += t;
      return {};
    }
    return line(with_logprobs(chunk(t, {}, nullptr)));
  }

  std::string thinking(std::string_view t) override {
    if (finished_ || t.empty()) return {};
    if (!stream_) {
      thinking_ += t;
      return {};
    }
    return line(with_logprobs(chunk({}, t, nullptr)));
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
    return line(with_logprobs(chunk({}, {}, &calls)));
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
    // Streaming: the tokens no earlier chunk carried (held-back text); not streaming: all of them.
    with_logprobs(j);
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

  // Moves the pending logprobs onto `j` (omitempty: nothing when there are none).
  Json& with_logprobs(Json& j) {
    if (!logprobs_.empty()) {
      j["logprobs"] = std::move(logprobs_);
      logprobs_ = Json::array();
    }
    return j;
  }
  Json with_logprobs(Json&& j) { return std::move(with_logprobs(j)); }

  std::string line(const Json& j) {
    started_ = true;
    // A non-streamed answer is one JSON object; a stream is one object per line.
    return dump(j) + (stream_ ? "\n" : "");
  }

  bool chat_;
  bool stream_;
  bool want_logprobs_;
  WriterConfig config_;
  uint32_t n_calls_ = 0;
  std::string content_;  // non-streaming: the whole answer so far
  std::string thinking_;
  Json calls_ = Json::array();
  Json logprobs_ = Json::array();  // streaming: not yet sent; not streaming: the whole answer's
};

}  // namespace

std::unique_ptr<ResponseWriter> make_ollama_writer(const ApiRequest& request, WriterConfig config) {
  return std::make_unique<OllamaWriter>(request, std::move(config));
}

}  // namespace locus::server
