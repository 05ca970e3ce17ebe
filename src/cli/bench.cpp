#include "cli/bench.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "cli/format_arg.h"
#include "media/media.h"
#include "model/gemma4_model.h"
#include "runtime/gemma4_engine.h"
#include "runtime/media_prompt.h"
#include "text/chat_renderer.h"

namespace locus::cli {
namespace {

struct Stats {
  double mean = 0, stddev = 0;
};

Stats stats(const std::vector<double>& v) {
  Stats s;
  for (double x : v) s.mean += x;
  s.mean /= double(v.size());
  for (double x : v) s.stddev += (x - s.mean) * (x - s.mean);
  s.stddev = v.size() > 1 ? std::sqrt(s.stddev / double(v.size() - 1)) : 0.0;
  return s;
}

// Discards generated text; the benchmark only counts tokens.
struct NullSink final : runtime::GenerateSink {
  void on_text(std::string_view) override {}
};

// tg through the generator: the sampler, stop handling and (with --format) the constraint, from a prompt of
// just BOS. Rates count the tokens the generator evaluated after the prompt.
int bench_sampled(const BenchOptions& o) {
  const std::shared_ptr<const text::JsonGrammar> grammar = format_grammar(o.format);
  runtime::EngineOptions eo;
  eo.n_ctx = static_cast<uint32_t>(o.n_gen + 16);
  eo.n_threads = o.n_threads;
  eo.mmap = o.mmap;
  auto engine = runtime::Gemma4Engine::load(o.model_path, eo);
  runtime::Generator gen(*engine, *engine, engine->suppress_tokens());
  std::optional<runtime::GrammarConstraint> constraint;
  if (grammar) {
    constraint.emplace(engine->constraint_vocab(),
                       runtime::StructuredOutput{runtime::StructuredOutput::Kind::json, grammar, false});
  }
  const std::vector<int32_t> prompt = {engine->tokenizer().bos()};
  std::vector<double> tg;
  std::vector<int32_t> counts;
  std::string last_reason;
  for (int r = -1; r < o.reps; ++r) {  // r == -1: warm-up
    runtime::GenerateRequest req;
    req.prompt = prompt;
    req.options.seed = 1000 + r;
    req.options.num_predict = r < 0 ? 4 : o.n_gen;
    req.options.num_ctx = static_cast<int32_t>(eo.n_ctx);
    req.loop_guard_tokens = 0;
    if (constraint) {
      constraint->reset();
      req.constraint = &*constraint;
    }
    NullSink sink;
    const runtime::GenerateResult res = gen.generate(req, sink);
    if (res.reason == runtime::DoneReason::error) throw std::runtime_error(res.error);
    if (r < 0) continue;
    // eval_seconds runs from the prompt's logits to the end: eval_count - 1 forward passes and eval_count draws.
    tg.push_back(res.eval_count / res.eval_seconds);
    counts.push_back(res.eval_count);
    last_reason = runtime::done_reason_name(res.reason);
  }
  const std::string name = o.model_path.substr(o.model_path.find_last_of('/') + 1);
  const Stats s = stats(tg);
  if (o.json) {
    nlohmann::ordered_json j;
    j["model"] = name;
    j["threads"] = engine->model().pool().size();
    j["mode"] = grammar ? "sampled+format" : "sampled";
    j["tg"] = {{"n", o.n_gen}, {"tokens_per_s", s.mean}, {"stddev", s.stddev}, {"runs", tg}, {"tokens", counts},
               {"done_reason", last_reason}};
    if (constraint) j["mask_cache"] = {{"hits", constraint->cache_hits()}, {"misses", constraint->cache_misses()}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("| %-32s | %7d | %14s | %18s |\n", "model", engine->model().pool().size(), "test", "t/s");
  std::printf("| %-32s | %7d | %14s | %10.2f ± %5.2f |\n", name.c_str(), engine->model().pool().size(),
              ((grammar ? "tg-format" : "tg-sampled") + std::to_string(o.n_gen)).c_str(), s.mean, s.stddev);
  if (constraint) {
    std::printf("mask cache: %zu hits, %zu misses\n", constraint->cache_hits(), constraint->cache_misses());
  }
  return 0;
}


// ---- Media: time to first token of a prompt with images and audio ----

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The engine as the generator sees it, timing the prompt's parts until the first token is drawn: text
// evaluation, the projector, and the media rows' prefill. The media half is Gemma4Engine::eval_media's two
// steps (embed_media, then forward_embeddings) called one at a time so each is timed.
struct TimedModel final : runtime::LanguageModel {
  explicit TimedModel(runtime::Gemma4Engine& e) : engine(e) {}
  runtime::Gemma4Engine& engine;
  bool counting = true;  // cleared by the sink at the first token: the evaluation of that token is not the prompt's
  double text_s = 0, project_s = 0, media_s = 0;
  int32_t text_tokens = 0, media_rows = 0;

  void clear() {
    counting = true;
    text_s = project_s = media_s = 0;
    text_tokens = media_rows = 0;
  }
  int32_t n_vocab() const override { return engine.n_vocab(); }
  int32_t n_ctx() const override { return engine.n_ctx(); }
  void truncate(int32_t pos) override { engine.truncate(pos); }
  void eval(std::span<const int32_t> tokens, int32_t pos, std::span<float> last_logits) override {
    const auto t0 = Clock::now();
    engine.eval(tokens, pos, last_logits);
    if (!counting) return;
    text_s += seconds(t0, Clock::now());
    text_tokens += static_cast<int32_t>(tokens.size());
  }
  void eval_media(const runtime::MediaBlock& block, int32_t pos, std::span<float> last_logits) override {
    if (block.input == nullptr) throw std::invalid_argument("a media block without its input");
    const auto t0 = Clock::now();
    const auto rows = engine.embed_media(*block.input);
    const auto t1 = Clock::now();
    engine.model().forward_embeddings(model::kDefaultSequence, *rows, pos, last_logits, false, block.bidirectional);
    project_s += seconds(t0, t1);
    media_s += seconds(t1, Clock::now());
    media_rows += block.n;
  }
};

// Notes when the first token is drawn (or generation ends without one: an end-of-generation token first).
struct FirstTokenSink final : runtime::GenerateSink {
  TimedModel* model = nullptr;
  std::optional<Clock::time_point> first;
  void on_text(std::string_view) override {}
  void on_token(int32_t, const runtime::TokenLogprobs*) override { mark(); }
  void on_done(const runtime::GenerateResult&) override { mark(); }
  void mark() {
    if (first) return;
    first = Clock::now();
    model->counting = false;
  }
};

// Reads and decodes the files (images, then audio) as `locus run` does.
std::vector<runtime::PreparedMedia> prepare_all(const BenchOptions& o, const runtime::MediaSettings& ms) {
  std::vector<runtime::PreparedMedia> out;
  for (const auto* list : {&o.media.images, &o.media.audios}) {
    for (const std::string& path : *list) {
      out.push_back(load_media_file(path, ms));
    }
  }
  return out;
}

// One user turn: the media, then the text; thinking off (as `locus run`).
std::string render_media_prompt(const std::vector<runtime::PreparedMedia>& media, const std::string& text) {
  text::ChatMessage m;
  m.role = text::ChatRole::kUser;
  m.use_parts = true;
  for (const auto& pm : media) {
    text::ContentPart p;
    p.kind = pm.kind == media::Kind::kImage   ? text::ContentPartKind::kImage
             : pm.kind == media::Kind::kAudio ? text::ContentPartKind::kAudio
                                              : text::ContentPartKind::kVideo;
    m.parts.push_back(std::move(p));
  }
  if (!text.empty()) {
    text::ContentPart p;
    p.text = text;
    m.parts.push_back(std::move(p));
  }
  text::Conversation c;
  c.messages.push_back(std::move(m));
  return text::render_gemma4_prompt(c, text::RenderOptions{});
}

int bench_media(const BenchOptions& o) {
  const runtime::MediaSettings ms = media_settings(o.media);
  // The files are read once before the model loads, so a bad file or setting fails in a moment.
  const std::vector<runtime::PreparedMedia> first = prepare_all(o, ms);
  runtime::EngineOptions eo;
  eo.n_ctx = static_cast<uint32_t>(o.n_ctx);
  eo.n_batch = static_cast<uint32_t>(o.n_batch);
  eo.n_threads = o.n_threads;
  eo.mmap = o.mmap;
  eo.mmproj = o.media.mmproj;
  eo.media_cache_bytes = 0;  // every repetition runs the projector: no projected rows are kept
  auto engine = runtime::Gemma4Engine::load(o.model_path, eo);
  const runtime::MediaTokens& ids = engine->media_tokens();
  for (const auto& pm : first) {
    for (const auto& seg : pm.segments) {
      if (seg.input == nullptr) continue;
      const bool image = seg.input->kind == runtime::MediaInput::Kind::kImage;
      if (image ? !engine->projector()->has_vision() : !engine->projector()->has_audio()) {
        throw std::runtime_error(std::string("the projector has no ") + (image ? "vision" : "audio") + " encoder");
      }
    }
  }
  TimedModel timed(*engine);
  runtime::Generator gen(timed, *engine, engine->suppress_tokens());
  FirstTokenSink sink;
  sink.model = &timed;
  auto run = [&](std::span<const int32_t> prompt, std::span<const runtime::MediaBlock> blocks, uint64_t seed) {
    runtime::GenerateRequest req;
    req.prompt = prompt;
    req.media = blocks;
    req.options.seed = static_cast<int64_t>(seed);
    req.options.num_predict = 1;
    req.options.num_batch = o.n_batch;
    req.loop_guard_tokens = 0;
    timed.clear();
    sink.first.reset();
    // The generator starts every request by dropping the whole KV cache (truncate(0)): each run starts empty.
    const runtime::GenerateResult res = gen.generate(req, sink);
    if (res.reason == runtime::DoneReason::error) throw std::runtime_error(res.error);
    return res;
  };
  // Warm-up: one short text prompt (threads started, caches touched); the media path is measured cold, as
  // llama-mtmd-cli's single run is.
  {
    const std::vector<int32_t> w = {engine->tokenizer().bos(), engine->tokenizer().bos()};
    run(w, {}, 1);
  }

  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> tok(1000, engine->n_vocab() - 1000);
  std::vector<double> decode_ms, project_ms, prefill_ms, media_prefill_ms, ttft_ms, text_prefill_ms, text_ttft_ms;
  int32_t prompt_tokens = 0, media_tokens = 0;
  for (int r = 0; r < o.reps; ++r) {
    const auto t0 = Clock::now();
    const std::vector<runtime::PreparedMedia> media = prepare_all(o, ms);
    const auto t_decoded = Clock::now();
    const std::vector<int32_t> tokens =
        engine->tokenizer().encode(render_media_prompt(media, o.prompt), false, true);
    runtime::ExpandedPrompt ex = runtime::expand_media(tokens, media, engine->tokenizer(), ids);
    run(ex.tokens, ex.blocks, 1000 + static_cast<uint64_t>(r));
    decode_ms.push_back(1e3 * seconds(t0, t_decoded));
    project_ms.push_back(1e3 * timed.project_s);
    prefill_ms.push_back(1e3 * (timed.text_s + timed.media_s));
    media_prefill_ms.push_back(1e3 * timed.media_s);
    ttft_ms.push_back(1e3 * seconds(t0, *sink.first));
    prompt_tokens = static_cast<int32_t>(ex.tokens.size());
    media_tokens = timed.media_rows;
    if (timed.text_tokens + timed.media_rows != prompt_tokens) {
      throw std::logic_error("bench: the prompt's parts do not add up to its tokens");
    }

    // The same prompt with every media row replaced by a random text token: text prefill of the same length.
    std::vector<int32_t> text_prompt = ex.tokens;
    for (int32_t& t : text_prompt) {
      if (t < 0) t = tok(rng);
    }
    const auto t1 = Clock::now();
    run(text_prompt, {}, 2000 + static_cast<uint64_t>(r));
    text_prefill_ms.push_back(1e3 * timed.text_s);
    text_ttft_ms.push_back(1e3 * seconds(t1, *sink.first));
  }

  const std::string name = o.model_path.substr(o.model_path.find_last_of('/') + 1);
  const int threads = engine->model().pool().size();
  const double m_ttft = median(ttft_ms), m_decode = median(decode_ms), m_project = median(project_ms);
  const double m_prefill = median(prefill_ms), m_media = median(media_prefill_ms);
  const double m_text_prefill = median(text_prefill_ms), m_text_ttft = median(text_ttft_ms);
  const double media_rate = prompt_tokens / (m_prefill / 1e3), text_rate = prompt_tokens / (m_text_prefill / 1e3);
  const double rows_rate = media_tokens / (m_media / 1e3);
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const auto& pm : first) {
    for (const auto& seg : pm.segments) {
      if (seg.input == nullptr) continue;
      nlohmann::ordered_json it;
      if (seg.input->kind == runtime::MediaInput::Kind::kImage) {
        it = {{"kind", "image"}, {"width", seg.input->width}, {"height", seg.input->height}};
      } else {
        it = {{"kind", "audio"}, {"seconds", double(seg.input->samples.size()) / media::Audio::kSampleRate}};
      }
      it["tokens"] = seg.input->tokens();
      items.push_back(std::move(it));
    }
  }
  if (o.json) {
    nlohmann::ordered_json j;
    j["model"] = name;
    j["threads"] = threads;
    j["mode"] = "media";
    j["size_rule"] = o.media.size_rule;
    j["image_tokens"] = ms.image_tokens;
    j["media"] = items;
    j["prompt_tokens"] = prompt_tokens;
    j["media_tokens"] = media_tokens;
    j["repetitions"] = o.reps;
    j["median_ms"] = {{"decode", m_decode}, {"projector", m_project}, {"prefill", m_prefill},
                      {"media_prefill", m_media}, {"ttft", m_ttft}, {"text_prefill", m_text_prefill},
                      {"text_ttft", m_text_ttft}};
    j["prefill_tokens_per_s"] = {{"media_prompt", media_rate}, {"text_prompt", text_rate}, {"media_rows", rows_rate}};
    j["runs_ms"] = {{"decode", decode_ms}, {"projector", project_ms}, {"prefill", prefill_ms},
                    {"media_prefill", media_prefill_ms}, {"ttft", ttft_ms}, {"text_prefill", text_prefill_ms},
                    {"text_ttft", text_ttft_ms}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("%s, %d threads, %d-token prompt holding %d media tokens:", name.c_str(), threads, prompt_tokens,
              media_tokens);
  for (const auto& it : items) {
    if (it["kind"] == "image") {
      std::printf(" image %dx%d = %d tokens;", it["width"].get<int>(), it["height"].get<int>(), it["tokens"].get<int>());
    } else {
      std::printf(" audio %.2f s = %d tokens;", it["seconds"].get<double>(), it["tokens"].get<int>());
    }
  }
  std::printf(" medians of %d\n", o.reps);
  std::printf("| %-40s | %10s |\n", "part", "ms");
  std::printf("| %-40s | %10s |\n", "---", "---");
  std::printf("| %-40s | %10.1f |\n", "media read and decode", m_decode);
  std::printf("| %-40s | %10.1f |\n", "projector", m_project);
  std::printf("| %-40s | %10.1f |\n", "prefill (media rows and text)", m_prefill);
  std::printf("| %-40s | %10.1f |\n", "time to first token", m_ttft);
  std::printf("| %-40s | %10.1f |\n", "text-only prompt, same length: prefill", m_text_prefill);
  std::printf("| %-40s | %10.1f |\n", "text-only prompt: time to first token", m_text_ttft);
  std::printf("prefill: %.2f tokens/s with the media, %.2f text only (%.3f); the media rows alone %.2f tokens/s\n",
              media_rate, text_rate, media_rate / text_rate, rows_rate);
  std::printf("decode + projector: %.2f%% of the time to first token\n", 100 * (m_decode + m_project) / m_ttft);
  return 0;
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, BenchOptions& o) {
  auto* cmd = app.add_subcommand("bench", "measure prompt processing and generation speed (tokens/s)");
  cmd->add_option("model", o.model_path, "the .gguf file")->required();
  cmd->add_option("-t,--threads", o.n_threads, "CPU threads (default: all cores)");
  cmd->add_option("-p,--n-prompt", o.n_prompt, "prompt tokens for the pp test; 0 skips it")->capture_default_str();
  cmd->add_option("-n,--n-gen", o.n_gen, "generated tokens for the tg test; 0 skips it")->capture_default_str();
  cmd->add_option("-r,--repetitions", o.reps, "repetitions of each test")->capture_default_str();
  cmd->add_option("-b,--batch-size", o.n_batch, "prompt batch size")->capture_default_str();
  cmd->add_flag("--json", o.json, "print JSON");
  cmd->add_flag("--mmap", o.mmap, "use the weights in place from the memory-mapped file (as `locus run --mmap`)");
  cmd->add_flag("--sampled", o.sampled,
                "tg through the whole generation loop (sampling with Ollama's default options) instead of greedy "
                "forward passes; pp is skipped");
  cmd->add_option("--format", o.format,
                  "with --sampled: constrain the output ('json', a JSON Schema or @FILE) to measure the "
                  "structured-output overhead");
  cmd->add_option("--mmproj", o.media.mmproj, "the projector GGUF: with --image/--audio, time to first token of a "
                                              "prompt holding those media (pp and tg are not run)");
  add_media_options(cmd, o.media, false);
  cmd->add_option("--prompt", o.prompt, "the text after the media")->capture_default_str();
  cmd->add_option("-c,--ctx-size", o.n_ctx, "context size of the media test")->capture_default_str();
  return cmd;
}

int bench(const BenchOptions& o) {
  if (o.n_prompt < 0 || o.n_gen < 0 || o.reps < 1 || o.n_batch < 1) {
    std::fprintf(stderr, "locus: bench needs -p >= 0, -n >= 0, -r >= 1, -b >= 1\n");
    return 2;
  }
  if (!o.format.empty() && !o.sampled) {
    std::fprintf(stderr, "locus: bench --format needs --sampled\n");
    return 2;
  }
  const bool media = o.media.any();
  if (media || !o.media.mmproj.empty()) {
    if (!media || o.media.mmproj.empty()) {
      std::fprintf(stderr, "locus: bench's media test needs both --mmproj and at least one --image or --audio\n");
      return 2;
    }
    if (o.sampled || !o.format.empty()) {
      std::fprintf(stderr, "locus: bench's media test takes no --sampled or --format\n");
      return 2;
    }
    if (o.n_ctx < 16) {
      std::fprintf(stderr, "locus: bench needs --ctx-size >= 16, got %d\n", o.n_ctx);
      return 2;
    }
    try {
      return bench_media(o);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "locus: %s\n", e.what());
      return 1;
    }
  }
  if (o.sampled) {
    try {
      return bench_sampled(o);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "locus: %s\n", e.what());
      return 1;
    }
  }
  model::Gemma4ModelOptions mo;
  mo.n_ctx = static_cast<uint32_t>(std::max(o.n_prompt, o.n_gen) + 16);
  mo.n_batch = static_cast<uint32_t>(o.n_batch);
  mo.n_threads = o.n_threads;
  mo.mmap = o.mmap;
  auto m = model::Gemma4Model::load(o.model_path, mo);
  const int threads = m->pool().size();
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> tok(1000, static_cast<int32_t>(m->n_vocab()) - 1000);
  std::vector<float> logits(m->n_vocab());
  using clock = std::chrono::steady_clock;

  // A warm-up step pages the weights in and fills caches, as llama-bench does.
  {
    const int32_t t = tok(rng);
    m->forward({&t, 1}, 0, logits, false);
    m->reset();
  }
  std::vector<double> pp, tg;
  for (int r = 0; r < o.reps; ++r) {
    if (o.n_prompt > 0) {
      std::vector<int32_t> prompt(static_cast<size_t>(o.n_prompt));
      for (auto& t : prompt) t = tok(rng);
      m->reset();
      const auto t0 = clock::now();
      m->forward(prompt, 0, logits, false);
      pp.push_back(o.n_prompt / std::chrono::duration<double>(clock::now() - t0).count());
    }
    if (o.n_gen > 0) {
      m->reset();
      int32_t t = tok(rng);
      const auto t0 = clock::now();
      for (int i = 0; i < o.n_gen; ++i) {
        m->forward({&t, 1}, i, logits, false);
        t = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      }
      tg.push_back(o.n_gen / std::chrono::duration<double>(clock::now() - t0).count());
    }
  }
  const std::string name = o.model_path.substr(o.model_path.find_last_of('/') + 1);
  if (o.json) {
    nlohmann::ordered_json j;
    j["model"] = name;
    j["threads"] = threads;
    if (!pp.empty()) j["pp"] = {{"n", o.n_prompt}, {"tokens_per_s", stats(pp).mean}, {"stddev", stats(pp).stddev}, {"runs", pp}};
    if (!tg.empty()) j["tg"] = {{"n", o.n_gen}, {"tokens_per_s", stats(tg).mean}, {"stddev", stats(tg).stddev}, {"runs", tg}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("| %-32s | %7s | %8s | %18s |\n", "model", "threads", "test", "t/s");
  std::printf("| %-32s | %7s | %8s | %18s |\n", "---", "---", "---", "---");
  if (!pp.empty()) {
    const auto s = stats(pp);
    std::printf("| %-32s | %7d | %8s | %10.2f ± %5.2f |\n", name.c_str(), threads,
                ("pp" + std::to_string(o.n_prompt)).c_str(), s.mean, s.stddev);
  }
  if (!tg.empty()) {
    const auto s = stats(tg);
    std::printf("| %-32s | %7d | %8s | %10.2f ± %5.2f |\n", name.c_str(), threads,
                ("tg" + std::to_string(o.n_gen)).c_str(), s.mean, s.stddev);
  }
  return 0;
}

}  // namespace locus::cli
