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
#include <cstring>
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
  std::string preset;  // a locus-mkmodel preset, optionally with "/N": only its first N layers' pattern
  std::string type;
  std::vector<int> lengths;
  double bound;              // max |diff| relative to the row's logit range
  std::vector<int> greedy_after;  // prompt lengths followed by greedy generation (empty: all)
};

struct RowStats {
  double worst = 0, sum = 0;
  std::vector<double> all;
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
    all.push_back(rel);
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

// The value below which 99% of the rows' differences lie.
double p99(std::vector<double> v) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(0.99 * double(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

int32_t argmax(const float* row, size_t V) { return static_cast<int32_t>(std::max_element(row, row + V) - row); }

struct Options {
  std::string mkmodel, work_dir, backend_dir;
  std::string oracle;  // "NODE ORACLE.mjs": cross-check the in-process llama.cpp against tools/oracle once
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
// Greedy generation follows the 17-token prompt (small-batch attention all along) and the 600-token one
// (sliding rings wrapped, full layers long).
std::vector<Case> default_cases() {
  const std::vector<int> tiny = {1, 17, 130, 300, 600};
  const std::vector<int> greedy = {17, 600};
  return {
      {"tiny", "F32", tiny, 1e-3, greedy},   {"tiny", "F16", tiny, 2e-3, greedy},
      {"tiny", "BF16", tiny, 1e-2, greedy},  {"tiny", "Q8_0", tiny, 4e-2, greedy},
      {"tiny", "Q4_0", tiny, 4e-2, greedy},  {"tiny", "Q4_K_M", tiny, 5e-2, greedy},
      {"tiny", "Q6_K", tiny, 5e-2, greedy},  {"mid", "Q8_0", {17, 300}, 5e-2, {300}},
      {"mid", "Q4_K_M", {17, 300}, 6e-2, {300}},
  };
}

bool run_case(const Options& o, const Case& c, uint64_t seed) {
  const size_t slash = c.preset.find('/');
  const std::string preset = c.preset.substr(0, slash);
  const std::string layers = slash == std::string::npos ? "" : " --layers " + c.preset.substr(slash + 1);
  const std::string path = o.work_dir + "/parity-" + preset + "-" + c.type + ".gguf";
  const std::string cmd = o.mkmodel + " --preset " + preset + layers + " --type " + c.type +
                          " --quiet --no-chat-template -o " + path + " --seed " + std::to_string(seed);
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

    const int greedy = c.greedy_after.empty() || std::count(c.greedy_after.begin(), c.greedy_after.end(), L) ? o.greedy : 0;
    // llama.cpp, as the oracle runs it: fresh context, the prompt as one batch, flash attention "auto".
    // Generation steps use one thread: with more, llama.cpp splits a long context's attention into
    // per-thread chunks, each accumulated in f16, so its numerics depend on the thread count.
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = static_cast<uint32_t>(L + greedy);
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
    mo.n_ctx = static_cast<uint32_t>(L + greedy);
    mo.n_batch = static_cast<uint32_t>(L);
    mo.n_threads = o.threads;
    auto m = model::Gemma4Model::load(path, mo);
    std::vector<float> ours(static_cast<size_t>(L) * V);
    t0 = std::chrono::steady_clock::now();
    m->forward(tokens, 0, ours, true);
    const double locus_prompt_s = seconds_since(t0);

    RowStats prompt;
    for (int i = 0; i < L; ++i) prompt.add(ours.data() + static_cast<size_t>(i) * V, llama_get_logits_ith(ctx, i), V);

    // Once per run: the in-process library gives what the oracle (tools/oracle, through node-llama-cpp)
    // answers for the same tokens, bit for bit.
    static bool oracle_checked = false;
    if (!o.oracle.empty() && !oracle_checked && L > 1) {
      oracle_checked = true;
      const std::string rows = o.work_dir + "/parity-oracle-rows.f32";
      std::string list;
      for (int32_t t : tokens) {
        if (!list.empty()) list += ',';
        list += std::to_string(t);
      }
      const int positions[] = {0, L / 2, L - 1};
      const std::string cmd = o.oracle + " logits --model " + path + " --tokens " + list + " --positions " +
                              std::to_string(positions[0]) + "," + std::to_string(positions[1]) + "," +
                              std::to_string(positions[2]) + " --threads " + std::to_string(o.threads) +
                              " --top 1 --full-out " + rows + " > /dev/null";
      if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
      std::vector<float> got(3 * V);
      std::FILE* f = std::fopen(rows.c_str(), "rb");
      const size_t n_read = f != nullptr ? std::fread(got.data(), sizeof(float), got.size(), f) : 0;
      if (f != nullptr) std::fclose(f);
      std::filesystem::remove(rows);
      bool same = n_read == got.size();
      for (int r = 0; r < 3 && same; ++r) {
        same = std::memcmp(got.data() + r * V, llama_get_logits_ith(ctx, positions[r]), V * sizeof(float)) == 0;
      }
      std::printf("     oracle cross-check (%s %s, %d tokens, 3 rows): %s\n", c.preset.c_str(), c.type.c_str(), L,
                  same ? "bit-identical to tools/oracle" : "DIFFERENT from tools/oracle");
      ok = ok && same;
    }

    RowStats gen;
    int first_divergence = -1;
    double llama_gen_s = 0, locus_gen_s = 0;
    if (greedy > 0) {
      std::vector<float> row(ours.end() - static_cast<std::ptrdiff_t>(V), ours.end());
      int32_t next = argmax(llama_get_logits_ith(ctx, L - 1), V);
      if (argmax(row.data(), V) != next) first_divergence = 0;
      llama_batch one = llama_batch_init(1, 0, 1);
      for (int s = 1; s < greedy; ++s) {
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
    std::printf("%-4s %-6s %-6s len %3d | prompt: max %.2e p99 %.2e mean %.2e, argmax differs %2d/%-3d",
                pass ? "ok" : "FAIL", c.preset.c_str(), c.type.c_str(), L, prompt.worst, p99(prompt.all),
                prompt.sum / prompt.rows, prompt.argmax_differs, prompt.rows);
    if (greedy > 0) {
      std::printf(" | greedy %d: max %.2e, %s", greedy, gen.worst,
                  first_divergence < 0 ? "identical" : ("near tie at step " + std::to_string(first_divergence)).c_str());
    }
    const double tie = std::max(prompt.worst_tie_gap, gen.worst_tie_gap);
    if (tie > 0) std::printf(" (widest tie %.1e)", tie);
    std::printf(" | bound %.0e | tok/s prompt %.0f (llama %.0f)", c.bound, L / locus_prompt_s, L / llama_prompt_s);
    if (greedy > 1) std::printf(", gen %.1f (llama %.1f)", (greedy - 1) / locus_gen_s, (greedy - 1) / llama_gen_s);
    std::printf("\n");
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
      else if (a == "--oracle") o.oracle = value();
      else if (a == "--threads") o.threads = std::stoi(value());
      else if (a == "--greedy") o.greedy = std::stoi(value());
      else if (a == "--cases") only_cases = value();
      else if (a == "--lengths") lengths = value();
      else throw std::invalid_argument("unknown option " + a);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "parity_logits: %s\nusage: parity_logits --mkmodel PATH --backend-dir DIR [--work-dir DIR] "
                           "[--threads N] [--greedy N] [--cases tiny:F32,mid:Q8_0] [--lengths 1,17,130] [--oracle 'NODE ORACLE.mjs']\n", e.what());
      return 2;
    }
  }
  if (o.mkmodel.empty() || o.backend_dir.empty()) {
    std::fprintf(stderr, "parity_logits: --mkmodel and --backend-dir are required\n");
    return 2;
  }
  if (o.work_dir.empty()) o.work_dir = std::filesystem::temp_directory_path().string();
  if (only_cases.empty()) {
    o.cases = default_cases();
  } else {
    // PRESET[/LAYERS]:TYPE[:BOUND], comma separated; the default suite's bound when it has the case.
    std::stringstream ss(only_cases);
    std::string item;
    while (std::getline(ss, item, ',')) {
      const size_t colon = item.find(':');
      if (colon == std::string::npos) {
        std::fprintf(stderr, "parity_logits: --cases: expected PRESET:TYPE, found %s\n", item.c_str());
        return 2;
      }
      Case c{item.substr(0, colon), item.substr(colon + 1), {17, 130}, 5e-2, {}};
      const size_t colon2 = c.type.find(':');
      if (colon2 != std::string::npos) {
        c.bound = std::stod(c.type.substr(colon2 + 1));
        c.type = c.type.substr(0, colon2);
      }
      for (const Case& d : default_cases()) {
        if (d.preset == c.preset && d.type == c.type) c = d;
      }
      o.cases.push_back(c);
    }
  }
  if (!lengths.empty()) {
    for (Case& c : o.cases) {
      c.lengths = parse_lengths(lengths);
      c.greedy_after.clear();  // generate after each
    }
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
