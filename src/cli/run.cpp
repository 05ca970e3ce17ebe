#include "cli/run.h"

#include <CLI/CLI.hpp>
#include <editline/readline.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "cli/format_arg.h"
#include "cli/progress.h"
#include "common/human.h"
#include "media/media.h"
#include "runtime/gemma4_engine.h"
#include "runtime/media_prompt.h"
#include "runtime/model_store.h"
#include "text/chat_renderer.h"
#include "text/output_parser.h"

namespace locus::cli {
namespace {

std::atomic<bool> g_cancel{false};
std::atomic<bool> g_generating{false};

void on_sigint(int) {
  // Ctrl-C stops the answer being written, not the program; at the prompt it is ignored (readline clears).
  if (g_generating.load()) g_cancel.store(true);
}

struct Turn {
  std::string role;  // "user" or "model"
  std::string text;
  std::vector<runtime::PreparedMedia> media;  // user turns: shown to the model before the text
};

// The conversation in Gemma 4's prompt format, by the native renderer (text/chat_renderer.h): with thinking
// off the model turn opens with the template's empty thought block, with it on the system turn asks for it.
std::string render_turns(const std::vector<Turn>& turns, bool think) {
  text::Conversation c;
  for (const auto& t : turns) {
    text::ChatMessage m;
    m.role = t.role == "user" ? text::ChatRole::kUser : text::ChatRole::kAssistant;
    if (t.media.empty()) {
      m.text = t.text;
    } else {
      m.use_parts = true;
      for (const auto& pm : t.media) {
        text::ContentPart p;
        p.kind = pm.kind == media::Kind::kImage   ? text::ContentPartKind::kImage
                 : pm.kind == media::Kind::kAudio ? text::ContentPartKind::kAudio
                                                  : text::ContentPartKind::kVideo;
        m.parts.push_back(std::move(p));
      }
      if (!t.text.empty()) {
        text::ContentPart p;
        p.text = t.text;
        m.parts.push_back(std::move(p));
      }
    }
    c.messages.push_back(std::move(m));
  }
  text::RenderOptions ro;
  ro.enable_thinking = think;
  return text::render_gemma4_prompt(c, ro);
}

// Streams an answer to the terminal. Raw mode writes the model's text as it is (markers included); chat
// mode runs it through the output parser: answer text to stdout, thinking shown dimmed between
// "Thinking..." and "...done thinking." (or hidden), tool calls as one line each, never marker text.
class ChatSink final : public runtime::GenerateSink {
 public:
  ChatSink(bool raw, bool think, bool hide_thinking, bool verbose)
      : raw_(raw), hide_thinking_(hide_thinking), verbose_(verbose), tty_(isatty(STDOUT_FILENO) != 0),
        parser_(options(think), [this](const text::OutputEvent& e) { on_event(e); }) {}

  std::string answer;  // the answer text only (what goes back into the history)

  void on_text(std::string_view text) override {
    if (raw_) {
      answer.append(text);
      write(text);
    } else {
      parser_.push(text);
    }
  }
  void finish() {
    if (!raw_) parser_.finish();
    end_thinking();
    std::fflush(stdout);
  }

 private:
  static text::OutputParserOptions options(bool think) {
    text::OutputParserOptions o;
    o.thinking_requested = think;
    o.accept_any_tool_name = true;  // no tools are declared here; show whatever the model calls
    return o;
  }
  void write(std::string_view t) {
    std::fwrite(t.data(), 1, t.size(), stdout);
    std::fflush(stdout);
  }
  void end_thinking() {
    if (!thinking_) return;
    thinking_ = false;
    write(tty_ ? "\n...done thinking.\x1b[0m\n\n" : "\n...done thinking.\n\n");
  }
  void on_event(const text::OutputEvent& e) {
    switch (e.kind) {
      case text::OutputEventKind::kThinking:
        if (hide_thinking_) return;
        if (!thinking_) {
          thinking_ = true;
          write(tty_ ? "\x1b[2mThinking...\n" : "Thinking...\n");
        }
        write(e.text);
        return;
      case text::OutputEventKind::kContent:
        end_thinking();
        answer.append(e.text);
        write(e.text);
        return;
      case text::OutputEventKind::kToolCall:
        end_thinking();
        write("[tool call] " + std::string(e.name) + " " + std::string(e.arguments) + "\n");
        return;
      case text::OutputEventKind::kInvalidToolCall:
        end_thinking();
        std::fprintf(stderr, "locus: the model wrote an invalid tool call (%.*s)\n", static_cast<int>(e.text.size()),
                     e.text.data());
        return;
      case text::OutputEventKind::kWarning:
        if (verbose_) std::fprintf(stderr, "locus: %.*s\n", static_cast<int>(e.text.size()), e.text.data());
        return;
    }
  }

