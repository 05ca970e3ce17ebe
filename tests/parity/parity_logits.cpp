// Logits parity of locus's Gemma 4 forward pass with llama.cpp.
//
// For each case (a random-weight model written by locus-mkmodel in one storage type) and each prompt
// length, the same random token ids go through llama.cpp (node-llama-cpp's prebuilt libllama, the library
// the oracle in tools/oracle drives, with the oracle's settings: a fresh context per prompt, the prompt as
// one batch, flash attention "auto") and through locus with the same batching, and the logits of every
// prompt position are compared. Then both continue greedily for --greedy steps, one token at a time, with
// locus fed llama.cpp's tokens (teacher forcing) so that every step compares logits on the same input;
// a step whose argmax differs is a greedy divergence.
//
// Metric per compared row: max_i |locus_i - llama_i| / (max_i llama_i - min_i llama_i). A case passes when
// every row is within its type's bound. Where the argmax differs the two top logits are closer than twice
// the row's max difference (a near tie); those positions are counted and reported, as are the greedy runs
// that stay identical.
//
// Why the bounds are what they are: llama.cpp rounds activations (f16 K/V cache, GELU through an f16 table,
// and the matmul's activation conversion to f16 / bf16 / q8_0 / q8_K for the weight type) and sums in a
// different order than locus; a rounding that lands on the other side of a step by 1e-7 changes a value by
// a whole step, and the random models amplify that layer by layer until the two results differ by about
// the rounding noise itself. So the bound tracks the coarsest activation rounding of the type.
#include <llama.h>
#include <ggml-backend.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/gemma4_model.h"

