#include "server/generation_sink.h"

#include <cstdio>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "text/chat_renderer.h"
#include "text/json_grammar.h"

namespace locus::server {
namespace {

std::string tool_name(const nlohmann::json& tool) {
  const nlohmann::json* fn = tool.contains("function") ? &tool["function"] : &tool;
  return fn->contains("name") && (*fn)["name"].is_string() ? (*fn)["name"].get<std::string>() : std::string();
}

class ChannelSink final : public runtime::GenerateSink {
 public:
  ChannelSink(std::shared_ptr<EventChannel> channel, SinkContext ctx)
      : channel_(std::move(channel)), ctx_(std::move(ctx)),
        parser_(ctx_.parser, [this](const text::OutputEvent& e) { on_event(e); }) {}

  void on_text(std::string_view text) override {
    if (ctx_.parse) {
      const bool was_thinking = parser_.in_thinking();
      thinking_out_ = false;
      parser_.push(text);
      // The tokens behind this text (and any whose text was held back before it).
      if (was_thinking || parser_.in_thinking() || thinking_out_) reasoning_tokens_ += unplaced_tokens_;
    } else {
      push(GenerationEvent::Kind::kText, text);
    }
    unplaced_tokens_ = 0;
  }

  // Allocates nothing when logprobs are off; when on, the pending entries' strings and vectors are reused.
  void on_token(int32_t token, const runtime::TokenLogprobs* logprobs) override {
    if (ctx_.keep_context) generated_.push_back(token);
    ++unplaced_tokens_;
    if (logprobs != nullptr && ctx_.token_text) add_logprobs(*logprobs);
  }

  void on_done(const runtime::GenerateResult& result) override {
    if (ctx_.parse && parser_.in_thinking()) reasoning_tokens_ += unplaced_tokens_;  // a thought left open
    unplaced_tokens_ = 0;
    if (ctx_.parse) parser_.finish();
    if (result.reason == runtime::DoneReason::error) {
      push(GenerationEvent::Kind::kError, result.error);
      return;
    }
    // Cancelled is never a finished answer: a client still reading (the server is shutting down) must see an
    // error, not a done line that makes a cut answer look complete. A client that left reads nothing anyway.
    if (result.reason == runtime::DoneReason::cancelled) {
      push(GenerationEvent::Kind::kError, "the request was cancelled: the server is shutting down or the client left");
      return;
    }
    GenerationEvent e;
    e.kind = GenerationEvent::Kind::kDone;
    e.done = done_event_from(result);
    e.done.cached_prompt_tokens = result.prompt_cached_tokens;
    e.done.input_audio_seconds = ctx_.audio_seconds;
    e.done.reasoning_tokens = reasoning_tokens_;
    take_logprobs(e);
    e.done.load_duration_ns = ctx_.load_ns;
    e.done.total_duration_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now() - ctx_.received)
                                   .count();
    if (ctx_.keep_context) {
      e.done.context = std::move(ctx_.context_prefix);
      e.done.context.insert(e.done.context.end(), generated_.begin(), generated_.end());
    }
    channel_->push(std::move(e));
  }

 private:
  void push(GenerationEvent::Kind kind, std::string_view text) {
    if (text.empty() && kind != GenerationEvent::Kind::kError) return;
    GenerationEvent e;
    e.kind = kind;
    e.text = std::string(text);
    if (kind != GenerationEvent::Kind::kError) take_logprobs(e);
    channel_->push(std::move(e));
  }

  void add_logprobs(const runtime::TokenLogprobs& lp) {
    if (n_pending_ == pending_.size()) pending_.emplace_back();
    TokenLogprobEntry& e = pending_[n_pending_++];
    set_wire(e.chosen, lp.chosen);
    const auto top = lp.top();
    e.top.resize(top.size());
    for (size_t i = 0; i < top.size(); ++i) set_wire(e.top[i], top[i]);
  }

  void set_wire(WireLogprob& w, const runtime::TokenLogprob& t) {
    w.token.assign(ctx_.token_text(t.token));
    w.logprob = t.logprob;
  }

  // The pending entries go with `e`; the buffer keeps its capacity for the next ones.
  void take_logprobs(GenerationEvent& e) {
    if (n_pending_ == 0) return;
    e.logprobs.assign(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n_pending_));
    n_pending_ = 0;
  }