  bool raw_, hide_thinking_, verbose_, tty_;
  bool thinking_ = false;
  text::OutputParser parser_;
};

void print_timings(const runtime::GenerateResult& r, double load_s, double total_s) {
  auto rate = [](int32_t n, double s) { return s > 0 ? n / s : 0.0; };
  std::fprintf(stderr, "total duration:       %.3fs\n", total_s);
  std::fprintf(stderr, "load duration:        %.3fs\n", load_s);
  std::fprintf(stderr, "prompt eval count:    %d token(s)\n", r.prompt_eval_count);
  std::fprintf(stderr, "prompt eval duration: %.3fs\n", r.prompt_eval_seconds);
  std::fprintf(stderr, "prompt eval rate:     %.2f tokens/s\n", rate(r.prompt_eval_count, r.prompt_eval_seconds));
  std::fprintf(stderr, "eval count:           %d token(s)\n", r.eval_count);
  std::fprintf(stderr, "eval duration:        %.3fs\n", r.eval_seconds);
  std::fprintf(stderr, "eval rate:            %.2f tokens/s\n", rate(r.eval_count, r.eval_seconds));
}

// One answer: tokenize, generate (streaming to stdout), report. Returns false on error.
bool answer(runtime::Gemma4Engine& engine, runtime::Generator& gen, const std::string& prompt_text, bool raw,
            const RunOptions& o, const std::shared_ptr<const text::JsonGrammar>& format, double load_s,
            std::string* answer_out, const std::vector<Turn>* turns = nullptr) {
  const auto t0 = std::chrono::steady_clock::now();
  // Rendered chat prompts carry their own <bos>; raw prompts get the BOS the model asks for.
  std::vector<int32_t> tokens =
      raw ? engine.tokenizer().encode(prompt_text, engine.tokenizer().wants_bos(), false)
          : engine.tokenizer().encode(prompt_text, false, true);
  // The conversation's media, in order, replace the placeholders the renderer wrote.
  std::vector<runtime::PreparedMedia> all_media;
  if (turns != nullptr) {
    for (const Turn& t : *turns) all_media.insert(all_media.end(), t.media.begin(), t.media.end());
  }
  std::vector<runtime::MediaBlock> blocks;
  if (!all_media.empty()) {
    try {
      runtime::ExpandedPrompt ex = runtime::expand_media(tokens, all_media, engine.tokenizer(), engine.media_tokens());
      tokens = std::move(ex.tokens);
      blocks = std::move(ex.blocks);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "locus: %s\n", e.what());
      return false;
    }
  }
  runtime::GenerateRequest req;
  req.prompt = tokens;
  req.media = blocks;
  req.options = o.sampling;
  req.cancel = &g_cancel;
  req.loop_guard_tokens = o.loop_guard;
  std::optional<runtime::GrammarConstraint> constraint;
  if (format != nullptr) {
    // Thinking before the value only with --think (capped by GrammarConstraint to leave room for the value).
    runtime::StructuredOutput structured{runtime::StructuredOutput::Kind::json, format};
    structured.allow_thinking = o.think;
    constraint.emplace(engine.constraint_vocab(), std::move(structured));
    req.constraint = &*constraint;
  }
  ChatSink sink(raw, o.think, o.hide_thinking, o.verbose);
  g_cancel.store(false);
  g_generating.store(true);
  const auto result = gen.generate(req, sink);
  sink.finish();
  g_generating.store(false);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!sink.answer.empty() && sink.answer.back() != '\n') std::fputc('\n', stdout);
  std::fflush(stdout);
  if (answer_out) *answer_out = sink.answer;
  if (result.reason == runtime::DoneReason::error) {
    std::fprintf(stderr, "locus: %s\n", result.error.c_str());
    return false;
  }
  if (result.reason == runtime::DoneReason::cancelled) std::fprintf(stderr, "(stopped)\n");
  // A constrained answer promises a value that parses; when the budget cut it, say so rather than leave a
  // fragment that looks like a finished answer.
  if (result.reason == runtime::DoneReason::length && format != nullptr) {
    std::fprintf(stderr, "locus: stopped after %d tokens (--num-predict or the context) before the answer was "
                 "complete\n", result.eval_count);
  }
  if (result.reason == runtime::DoneReason::repetition) {
    std::fprintf(stderr, "locus: stopped: the model was repeating itself (a cycle of %d token%s; --loop-guard)\n",
                 result.loop_period, result.loop_period == 1 ? "" : "s");
  }
  if (o.verbose) print_timings(result, load_s, total + load_s);
  return true;
}