namespace {

using namespace locus;

struct Case {
  std::string preset;
  std::string type;
  std::vector<int> lengths;
  double bound;  // max |diff| relative to the row's logit range
};

struct RowStats {
  double worst = 0, sum = 0;
  int rows = 0, argmax_differs = 0;
  double worst_tie_gap = 0;  // largest reference gap between its top-1 and locus's top-1 where they differ
  void add(const float* ours, const float* ref, size_t V) {
    double d = 0;
    float mn = ref[0], mx = ref[0];
    for (size_t i = 0; i < V; ++i) {
      d = std::max(d, double(std::abs(ours[i] - ref[i])));
      mn = std::min(mn, ref[i]);
      mx = std::max(mx, ref[i]);
    }
    const double rel = d / double(mx - mn);
    worst = std::max(worst, rel);
    sum += rel;
    ++rows;
    const size_t a = std::max_element(ours, ours + V) - ours, b = std::max_element(ref, ref + V) - ref;
    if (a != b) {
      ++argmax_differs;
      worst_tie_gap = std::max(worst_tie_gap, double(ref[b] - ref[a]) / double(mx - mn));
    }
  }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void quiet_log(ggml_log_level, const char*, void*) {}

int32_t argmax(const float* row, size_t V) { return static_cast<int32_t>(std::max_element(row, row + V) - row); }

struct Options {
  std::string mkmodel, work_dir, backend_dir;
  int threads = 2, greedy = 64;
  std::vector<Case> cases;
};

std::vector<int> parse_lengths(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) out.push_back(std::stoi(part));
  return out;
}

// Default suite: the tiny preset (window 128) in all seven types over prompts of 1 to 600 tokens, the mid
// preset (window 256) in two; lengths 1 and 17 take llama.cpp's small-batch attention path, the others its
// tiled one, and 130 / 300 / 600 cross the windows.
std::vector<Case> default_cases() {
  const std::vector<int> tiny = {1, 17, 130, 300, 600};
  return {
      {"tiny", "F32", tiny, 1e-3},   {"tiny", "F16", tiny, 2e-3},    {"tiny", "BF16", tiny, 1e-2},
      {"tiny", "Q8_0", tiny, 4e-2},  {"tiny", "Q4_0", tiny, 4e-2},   {"tiny", "Q4_K_M", tiny, 5e-2},
      {"tiny", "Q6_K", tiny, 5e-2},  {"mid", "Q8_0", {17, 300}, 5e-2}, {"mid", "Q4_K_M", {17, 300}, 6e-2},
  };
}

bool run_case(const Options& o, const Case& c, uint64_t seed) {
  const std::string path = o.work_dir + "/parity-" + c.preset + "-" + c.type + ".gguf";
  const std::string cmd = o.mkmodel + " --preset " + c.preset + " --type " + c.type + " --quiet --no-chat-template -o " +
                          path + " --seed " + std::to_string(seed);
  auto t0 = std::chrono::steady_clock::now();
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
  const double write_s = seconds_since(t0);

  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  llama_model* lm = llama_model_load_from_file(path.c_str(), mp);
  if (lm == nullptr) throw std::runtime_error("llama.cpp cannot load " + path);
  const size_t V = static_cast<size_t>(llama_vocab_n_tokens(llama_model_get_vocab(lm)));

  bool ok = true;
  std::mt19937_64 rng(seed);
  for (int L : c.lengths) {
    std::vector<int32_t> tokens(static_cast<size_t>(L));
    for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % V);
    tokens[0] = 2;  // <bos>, as a real prompt starts

    // llama.cpp, as the oracle runs it: fresh context, the prompt as one batch, flash attention "auto".
    // Generation steps use one thread: with more, llama.cpp splits a long context's attention into
    // per-thread chunks, each accumulated in f16, so its numerics depend on the thread count.
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = static_cast<uint32_t>(L + o.greedy);
    cp.n_batch = cp.n_ubatch = static_cast<uint32_t>(L);
    cp.n_seq_max = 1;
    cp.n_threads = 1;
    cp.n_threads_batch = o.threads;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_AUTO;
    cp.no_perf = true;
    llama_context* ctx = llama_init_from_model(lm, cp);
    if (ctx == nullptr) throw std::runtime_error("llama.cpp cannot create a context");
    llama_batch batch = llama_batch_init(L, 0, 1);
    for (int i = 0; i < L; ++i) {
      batch.token[i] = tokens[static_cast<size_t>(i)];
      batch.pos[i] = i;
      batch.n_seq_id[i] = 1;
      batch.seq_id[i][0] = 0;
      batch.logits[i] = 1;
    }
    batch.n_tokens = L;
    t0 = std::chrono::steady_clock::now();
    if (llama_decode(ctx, batch) != 0) throw std::runtime_error("llama_decode failed");
    const double llama_prompt_s = seconds_since(t0);

    // locus, same batching: the prompt in one step, then one token at a time.
    model::Gemma4ModelOptions mo;
    mo.n_ctx = static_cast<uint32_t>(L + o.greedy);
    mo.n_batch = static_cast<uint32_t>(L);
    mo.n_threads = o.threads;
    auto m = model::Gemma4Model::load(path, mo);
    std::vector<float> ours(static_cast<size_t>(L) * V);
    t0 = std::chrono::steady_clock::now();
    m->forward(tokens, 0, ours, true);
    const double locus_prompt_s = seconds_since(t0);

    RowStats prompt;
    for (int i = 0; i < L; ++i) prompt.add(ours.data() + static_cast<size_t>(i) * V, llama_get_logits_ith(ctx, i), V);

    RowStats gen;
    int first_divergence = -1;
    double llama_gen_s = 0, locus_gen_s = 0;
    if (o.greedy > 0) {
      std::vector<float> row(ours.end() - static_cast<std::ptrdiff_t>(V), ours.end());
      int32_t next = argmax(llama_get_logits_ith(ctx, L - 1), V);
      if (argmax(row.data(), V) != next) first_divergence = 0;
      llama_batch one = llama_batch_init(1, 0, 1);
      for (int s = 1; s < o.greedy; ++s) {
        one.token[0] = next;
        one.pos[0] = L + s - 1;
        one.n_seq_id[0] = 1;
        one.seq_id[0][0] = 0;
        one.logits[0] = 1;
        one.n_tokens = 1;
        t0 = std::chrono::steady_clock::now();
        if (llama_decode(ctx, one) != 0) throw std::runtime_error("llama_decode failed");
        llama_gen_s += seconds_since(t0);
        const float* ref = llama_get_logits_ith(ctx, -1);
        t0 = std::chrono::steady_clock::now();
        m->forward({&next, 1}, L + s - 1, row, false);
        locus_gen_s += seconds_since(t0);
        gen.add(row.data(), ref, V);
        next = argmax(ref, V);
        if (first_divergence < 0 && argmax(row.data(), V) != next) first_divergence = s;
      }
      llama_batch_free(one);
    }
    llama_batch_free(batch);
    llama_free(ctx);

    const bool pass = prompt.worst <= c.bound && gen.worst <= c.bound;
    ok = ok && pass;
    std::printf("%-4s %-6s %-6s len %3d | prompt: max %.2e mean %.2e, argmax differs %2d/%-3d | greedy %d: max %.2e, %s",
                pass ? "ok" : "FAIL", c.preset.c_str(), c.type.c_str(), L, prompt.worst, prompt.sum / prompt.rows,
                prompt.argmax_differs, prompt.rows, o.greedy, gen.worst,
                first_divergence < 0 ? "identical" : ("near tie at step " + std::to_string(first_divergence)).c_str());
    const double tie = std::max(prompt.worst_tie_gap, gen.worst_tie_gap);
    if (tie > 0) std::printf(" (widest tie %.1e)", tie);
    std::printf(" | bound %.0e | tok/s prompt %.0f vs llama %.0f, gen %.1f vs llama %.1f\n", c.bound,
                L / locus_prompt_s, L / llama_prompt_s, o.greedy > 1 ? (o.greedy - 1) / locus_gen_s : 0.0,
                o.greedy > 1 ? (o.greedy - 1) / llama_gen_s : 0.0);
    std::fflush(stdout);
  }
  llama_model_free(lm);
  std::filesystem::remove(path);
  std::printf("     (%s %s written in %.1f s)\n", c.preset.c_str(), c.type.c_str(), write_s);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string only_cases, lengths;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--mkmodel") o.mkmodel = value();
      else if (a == "--work-dir") o.work_dir = value();
      else if (a == "--backend-dir") o.backend_dir = value();
      else if (a == "--threads") o.threads = std::stoi(value());
      else if (a == "--greedy") o.greedy = std::stoi(value());
      else if (a == "--cases") only_cases = value();
      else if (a == "--lengths") lengths = value();
      else throw std::invalid_argument("unknown option " + a);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "parity_logits: %s\nusage: parity_logits --mkmodel PATH --backend-dir DIR [--work-dir DIR] "
                           "[--threads N] [--greedy N] [--cases tiny:F32,mid:Q8_0] [--lengths 1,17,130]\n", e.what());
      return 2;
    }
  }
  if (o.mkmodel.empty() || o.backend_dir.empty()) {
    std::fprintf(stderr, "parity_logits: --mkmodel and --backend-dir are required\n");
    return 2;
  }
  if (o.work_dir.empty()) o.work_dir = std::filesystem::temp_directory_path().string();
  for (const Case& c : default_cases()) {
    if (!only_cases.empty() && ("," + only_cases + ",").find("," + c.preset + ":" + c.type + ",") == std::string::npos) continue;
    o.cases.push_back(c);
    if (!lengths.empty()) o.cases.back().lengths = parse_lengths(lengths);
  }

  llama_log_set(quiet_log, nullptr);
  ggml_backend_load_all_from_path(o.backend_dir.c_str());
  llama_backend_init();
  const auto t0 = std::chrono::steady_clock::now();
  int failed = 0;
  try {
    for (size_t i = 0; i < o.cases.size(); ++i) {
      if (!run_case(o, o.cases[i], 1000 + i)) ++failed;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parity_logits: %s\n", e.what());
    return 1;
  }
  llama_backend_free();
  std::printf("%zu cases, %d failed, %.0f s\n", o.cases.size(), failed, seconds_since(t0));
  return failed == 0 ? 0 : 1;
}
