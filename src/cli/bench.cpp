#include "cli/bench.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "cli/format_arg.h"
#include "model/gemma4_model.h"
#include "runtime/gemma4_engine.h"

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