bool set_parameter(runtime::SamplingOptions& s, const std::string& name, const std::string& value) {
  try {
    if (name == "temperature") s.temperature = std::stof(value);
    else if (name == "top_k") s.top_k = std::stoi(value);
    else if (name == "top_p") s.top_p = std::stof(value);
    else if (name == "min_p") s.min_p = std::stof(value);
    else if (name == "typical_p") s.typical_p = std::stof(value);
    else if (name == "repeat_penalty") s.repeat_penalty = std::stof(value);
    else if (name == "repeat_last_n") s.repeat_last_n = std::stoi(value);
    else if (name == "presence_penalty") s.presence_penalty = std::stof(value);
    else if (name == "frequency_penalty") s.frequency_penalty = std::stof(value);
    else if (name == "seed") s.seed = std::stoll(value);
    else if (name == "num_predict") s.num_predict = std::stoi(value);
    else if (name == "stop") s.stop.push_back(value);
    else {
      std::fprintf(stderr, "Unknown parameter '%s'\n", name.c_str());
      return false;
    }
  } catch (const std::exception&) {
    std::fprintf(stderr, "Couldn't set parameter: '%s' is not a valid value for %s\n", value.c_str(), name.c_str());
    return false;
  }
  if (auto err = runtime::validate(s)) {
    std::fprintf(stderr, "Couldn't set parameter: %s\n", err->c_str());
    return false;
  }
  std::fprintf(stderr, "Set parameter '%s' to '%s'\n", name.c_str(), value.c_str());
  return true;
}

void print_help() {
  std::fprintf(stderr,
               "Available Commands:\n"
               "  /set parameter NAME VALUE   Set a sampling parameter (temperature, top_k, top_p, min_p, typical_p,\n"
               "                              repeat_penalty, repeat_last_n, presence_penalty, frequency_penalty,\n"
               "                              seed, num_predict, stop)\n"
               "  /set verbose | quiet        Show or hide timings after each answer\n"
               "  /clear                      Forget the conversation so far\n"
               "  /bye                        Exit\n"
               "  /?, /help                   This help\n\n"
               "Use \"\"\" to begin and end a multi-line message. Ctrl-C stops an answer; Ctrl-D or /bye exits.\n");
}

// Reads one message: a line, or several between """ markers. Returns false at end of input.
bool read_message(std::string& out) {
  char* line = readline(">>> ");
  if (line == nullptr) return false;
  std::string first = line;
  std::free(line);
  if (first.rfind("\"\"\"", 0) != 0) {
    if (!first.empty()) add_history(first.c_str());
    out = first;
    return true;
  }
  std::string text = first.substr(3);
  const size_t close = text.find("\"\"\"");
  if (close != std::string::npos) {
    out = text.substr(0, close);
    add_history(first.c_str());
    return true;
  }
  for (;;) {
    char* more = readline("... ");
    if (more == nullptr) break;
    std::string m = more;
    std::free(more);
    const size_t end = m.find("\"\"\"");
    if (end != std::string::npos) {
      text += "\n" + m.substr(0, end);
      break;
    }
    text += "\n" + m;
  }
  if (!text.empty() && text.front() == '\n') text.erase(0, 1);
  add_history(("\"\"\"" + text + "\"\"\"").c_str());
  out = text;
  return true;
}

// Reads one media file for the chat; one line on stderr and nullopt when it cannot be used.
std::optional<runtime::PreparedMedia> load_media(const runtime::Gemma4Engine& engine, const std::string& path,
                                                 const runtime::MediaSettings& ms) {
  try {
    return load_media_file(path, ms, &engine);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "locus: %s\n", e.what());
    return std::nullopt;
  }
}

