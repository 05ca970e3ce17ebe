// Aggregate decode speed of B sequences decoded together (Gemma4Model::forward_batch: one pass over the
// weights per step for all of them) against one sequence, as the server's parallel slots will decode.
//
// usage: parallel_decode_bench MODEL.gguf [-t THREADS] [-n TOKENS] [-r REPS] [--parallel 1,2,4] [--mmap]
// Each sequence starts from its own random token at position 0 and decodes TOKENS tokens greedily; a line
// per B gives B * TOKENS / seconds (aggregate) and the per-sequence rate. Not a test: run it by hand.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "model/gemma4_model.h"

namespace {

using namespace locus::model;

int usage() {
  std::fprintf(stderr, "usage: parallel_decode_bench MODEL.gguf [-t THREADS] [-n TOKENS] [-r REPS] [--parallel 1,2,4] [--mmap]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string path = argv[1];
  int threads = 0, n_gen = 64, reps = 2;
  bool mmap = false;
  std::vector<int> parallel = {1, 2, 4};
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "-t" && has_value) {
      threads = std::atoi(argv[++i]);
    } else if (a == "-n" && has_value) {
      n_gen = std::atoi(argv[++i]);
    } else if (a == "-r" && has_value) {
      reps = std::atoi(argv[++i]);
    } else if (a == "--parallel" && has_value) {
      parallel.clear();
      std::stringstream ss(argv[++i]);
      for (std::string x; std::getline(ss, x, ',');) parallel.push_back(std::atoi(x.c_str()));
    } else if (a == "--mmap") {
      mmap = true;
    } else {
      return usage();
    }
  }
  if (n_gen < 1 || reps < 1 || parallel.empty() || *std::min_element(parallel.begin(), parallel.end()) < 1) return usage();
  const int max_b = *std::max_element(parallel.begin(), parallel.end());

  Gemma4ModelOptions o;
  o.n_ctx = static_cast<uint32_t>(n_gen + 16);
  o.n_batch = static_cast<uint32_t>(std::max(max_b, 8));
  o.n_threads = threads;
  o.mmap = mmap;
  auto m = Gemma4Model::load(path, o);
  std::vector<SequenceId> ids = {kDefaultSequence};
  while (static_cast<int>(ids.size()) < max_b) ids.push_back(m->add_sequence());
  const size_t V = m->n_vocab();
  std::vector<float> logits(static_cast<size_t>(max_b) * V);
  std::vector<BatchItem> items(static_cast<size_t>(max_b));
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(V) - 1);

  // Decodes n steps of the first b sequences from empty caches; returns the seconds taken.
  auto run = [&](int b, int n) {
    for (int s = 0; s < b; ++s) {
      m->reset(ids[s]);
      items[s] = {ids[s], tok(rng), 0};
    }
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      m->forward_batch({items.data(), static_cast<size_t>(b)}, {logits.data(), static_cast<size_t>(b) * V});
      for (int s = 0; s < b; ++s) {
        const float* row = logits.data() + static_cast<size_t>(s) * V;
        items[s].token = static_cast<int32_t>(std::max_element(row, row + V) - row);
        items[s].pos = m->n_past(ids[s]);
      }
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };

  run(1, 2);  // warm-up: pages the weights in
  const std::string name = path.substr(path.find_last_of('/') + 1);
  std::printf("| %-24s | %7s | %3s | %6s | %22s | %14s |\n", "model", "threads", "B", "test", "aggregate t/s", "per sequence");
  std::printf("| %-24s | %7s | %3s | %6s | %22s | %14s |\n", "---", "---", "---", "---", "---", "---");
  for (int b : parallel) {
    std::vector<double> rates;
    for (int r = 0; r < reps; ++r) rates.push_back(b * n_gen / run(b, n_gen));
    double mean = 0, var = 0;
    for (double x : rates) mean += x;
    mean /= double(rates.size());
    for (double x : rates) var += (x - mean) * (x - mean);
    const double sd = rates.size() > 1 ? std::sqrt(var / double(rates.size() - 1)) : 0.0;
    std::printf("| %-24s | %7d | %3d | %6s | %12.2f ± %7.2f | %14.2f |\n", name.c_str(), m->pool().size(), b,
                ("tg" + std::to_string(n_gen)).c_str(), mean, sd, mean / b);
    std::fflush(stdout);
  }
  return 0;
}
