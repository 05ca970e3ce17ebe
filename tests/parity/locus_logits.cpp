// locus-logits: evaluates token ids with locus's Gemma 4 forward pass and writes the logits, in the same
// shapes as the llama.cpp oracle (tools/oracle) answers, for comparing the two by hand.
//
//   locus-logits --model m.gguf --tokens 2,100,7 --positions all --full-out rows.f32
//   locus-logits --model m.gguf --tokens 2,100,7 --greedy 64
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "model/gemma4_model.h"

namespace {

using namespace locus;

std::vector<int32_t> parse_ints(const std::string& s) {
  std::vector<int32_t> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (!part.empty()) out.push_back(std::stoi(part));
  }
  return out;
}

int32_t argmax(const float* row, uint32_t n) {
  return static_cast<int32_t>(std::max_element(row, row + n) - row);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"locus-logits: Gemma 4 logits from locus's forward pass", "locus-logits"};
  std::string model_path, tokens_text, positions_text = "-1", full_out, compare;
  uint32_t n_ctx = 0, n_batch = 0;
  int threads = 0, greedy = 0;
  bool f32_attention = false;
  app.add_option("--model", model_path, "GGUF file")->required();
  app.add_option("--tokens", tokens_text, "token ids, comma separated")->required();
  app.add_option("--positions", positions_text, "positions whose logits to report: all, or a list (-1 = last)");
  app.add_option("--full-out", full_out, "write the rows of the listed positions as little-endian f32");
  app.add_option("--compare", compare, "an oracle --full-out file for the same positions: print the differences");
  app.add_option("--greedy", greedy, "after the prompt, generate this many tokens by argmax, one at a time");
  app.add_option("--ctx", n_ctx, "KV cache positions (default: prompt + greedy)");
  app.add_option("--batch", n_batch, "tokens per forward step (default: the prompt length)");
  app.add_option("--threads", threads, "threads (0 = all cores)");
  app.add_flag("--f32-attention", f32_attention, "f32 attention whatever the batch size");
  CLI11_PARSE(app, argc, argv);

  try {
    const std::vector<int32_t> tokens = parse_ints(tokens_text);
    if (tokens.empty()) throw std::invalid_argument("--tokens: no token ids");
    const int64_t n = static_cast<int64_t>(tokens.size());
    std::vector<int64_t> positions;
    if (positions_text == "all") {
      for (int64_t i = 0; i < n; ++i) positions.push_back(i);
    } else {
      for (int32_t p : parse_ints(positions_text)) positions.push_back(p < 0 ? n + p : p);
    }
    for (int64_t p : positions) {
      if (p < 0 || p >= n) throw std::invalid_argument("--positions: " + std::to_string(p) + " outside the prompt");
    }

    model::Gemma4ModelOptions o;
    o.n_ctx = n_ctx != 0 ? n_ctx : static_cast<uint32_t>(n + greedy);
    o.n_batch = n_batch != 0 ? n_batch : static_cast<uint32_t>(n);
    o.n_threads = threads;
    o.attention = f32_attention ? model::AttentionPrecision::kF32 : model::AttentionPrecision::kLikeLlamaCpp;
    auto t0 = std::chrono::steady_clock::now();
    auto m = model::Gemma4Model::load(model_path, o);
    const double load_s = seconds_since(t0);
    const uint32_t V = m->n_vocab();

    std::vector<float> logits(static_cast<size_t>(n) * V);
    t0 = std::chrono::steady_clock::now();
    m->forward(tokens, 0, logits, true);
    const double prompt_s = seconds_since(t0);

    std::printf("{\"n_tokens\":%lld,\"load_s\":%.3f,\"prompt_s\":%.3f,\"prompt_tok_per_s\":%.2f,\"positions\":[",
                static_cast<long long>(n), load_s, prompt_s, double(n) / prompt_s);
    std::FILE* out = full_out.empty() ? nullptr : std::fopen(full_out.c_str(), "wb");
    if (!full_out.empty() && out == nullptr) throw std::runtime_error("cannot write " + full_out);
    for (size_t i = 0; i < positions.size(); ++i) {
      const float* row = logits.data() + static_cast<size_t>(positions[i]) * V;
      std::printf("%s{\"position\":%lld,\"argmax\":%d,\"max\":%.6f}", i ? "," : "", static_cast<long long>(positions[i]),
                  argmax(row, V), *std::max_element(row, row + V));
      if (out != nullptr) std::fwrite(row, sizeof(float), V, out);
    }
    if (out != nullptr) std::fclose(out);
    std::printf("]");
    if (!compare.empty()) {
      std::ifstream in(compare, std::ios::binary);
      std::vector<float> ref(V);
      double worst = 0;
      int mismatches = 0;
      for (size_t i = 0; i < positions.size(); ++i) {
        if (!in.read(reinterpret_cast<char*>(ref.data()), V * sizeof(float))) throw std::runtime_error("short " + compare);
        const float* row = logits.data() + static_cast<size_t>(positions[i]) * V;
        double max_diff = 0;
        for (uint32_t j = 0; j < V; ++j) max_diff = std::max(max_diff, double(std::abs(row[j] - ref[j])));
        const auto [mn, mx] = std::minmax_element(ref.begin(), ref.end());
        const double rel = max_diff / (*mx - *mn);
        worst = std::max(worst, rel);
        const int32_t a = argmax(row, V), b = argmax(ref.data(), V);
        if (a != b) ++mismatches;
        std::fprintf(stderr, "pos %lld: max|diff| %.3g rel %.3g argmax %d/%d%s\n", static_cast<long long>(positions[i]),
                     max_diff, rel, a, b, a != b ? " MISMATCH" : "");
      }
      std::printf(",\"worst_rel_diff\":%.4g,\"argmax_mismatches\":%d", worst, mismatches);
    }

    if (greedy > 0) {
      std::vector<float> row(V);
      int32_t next = argmax(logits.data() + static_cast<size_t>(n - 1) * V, V);
      std::vector<int32_t> generated{next};
      t0 = std::chrono::steady_clock::now();
      for (int i = 1; i < greedy; ++i) {
        m->forward({&next, 1}, m->n_past(), row, false);
        next = argmax(row.data(), V);
        generated.push_back(next);
      }
      const double gen_s = seconds_since(t0);
      std::printf(",\"generated\":[");
      for (size_t i = 0; i < generated.size(); ++i) std::printf("%s%d", i ? "," : "", generated[i]);
      std::printf("],\"generate_tok_per_s\":%.2f", greedy > 1 ? double(greedy - 1) / gen_s : 0.0);
    }
    std::printf("}\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "locus-logits: %s\n", e.what());
    return 1;
  }
  return 0;
}
