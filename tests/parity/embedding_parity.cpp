// Embedding parity with llama.cpp: reads the oracle's `embed` answer (tools/oracle/oracle.mjs, which ran
// llama.cpp's embedding context with the pooling it names), embeds the same token ids with locus
// (Gemma4Model::embed, same pooling), and compares the L2-normalized vectors (cosine) and the raw norms
// (within 1%).
//
//   embedding_parity MODEL.gguf ORACLE_ANSWER.json [--min-cosine 0.999] [--batch N]...
//
// Each --batch runs locus with that n_batch (default: 512 and 32); llama.cpp pooled each input in one
// batch, so a small n_batch also checks that locus's mean over several steps is the same mean.
// Exit 0 when every input passes, 1 otherwise, 2 for a usage or input error.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/gemma4_model.h"

namespace {

using locus::model::EmbeddingOptions;
using locus::model::EmbeddingPooling;
using locus::model::Gemma4Model;

struct Comparison {
  double cosine = 0;
  double max_abs_diff = 0;
};

Comparison compare(const std::vector<float>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0, d = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += a[i] * b[i];
    aa += double(a[i]) * a[i];
    bb += b[i] * b[i];
    d = std::max(d, std::abs(double(a[i]) - b[i]));
  }
  return {ab / std::sqrt(aa * bb), d};
}

int run(int argc, char** argv) {
  if (argc < 3) throw std::invalid_argument("usage: embedding_parity MODEL.gguf ORACLE_ANSWER.json [--min-cosine X] [--batch N]...");
  const std::string model_path = argv[1], answer_path = argv[2];
  double min_cosine = 0.999;
  std::vector<uint32_t> batches;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(a + ": expected a value");
    if (a == "--min-cosine") {
      min_cosine = std::stod(argv[++i]);
    } else if (a == "--batch") {
      batches.push_back(static_cast<uint32_t>(std::stoul(argv[++i])));
    } else {
      throw std::invalid_argument("unknown option " + a);
    }
  }
  if (batches.empty()) batches = {512, 32};

  std::ifstream in(answer_path);
  if (!in) throw std::invalid_argument("cannot read " + answer_path);
  const nlohmann::json answer = nlohmann::json::parse(in);
  const std::string pooling_name = answer.at("pooling").get<std::string>();
  EmbeddingPooling pooling;
  if (pooling_name == "mean") {
    pooling = EmbeddingPooling::kMean;
  } else if (pooling_name == "last" || pooling_name == "none") {
    pooling = EmbeddingPooling::kLast;  // pooling none: node-llama-cpp returns the last token's vector
  } else {
    throw std::invalid_argument("oracle pooling \"" + pooling_name + "\" has no locus counterpart");
  }
  const auto& items = answer.at("items");
  size_t longest = 0;
  for (const auto& it : items) longest = std::max(longest, it.at("tokens").size());

  bool ok = true;
  double worst_cosine = 1;
  for (const uint32_t n_batch : batches) {
    locus::model::Gemma4ModelOptions o;
    o.n_ctx = static_cast<uint32_t>(longest);
    o.n_batch = n_batch;
    auto m = Gemma4Model::load(model_path, o);
    if (answer.at("n_embd").get<uint32_t>() != m->n_embd()) throw std::invalid_argument("n_embd differs from the oracle's");
    std::vector<float> got(m->n_embd()), raw(m->n_embd());
    for (const auto& it : items) {
      const auto tokens = it.at("tokens").get<std::vector<int32_t>>();
      const auto want = it.at("embedding_normalized").get<std::vector<double>>();
      const double want_norm = it.at("norm").get<double>();
      m->embed(0, tokens, got, {pooling, true});
      m->embed(0, tokens, raw, {pooling, false});
      double norm = 0;
      for (float x : raw) norm += double(x) * x;
      norm = std::sqrt(norm);
      const Comparison c = compare(got, want);
      worst_cosine = std::min(worst_cosine, c.cosine);
      // The raw norm too: a vector of the right direction but another scale (a hidden state taken before
      // output_norm, say) is not the same embedding once a client skips normalizing (measured: within 1e-3).
      const bool pass = c.cosine >= min_cosine && std::abs(norm / want_norm - 1) <= 1e-2;
      ok = ok && pass;
      std::printf("%s pooling %s, n_batch %4u, %4zu tokens: cosine %.9f (1 - cos %.2e), max |diff| %.2e, raw norm %.6g vs %.6g%s\n",
                  pass ? "ok  " : "FAIL", pooling_name.c_str(), n_batch, tokens.size(), c.cosine, 1 - c.cosine,
                  c.max_abs_diff, norm, want_norm, it.contains("text") ? "" : " (token ids)");
    }
  }
  std::printf("%s: worst cosine %.9f over %zu inputs x %zu batch sizes (bound %.6g)\n", ok ? "PASS" : "FAIL",
              worst_cosine, items.size(), batches.size(), min_cosine);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "embedding_parity: %s\n", e.what());
    return 2;
  }
}