// As `ollama run` does: words of a chat message that name existing files of a media type are attached and taken
// out of the text. A path may be quoted ('...' or "..."), have escaped spaces, or start with ~/.
std::vector<std::string> take_media_paths(std::string& msg) {
  std::vector<std::string> paths;
  std::string rest;
  size_t i = 0;
  while (i < msg.size()) {
    if (std::isspace(static_cast<unsigned char>(msg[i]))) {
      rest += msg[i++];
      continue;
    }
    const size_t start = i;
    std::string word;
    if (msg[i] == '\'' || msg[i] == '"') {
      const char q = msg[i];
      const size_t end = msg.find(q, i + 1);
      if (end == std::string::npos) {
        word = msg.substr(i);
        i = msg.size();
      } else {
        word = msg.substr(i + 1, end - i - 1);
        i = end + 1;
      }
    } else {
      while (i < msg.size() && !std::isspace(static_cast<unsigned char>(msg[i]))) {
        if (msg[i] == '\\' && i + 1 < msg.size()) ++i;
        word += msg[i++];
      }
    }
    std::string path = word;
    if (path.rfind("~/", 0) == 0) {
      if (const char* home = std::getenv("HOME")) path = home + path.substr(1);
    }
    std::error_code ec;
    static const char* kExt[] = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".wav",
                                 ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".mp4", ".webm", ".mov", ".mkv", ".avi"};
    std::string lower = path;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool media_name = false;
    for (const char* e : kExt) media_name |= lower.size() > std::strlen(e) && lower.ends_with(e);
    if (media_name && std::filesystem::is_regular_file(path, ec)) {
      paths.push_back(path);
    } else {
      rest += msg.substr(start, i - start);
    }
  }
  const size_t b = rest.find_first_not_of(" \t\n"), e = rest.find_last_not_of(" \t\n");
  msg = b == std::string::npos ? std::string() : rest.substr(b, e - b + 1);
  return paths;
}

int interactive(runtime::Gemma4Engine& engine, runtime::Generator& gen, RunOptions& o, const runtime::MediaSettings& ms,
                const std::shared_ptr<const text::JsonGrammar>& format, double load_s) {
  std::vector<Turn> turns;
  std::string msg;
  while (read_message(msg)) {
    if (msg.empty()) continue;
    if (msg == "/bye" || msg == "/exit") break;
    if (msg == "/?" || msg == "/help") {
      print_help();
      continue;
    }
    if (msg == "/clear") {
      turns.clear();
      std::fprintf(stderr, "Cleared session context\n");
      continue;
    }
    if (msg.rfind("/set", 0) == 0) {
      std::istringstream ss(msg);
      std::string cmd, what, name, value;
      ss >> cmd >> what;
      if (what == "verbose") o.verbose = true;
      else if (what == "quiet") o.verbose = false;
      else if (what == "parameter" && (ss >> name) && std::getline(ss >> std::ws, value) && !value.empty())
        set_parameter(o.sampling, name, value);
      else std::fprintf(stderr, "Usage: /set parameter NAME VALUE | /set verbose | /set quiet\n");
      continue;
    }
    if (msg[0] == '/') {
      std::fprintf(stderr, "Unknown command '%s'. Type /? for help\n", msg.c_str());
      continue;
    }
    Turn user{"user", msg, {}};
    if (!o.raw) {
      bool failed = false;
      for (const std::string& path : take_media_paths(user.text)) {
        auto pm = load_media(engine, path, ms);
        if (!pm) {
          failed = true;
          break;
        }
        std::fprintf(stderr, "Added %s '%s'\n", media::kind_name(pm->kind), path.c_str());
        user.media.push_back(std::move(*pm));
      }
      if (failed) continue;
    }
    turns.push_back(std::move(user));
    std::string reply;
    const std::string prompt = o.raw ? msg : render_turns(turns, o.think);
    if (!answer(engine, gen, prompt, o.raw, o, format, load_s, &reply, o.raw ? nullptr : &turns)) {
      turns.pop_back();
      continue;
    }
    turns.push_back({"model", reply, {}});
    load_s = 0;
    std::fputc('\n', stdout);
  }
  return 0;
}

}  // namespace