  void on_event(const text::OutputEvent& e) {
    switch (e.kind) {
      case text::OutputEventKind::kContent: push(GenerationEvent::Kind::kText, e.text); return;
      case text::OutputEventKind::kThinking:
        thinking_out_ = true;
        push(GenerationEvent::Kind::kThinking, e.text);
        return;
      case text::OutputEventKind::kToolCall: {
        GenerationEvent ev;
        ev.kind = GenerationEvent::Kind::kToolCall;
        ev.name = std::string(e.name);
        ev.arguments = std::string(e.arguments);
        take_logprobs(ev);
        channel_->push(std::move(ev));
        return;
      }
      case text::OutputEventKind::kInvalidToolCall:
      case text::OutputEventKind::kWarning: {
        // Never part of the answer (the parser's rule); the operator sees them in the log.
        nlohmann::ordered_json j = {{"event", e.kind == text::OutputEventKind::kWarning ? "model_output_warning"
                                                                                        : "invalid_tool_call"},
                                    {"model", ctx_.model},
                                    {"message", std::string(e.text)}};
        if (!e.raw.empty()) j["raw"] = std::string(e.raw.substr(0, 512));
        const std::string s = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
        std::fwrite(s.data(), 1, s.size(), stderr);
        return;
      }
    }
  }

  std::shared_ptr<EventChannel> channel_;
  SinkContext ctx_;
  text::OutputParser parser_;
  std::vector<int32_t> generated_;
  int32_t unplaced_tokens_ = 0;   // tokens reported whose text has not reached the parser yet
  int32_t reasoning_tokens_ = 0;
  bool thinking_out_ = false;     // the parser emitted thinking during the current push
  std::vector<TokenLogprobEntry> pending_;  // [0, n_pending_): logprobs no event has taken yet
  size_t n_pending_ = 0;
};

ApiError bad(std::string message, std::string param) { return ApiError{400, std::move(message), std::move(param)}; }

}  // namespace

