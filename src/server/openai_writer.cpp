#include "server/openai_writer.h"

#include <nlohmann/json.hpp>

namespace locus::server {

namespace {

using Json = nlohmann::ordered_json;

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string sse(const Json& j) { return "data: " + dump(j) + "\n\n"; }

// Arguments re-serialized compactly with the model's key order; the output parser only emits objects.
std::string arguments_text(std::string_view text) {
  const Json args = Json::parse(text, nullptr, false);
  if (args.is_discarded()) return std::string(text);
  return dump(args);
}

Json usage_json(const DoneEvent& d) {
  Json u;
  // OpenAI counts the whole prompt and says in the details how much of it came from the cache; Ollama's
  // prompt_eval_count is only what was evaluated.
  const int64_t prompt = static_cast<int64_t>(d.prompt_eval_count) + d.cached_prompt_tokens;
  u["prompt_tokens"] = prompt;
  u["completion_tokens"] = d.eval_count;
  u["total_tokens"] = prompt + d.eval_count;
  u["prompt_tokens_details"] = Json{{"cached_tokens", d.cached_prompt_tokens}};
  u["completion_tokens_details"] = Json{{"reasoning_tokens", d.reasoning_tokens}};
  return u;
}


// Characters (UTF-8 code points) in `text`, counting a split character where its first byte is.
int64_t count_chars(std::string_view text) {
  int64_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Chat completions and legacy text completions share ids, usage and the SSE framing; they differ in the
// object names and in where text goes (choices[].delta / message vs choices[].text).
//
// Streaming guarantees openai-node 7.x's ChatCompletionStream checks (api-compat.md §2.9): the first chunk
// goes out before anything else (so even an empty answer has chunks), every chunk has the same id and
// created and one choice with index 0, and each tool call is one delta carrying its index, id, type and name
// with the whole arguments string, so a call's identity never changes across deltas.
class OpenAiWriter final : public ResponseWriter {
 public:
  OpenAiWriter(const ApiRequest& request, WriterConfig config)
      : chat_(request.api == Api::kOpenAiChat),
        stream_(request.stream),
        include_usage_(request.include_usage),
        want_logprobs_(request.logprobs),
        config_(std::move(config)) {}

  // Chat: choices[].logprobs.content entries. Legacy completions: the parallel arrays tokens, token_logprobs,
  // top_logprobs ({token: logprob} objects) and text_offset (characters of the generated tokens before each).
  void logprobs(std::span<const TokenLogprobEntry> entries) override {
    if (finished_ || !want_logprobs_) return;
    for (const auto& e : entries) {
      if (chat_) {
        // {token, logprob, bytes, top_logprobs}: top_logprobs always there (empty for top_logprobs 0).
        Json j = wire_logprob_json(e.chosen);
        Json top = Json::array();
        for (const auto& t : e.top) top.push_back(wire_logprob_json(t));
        j["top_logprobs"] = std::move(top);
        lp_["content"].push_back(std::move(j));
        continue;
      }
      lp_["tokens"].push_back(e.chosen.token);
      lp_["token_logprobs"].push_back(wire_logprob(e.chosen.logprob));
      Json top = Json::object();
      for (const auto& t : e.top) {
        if (!top.contains(t.token)) top[t.token] = wire_logprob(t.logprob);  // the likelier of equal texts
      }
      lp_["top_logprobs"].push_back(std::move(top));
      lp_["text_offset"].push_back(text_offset_);
      text_offset_ += count_chars(e.chosen.token);
    }
  }

  std::string text(std::string_view t) override {
    if (finished_ || t.empty()) return {};
    if (!stream_) {
      content_ += t;
      return {};
    }
    if (!chat_) return send(choice_chunk(Json(std::string(t)), nullptr, take_logprobs()));
    Json delta;
    delta["content"] = std::string(t);
    return send(choice_chunk(delta, nullptr, take_logprobs()));
  }

  // Thinking is the `reasoning` extension field (Ollama's and vLLM's name); legacy completions have no place
  // for it and drop it.
  std::string thinking(std::string_view t) override {
    if (finished_ || t.empty() || !chat_) return {};
    if (!stream_) {
      reasoning_ += t;
      return {};
    }
    Json delta;
    delta["reasoning"] = std::string(t);
    return send(choice_chunk(delta, nullptr, take_logprobs()));
  }

  std::string tool_call(std::string_view name, std::string_view arguments) override {
    if (finished_ || !chat_) return {};
    Json call;
    if (stream_) call["index"] = n_calls_;
    call["id"] = make_tool_call_id(config_.tool_call_seed, n_calls_);
    call["type"] = "function";
    call["function"] = Json{{"name", std::string(name)}, {"arguments", arguments_text(arguments)}};
    ++n_calls_;
    if (!stream_) {
      calls_.push_back(std::move(call));
      return {};
    }
    Json delta;
    delta["tool_calls"] = Json::array({std::move(call)});
    return send(choice_chunk(delta, nullptr, take_logprobs()));
  }

  std::string done(const DoneEvent& d) override {
    if (finished_) return {};
    const char* reason = finish_reason(d.reason);
    if (!stream_) {
      finished_ = true;
      started_ = true;
      return dump(whole_response(reason, d));
    }
    // The finish chunk has an empty delta of its own (Ollama and llama.cpp send it so).
    // It carries the logprobs of tokens whose text never came out (held-back marker or stop-string text).
    std::string out = send(choice_chunk(chat_ ? Json::object() : Json(""), reason, take_logprobs()));
    if (include_usage_) {
      Json j = header();
      j["choices"] = Json::array();
      j["usage"] = usage_json(d);
      out += sse(j);
    }
    out += "data: [DONE]\n\n";
    finished_ = true;
    return out;
  }

  // openai-node raises APIError for a data payload with an `error` key. No [DONE] follows: the stream
  // ends with the error.
  std::string error(std::string_view message) override {
    if (finished_) return {};
    finished_ = true;
    const std::string body = openai_error_body(ApiError{500, std::string(message), ""});
    return stream_ ? "data: " + body + "\n\n" : body;
  }

  const char* content_type() const override { return stream_ ? "text/event-stream" : "application/json"; }
  std::string error_body(const ApiError& error) const override { return openai_error_body(error); }

 private:
  const char* finish_reason(FinishReason r) const {
    if (r == FinishReason::kLength) return "length";
    return n_calls_ > 0 ? "tool_calls" : "stop";
  }

  Json header() const {
    Json j;
    j["id"] = config_.id;
    j["object"] = chat_ ? (stream_ ? "chat.completion.chunk" : "chat.completion") : "text_completion";
    j["created"] = config_.created;
    j["model"] = config_.model;
    j["system_fingerprint"] = config_.system_fingerprint;
    return j;
  }

  // The logprobs gathered since the last chunk, or null when there are none.
  Json take_logprobs() {
    if (lp_.empty()) return Json();
    Json out = std::move(lp_);
    lp_ = Json::object();
    return out;
  }

  // chat: payload is the delta; completions: the text.
  Json choice_chunk(const Json& payload, const char* finish_reason, Json logprobs = Json()) const {
    Json c;
    c["index"] = 0;
    c[chat_ ? "delta" : "text"] = payload;
    c["logprobs"] = std::move(logprobs);
    c["finish_reason"] = finish_reason == nullptr ? Json() : Json(finish_reason);
    Json j = header();
    j["choices"] = Json::array({std::move(c)});
    return j;
  }

  // Every chat stream opens with the assistant role, before any other delta.
  std::string send(const Json& chunk) {
    std::string out;
    if (chat_ && !started_) {
      Json delta;
      delta["role"] = "assistant";
      delta["content"] = "";
      out = sse(choice_chunk(delta, nullptr));
    }
    started_ = true;
    return out + sse(chunk);
  }

  // Non-streaming: null unless asked; chat adds OpenAI's refusal: null.
  Json whole_logprobs() const {
    if (!want_logprobs_) return Json();
    Json lp = lp_;
    if (chat_) {
      if (!lp.contains("content")) lp["content"] = Json::array();
      lp["refusal"] = nullptr;
    } else {
      for (const char* key : {"tokens", "token_logprobs", "top_logprobs", "text_offset"}) {
        if (!lp.contains(key)) lp[key] = Json::array();
      }
    }
    return lp;
  }

  Json whole_response(const char* reason, const DoneEvent& d) const {
    Json c;
    c["index"] = 0;
    if (chat_) {
      Json m;
      m["role"] = "assistant";
      // OpenAI sends null content with tool calls and no text.
      m["content"] = content_.empty() && !calls_.empty() ? Json() : Json(content_);
      if (!reasoning_.empty()) m["reasoning"] = reasoning_;
      if (!calls_.empty()) m["tool_calls"] = calls_;
      c["message"] = std::move(m);
    } else {
      c["text"] = content_;
    }
    c["logprobs"] = whole_logprobs();
    c["finish_reason"] = reason;
    Json j = header();
    j["choices"] = Json::array({std::move(c)});
    j["usage"] = usage_json(d);
    return j;
  }

  bool chat_;
  bool stream_;
  bool include_usage_;
  bool want_logprobs_;
  WriterConfig config_;
  uint32_t n_calls_ = 0;
  std::string content_;  // non-streaming: the whole answer so far
  std::string reasoning_;
  Json calls_ = Json::array();
  // Logprobs not yet sent (streaming) or all of them (not streaming), in the shape choices[].logprobs takes.
  Json lp_ = Json::object();
  int64_t text_offset_ = 0;  // legacy completions: characters of the tokens so far
};

}  // namespace

std::unique_ptr<ResponseWriter> make_openai_writer(const ApiRequest& request, WriterConfig config) {
  return std::make_unique<OpenAiWriter>(request, std::move(config));
}

}  // namespace locus::server