CLI::App* add_run_command(CLI::App& app, RunOptions& o) {
  auto* cmd = app.add_subcommand("run", "generate from a model: one answer for a prompt, or a chat without one");
  cmd->add_option("model", o.model_path, "a model name (see `locus list`) or a .gguf file")->required();
  cmd->add_option("prompt", o.prompt, "the prompt (- reads standard input); omit it for an interactive chat");
  auto& s = o.sampling;
  cmd->add_option("--temperature", s.temperature, "sampling temperature; 0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "keep the k most likely tokens; 0 disables")->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "nucleus sampling threshold")->capture_default_str();
  cmd->add_option("--min-p", s.min_p, "drop tokens below min_p times the best token's probability")->capture_default_str();
  cmd->add_option("--typical-p", s.typical_p, "locally typical sampling; 1 disables")->capture_default_str();
  cmd->add_option("--repeat-penalty", s.repeat_penalty, "penalty for repeated tokens; 1 disables")->capture_default_str();
  cmd->add_option("--repeat-last-n", s.repeat_last_n, "how far back the penalties look")->capture_default_str();
  cmd->add_option("--presence-penalty", s.presence_penalty, "penalty for any token already present")->capture_default_str();
  cmd->add_option("--frequency-penalty", s.frequency_penalty, "penalty per occurrence")->capture_default_str();
  cmd->add_option("--seed", s.seed, "random seed; -1 = random")->capture_default_str();
  cmd->add_option("--num-predict", s.num_predict, "most tokens to generate; -1 = until done or the context is full")
      ->capture_default_str();
  cmd->add_option("--num-ctx", s.num_ctx, "context size in tokens (default 4096)");
  cmd->add_option("--stop", s.stop, "stop string (repeatable); never printed");
  cmd->add_option("--threads", o.n_threads, "CPU threads (default: all cores)");
  cmd->add_flag("--mmap", o.mmap,
                "use the weights in place from the memory-mapped file: quicker start and pages shared with other "
                "processes, but slower generation (default: read them into memory once)");
  cmd->add_flag("--raw", o.raw, "send the prompt as it is, without the chat turn markers");
  cmd->add_flag("--think{true}", o.think_value,
                "--think or --think=true lets the model think before answering (thinking is shown dimmed); "
                "--think=false turns it off (the default). Levels low, medium, high, max are accepted and mean "
                "on: Gemma 4's format has no effort levels");
  cmd->add_option("--format", o.format,
                  "constrain the answer: 'json' for any JSON object, or a JSON Schema given inline or as @FILE. "
                  "The answer starts with the value (with --think, thinking first takes at most half of "
                  "--num-predict or of what the context leaves) and parses and validates, unless the budget ends "
                  "it first (then a message says so)");
  cmd->add_option("--loop-guard", o.loop_guard,
                  "end an answer that has collapsed into repeating itself once the repetition spans this many "
                  "tokens; 0 disables")
      ->capture_default_str();
  add_media_options(cmd, o.media, true);
  cmd->add_option("--mmproj", o.media.mmproj,
                  "the projector GGUF for images, audio and video (default: the model's store entry, else an "
                  "mmproj*.gguf beside the model file, else the only projector there that fits)");
  cmd->add_flag("--hidethinking", o.hide_thinking, "do not show the model's thinking");
  cmd->add_flag("--verbose", o.verbose,
                "print timings after each answer, and the output parser's warnings about malformed model output");
  return cmd;
}

// --think's value: true/false, or a level, which Gemma 4 cannot express and so means on (said once).
static bool parse_think(const std::string& v, bool* think) {
  if (v.empty() || v == "false" || v == "0" || v == "off" || v == "none") {
    *think = false;
  } else if (v == "true" || v == "1" || v == "on") {
    *think = true;
  } else if (v == "low" || v == "medium" || v == "high" || v == "max") {
    *think = true;
    std::fprintf(stderr, "locus: Gemma 4 has no thinking levels; --think=%s turns thinking on\n", v.c_str());
  } else {
    std::fprintf(stderr, "locus: --think takes true, false, low, medium, high or max, got '%s'\n", v.c_str());
    return false;
  }
  return true;
}

int run(RunOptions& o) {
  if (auto err = runtime::validate(o.sampling)) {
    std::fprintf(stderr, "locus: %s\n", err->c_str());
    return 2;
  }
  if (!parse_think(o.think_value, &o.think)) return 2;
  std::shared_ptr<const text::JsonGrammar> format;
  try {  // before the model loads
    format = format_grammar(o.format);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "locus: %s\n", e.what());
    return 2;
  }
  runtime::MediaSettings settings;
  try {  // before the model loads or a projector is looked for
    settings = media_settings(o.media);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "locus: %s\n", e.what());
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  runtime::EngineOptions eo;
  eo.n_ctx = o.sampling.num_ctx > 0 ? static_cast<uint32_t>(o.sampling.num_ctx) : 4096;
  eo.n_threads = o.n_threads;
  eo.n_batch = static_cast<uint32_t>(o.sampling.num_batch);
  eo.mmap = o.mmap;
  const bool tty = isatty(STDERR_FILENO) != 0;
  if (!o.mmap) eo.load_progress = load_progress_bar(tty);
  // A GGUF path, or a model name from the store (locus's, then Ollama's), as everywhere a model is named.
  std::string model_file;
  const bool wants_media = o.media.any();
  try {
    runtime::ResolvedModel resolved = runtime::ModelStore::from_environment().resolve_model_ref(o.model_path);
    model_file = resolved.model_path.string();
    // The projector: --mmproj, else the store entry's, else one beside the model file (said so).
    std::optional<runtime::ProjectorInfo> projector = resolved.projector;
    std::string note = resolved.projector_note;
    if (!o.media.mmproj.empty() || !projector) {
      runtime::ProjectorRequest pr;
      if (!o.media.mmproj.empty()) pr.file = o.media.mmproj;
      runtime::ProjectorChoice choice = runtime::find_projector(resolved.model_path, pr);
      if (choice.projector) projector = choice.projector;
      if (choice.source == runtime::ProjectorSource::beside_model) std::fprintf(stderr, "locus: %s\n", choice.reason.c_str());
      if (!choice.reason.empty()) note = choice.reason;
    }
    if (projector) {
      eo.mmproj = projector->path.string();
    } else if (wants_media) {
      std::fprintf(stderr, "locus: images, audio and video need a projector (mmproj GGUF) and %s has none%s%s; "
                   "give one with --mmproj FILE\n", o.model_path.c_str(), note.empty() ? "" : ": ", note.c_str());
      return 1;
    }
  } catch (const runtime::StoreError& e) {
    std::fprintf(stderr, "locus: %s\n", e.what());
    return 1;
  }
  auto engine = runtime::Gemma4Engine::load(model_file, eo);
  if (o.mmap) prefetch_weights(engine->model().file(), tty);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  runtime::Generator gen(*engine, *engine, engine->suppress_tokens());

  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);

  if (o.prompt == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    o.prompt = ss.str();
  }
  // Media given on the command line go with the prompt (read from the argument or standard input).
  std::vector<runtime::PreparedMedia> cli_media;
  if (wants_media) {
    if (o.raw) {
      std::fprintf(stderr, "locus: --raw prompts cannot take --image/--audio/--video (media need the chat format)\n");
      return 2;
    }
    for (const auto* list : {&o.media.images, &o.media.audios, &o.media.videos}) {
      for (const std::string& path : *list) {
        auto pm = load_media(*engine, path, settings);
        if (!pm) return 1;
        cli_media.push_back(std::move(*pm));
      }
    }
    if (o.prompt.empty() && isatty(STDIN_FILENO)) o.prompt = " ";  // media alone: answer them once
  }
  auto one_answer = [&](const std::string& text) {
    if (o.raw) return answer(*engine, gen, text, true, o, format, load_s, nullptr) ? 0 : 1;
    std::vector<Turn> turns{{"user", text == " " ? "" : text, cli_media}};
    return answer(*engine, gen, render_turns(turns, o.think), false, o, format, load_s, nullptr, &turns) ? 0 : 1;
  };
  if (!o.prompt.empty()) return one_answer(o.prompt);
  if (!isatty(STDIN_FILENO)) {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    const std::string text = ss.str();
    if (text.empty() && cli_media.empty()) return 0;
    return one_answer(text);
  }
  return interactive(*engine, gen, o, settings, format, load_s);
}

}  // namespace locus::cli