PreparedJob prepare_job(const ApiRequest& req, const runtime::Gemma4Engine& engine, uint32_t slot_ctx,
                        const runtime::MediaSettings& media_settings) {
  PreparedJob out;
  auto job = std::make_shared<runtime::Job>();
  const bool openai = is_openai(req.api);
  const bool think = req.think.mode == Think::Mode::kOn;

  // tool_choice none: the tools are not declared at all, so the model cannot call them.
  std::vector<nlohmann::json> tools = req.conversation.tools;
  if (req.tool_choice.kind == ToolChoice::Kind::kNone) tools.clear();

  std::string prompt_text;
  const text::Tokenizer& tok = engine.tokenizer();
  try {
    if (req.raw) {
      job->prompt = tok.encode(req.prompt, tok.wants_bos(), true);
    } else {
      text::Conversation conv = req.conversation;
      conv.tools = tools;
      text::RenderOptions ro;
      ro.enable_thinking = think;
      job->prompt = tok.encode(text::render_gemma4_prompt(conv, ro), false, true);
    }
  } catch (const std::invalid_argument& e) {
    out.error = bad(e.what(), openai ? "messages" : (req.api == Api::kOllamaChat ? "messages" : "prompt"));
    return out;
  }
  if (req.api == Api::kOllamaGenerate && !req.raw && !req.context.empty()) {
    // The deprecated `context` continues an earlier answer: its tokens (which start with BOS) come first.
    std::vector<int32_t> joined = req.context;
    const bool skip_bos = !job->prompt.empty() && job->prompt.front() == tok.bos();
    joined.insert(joined.end(), job->prompt.begin() + (skip_bos ? 1 : 0), job->prompt.end());
    job->prompt = std::move(joined);
  }
  if (!req.media.empty()) {
    const std::string param = openai ? "messages" : (req.api == Api::kOllamaChat ? "messages" : "images");
    if (engine.projector() == nullptr) {
      out.error = bad("model '" + req.model + "' takes text only: it was loaded without a projector (an mmproj GGUF; "
                      "locus serve --mmproj, or an mmproj*.gguf beside the model)", param);
      return out;
    }
    try {
      std::vector<runtime::PreparedMedia> prepared;
      prepared.reserve(req.media.size());
      // The server's defaults, the request's media options over them, and an input's own budget (OpenAI detail)
      // over both.
      runtime::MediaSettings settings = media_settings;
      const MediaOptions& mo = req.media_options;
      if (mo.image_size_rule) {
        settings.size_rule = *mo.image_size_rule == MediaOptions::SizeRule::kGoogle ? media::SizeRule::kGoogle
                                                                                   : media::SizeRule::kLlamaCpp;
      }
      if (mo.image_tokens) settings.image_tokens = *mo.image_tokens;
      if (mo.video_frames) settings.video_frames = *mo.video_frames;
      if (mo.video_frame_tokens) settings.video_frame_tokens = *mo.video_frame_tokens;
      if (mo.video_audio) settings.video_audio = *mo.video_audio;
      if (mo.video_layout) {
        settings.video_layout = *mo.video_layout == MediaOptions::VideoLayout::kGoogle
                                    ? runtime::MediaSettings::VideoLayout::kGoogle
                                    : runtime::MediaSettings::VideoLayout::kLlamaCpp;
      }
      settings.audio_only = req.api == Api::kOpenAiTranscription;
      for (size_t i = 0; i < req.media.size(); ++i) {
        runtime::MediaSettings own = settings;
        if (req.media[i].max_tokens) {
          // OpenAI detail: low 70 and high 1120 are on both rules' ladders.
          own.image_tokens = *req.media[i].max_tokens;
          own.video_frame_tokens = *req.media[i].max_tokens;
        }
        try {
          prepared.push_back(runtime::prepare_media(req.media[i].bytes, own));
          out.audio_seconds += prepared.back().audio_seconds;
        } catch (const std::exception& e) {
          throw std::invalid_argument("medium " + std::to_string(i + 1) + " of " + std::to_string(req.media.size()) +
                                      ": " + e.what());
        }
        try {
          engine.check_takes(prepared.back());
        } catch (const std::exception& e) {
          throw std::invalid_argument("medium " + std::to_string(i + 1) + ": model '" + req.model + "': " + e.what());
        }
      }
      runtime::ExpandedPrompt ex = runtime::expand_media(job->prompt, prepared, tok, engine.media_tokens());
      job->prompt = std::move(ex.tokens);
      job->media = std::move(ex.blocks);
    } catch (const std::exception& e) {
      out.error = bad(e.what(), param);
      return out;
    }
    if (job->prompt.size() >= slot_ctx) {
      out.error = bad("the prompt with its media is " + std::to_string(job->prompt.size()) +
                          " tokens but the context holds " + std::to_string(slot_ctx) +
                          " (server --ctx / LOCUS_CONTEXT_LENGTH); media cannot be cut: send less or raise the context",
                      param);
      return out;
    }
  }
  if (!req.truncate && job->prompt.size() >= slot_ctx) {
    out.error = bad("the prompt is " + std::to_string(job->prompt.size()) + " tokens but the context holds " +
                        std::to_string(slot_ctx) + " (server --ctx / LOCUS_CONTEXT_LENGTH); shorten it or allow truncate",
                    openai ? "messages" : "truncate");
    return out;
  }

  job->options = req.options;
  job->truncate = req.truncate;
  job->logprobs = req.logprobs;
  job->top_logprobs = req.top_logprobs;

  const bool forced_tools = (req.tool_choice.kind == ToolChoice::Kind::kRequired ||
                             req.tool_choice.kind == ToolChoice::Kind::kNamed) && !tools.empty();
  if (forced_tools && req.format.kind != Format::Kind::kNone) {
    out.error = bad("a forced tool call (tool_choice required or a named function) and a JSON answer format cannot "
                    "be combined", "tool_choice");
    return out;
  }
  if (forced_tools) {
    std::vector<nlohmann::ordered_json> declared;
    for (const auto& t : tools) {
      if (req.tool_choice.kind == ToolChoice::Kind::kNamed && tool_name(t) != req.tool_choice.name) continue;
      declared.push_back(nlohmann::ordered_json::parse(t.dump()));
    }
    if (declared.empty()) {
      out.error = bad("tool_choice names '" + req.tool_choice.name + "', which is not among the tools", "tool_choice");
      return out;
    }
    text::GrammarResult g = text::compile_tool_call_grammar(declared);
    if (!g.grammar) {
      out.error = bad(g.error, "tools");
      return out;
    }
    job->structured = runtime::StructuredOutput{runtime::StructuredOutput::Kind::tool_calls, g.grammar,
                                                req.parallel_tool_calls};
  } else if (req.format.kind == Format::Kind::kJsonObject) {
    job->structured = runtime::StructuredOutput{runtime::StructuredOutput::Kind::json, text::any_json_object_grammar(),
                                                false};
  } else if (req.format.kind == Format::Kind::kJsonSchema) {
    text::GrammarResult g = text::compile_json_schema(req.format.schema);
    if (!g.grammar) {
      out.error = bad(g.error, openai ? "response_format.json_schema.schema" : "format");
      return out;
    }
    job->structured = runtime::StructuredOutput{runtime::StructuredOutput::Kind::json, g.grammar, false};
  }

  // A thinking block under a constraint only when it was asked for; then GrammarConstraint caps it so that it
  // leaves room for the value.
  if (job->structured) job->structured->allow_thinking = think;
  out.parser.thinking_requested = think;
  for (const auto& t : tools) {
    if (std::string n = tool_name(t); !n.empty()) out.parser.tool_names.push_back(std::move(n));
  }
  out.job = std::move(job);
  return out;
}

std::shared_ptr<runtime::GenerateSink> make_channel_sink(std::shared_ptr<EventChannel> channel, SinkContext context) {
  return std::make_shared<ChannelSink>(std::move(channel), std::move(context));
}

}  // namespace locus::server
