// For tests of src/model: small random-weight Gemma 4 GGUFs written in-process (no tokenizer section; the
// forward pass does not need one), and a plain double-precision forward pass to check the engine against.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "gguf/test_helpers.h"
#include "gguf/writer.h"
#include "model/gemma4_config.h"
#include "model/gemma4_gguf.h"
#include "model/gemma4_model.h"
#include "tensor/quantize.h"

namespace locus::model::testing {

// Every 12B feature at toy size: sliding and full layers (last one full), 4 query heads over 2 or 1 KV
// heads, head dims 32 / 64, K=V on full layers, partial rotation on full layers, softcap, layer scales.
inline Gemma4Config small_config(uint32_t n_layer = 6, uint32_t window = 8) {
  Gemma4Config c;
  c.n_layer = n_layer;
  c.n_embd = 64;
  c.n_vocab = 300;
  c.n_head = 4;
  c.n_head_kv_swa = 2;
  c.n_head_kv_full = 1;
  c.head_dim_swa = 32;
  c.head_dim_full = 64;
  c.n_ff.assign(n_layer, 128);
  c.is_swa = Gemma4Config::pattern_full_every(n_layer, 3);
  c.sliding_window = window;
  c.context_length = 4096;
  c.k_eq_v_full = true;
  return c;
}

// The small config with the other sizes' features switched on: per-layer embeddings and KV-shared layers
// (E2B/E4B), or a mixture of experts beside the dense MLP (26B A4B).
inline Gemma4Config small_config_ple_shared_kv() {
  Gemma4Config c = small_config(6, 8);
  c.is_swa = Gemma4Config::pattern_full_every(6, 4);  // full at 3 and 5: layers 4 and 5 read 2 and 3
  c.n_embd_per_layer = 32;
  c.shared_kv_layers = 2;
  c.n_ff = {128, 128, 128, 128, 256, 256};  // double-wide MLP on the shared layers
  return c;
}

inline Gemma4Config small_config_moe() {
  Gemma4Config c = small_config(6, 8);
  c.n_expert = 8;
  c.n_expert_used = 3;
  c.n_ff_expert = 32;
  return c;
}

// Writes `c` with random weights: matrices in `matrix_type` (n_embd must suit its block size); 1-D tensors and
// the routers stay F32, as llama-quantize leaves them.
inline void write_test_model(const std::string& path, const Gemma4Config& c, gguf::GgmlType matrix_type,
                             uint64_t seed = 1) {
  gguf::GgufWriter w;
  write_gemma4_metadata(w, c, FileType::ALL_F32, "locus test model");
  const auto layout = gemma4_tensor_layout(c);
  auto type_of = [&](const TensorSpec& t) {
    return t.shape.size() == 1 || t.role == TensorRole::kRouter ? gguf::GgmlType::F32 : matrix_type;
  };
  for (const auto& t : layout) w.add_tensor(t.name, t.shape, type_of(t));
  w.begin_data(path);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const auto& t : layout) {
    std::vector<float> v(t.n_elements());
    const float fan_in = static_cast<float>(t.shape[0]);
    for (float& x : v) {
      switch (t.role) {
        case TensorRole::kNorm: x = 1.0f + 0.1f * normal(rng); break;
        case TensorRole::kQkNorm: x = std::pow(fan_in, -0.25f) * (1.0f + 0.1f * normal(rng)); break;
        case TensorRole::kScale: x = 1.0f + 0.05f * normal(rng); break;
        case TensorRole::kRopeFreqs: x = 0; break;
        default: x = normal(rng) / std::sqrt(fan_in); break;
      }
    }
    if (t.role == TensorRole::kRopeFreqs) {
      const size_t rotated = static_cast<size_t>(c.partial_rotary_full * c.head_dim_full / 2);
      for (size_t i = 0; i < v.size(); ++i) v[i] = i < rotated ? 1.0f : 1e30f;
    }
    const gguf::GgmlType type = type_of(t);
    std::vector<uint8_t> bytes(*gguf::ggml_row_bytes(type, t.shape[0]) * (t.n_elements() / t.shape[0]));
    if (!tensor::quantize_row(type, v.data(), bytes.data(), static_cast<int64_t>(v.size()))) {
      throw std::runtime_error("cannot write " + t.name);
    }
    w.write_tensor(bytes);
  }
  w.finish();
}

// A random model written to a temporary file named after the test (gguf::testing::temp_path).
inline std::string write_temp_model(const std::string& test, const std::string& name, const Gemma4Config& c,
                                    gguf::GgmlType type) {
  const std::string path = gguf::testing::temp_path(test, name);
  write_test_model(path, c, type);
  return path;
}

inline std::vector<int32_t> random_tokens(size_t n, uint32_t n_vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> t(n);
  for (int32_t& x : t) x = static_cast<int32_t>(rng() % n_vocab);
  return t;
}

// Load options for tests: a small context and batch, two threads.
inline Gemma4ModelOptions model_options(uint32_t n_ctx, uint32_t n_batch) {
  Gemma4ModelOptions o;
  o.n_ctx = n_ctx;
  o.n_batch = n_batch;
  o.n_threads = 2;
  return o;
}

// The forward pass of gemma4.md section 4 in plain double-precision loops over dequantized weights, for the
// tokens at positions 0..n-1; returns n rows of n_vocab softcapped logits. No rounding on the way: the
// engine's f16 K/V cache, GELU table and activation conversions make it differ by about their precision.
// `normed_hidden`, when given, receives the n rows of n_embd after output_norm (the LM head's input, which
// embeddings pool).
inline std::vector<double> reference_forward(const gguf::GgufFile& f, const Gemma4Config& c,
                                             const std::vector<int32_t>& tokens,
                                             std::vector<std::vector<double>>* normed_hidden = nullptr) {
  auto tensor_values = [&](const std::string& name) {
    const gguf::TensorInfo* t = f.find_tensor(name);
    if (t == nullptr) return std::vector<double>{};
    std::vector<float> v(t->n_elements());
    tensor::dequantize_row(t->type, f.tensor_data(*t).data(), v.data(), static_cast<int64_t>(v.size()));
    return std::vector<double>(v.begin(), v.end());
  };
  // y[o] = sum_i W[o][i] x[i] for W stored [n_in, n_out].
  auto matvec = [](const std::vector<double>& W, const std::vector<double>& x, size_t n_out) {
    const size_t n_in = x.size();
    std::vector<double> y(n_out, 0.0);
    for (size_t o = 0; o < n_out; ++o) {
      double s = 0;
      for (size_t i = 0; i < n_in; ++i) s += W[o * n_in + i] * x[i];
      y[o] = s;
    }
    return y;
  };
  auto rms = [&](const double* x, size_t n, const double* w, double* y) {
    double ss = 0;
    for (size_t i = 0; i < n; ++i) ss += x[i] * x[i];
    const double scale = 1.0 / std::sqrt(ss / n + c.rms_eps);
    for (size_t i = 0; i < n; ++i) y[i] = x[i] * scale * (w != nullptr ? w[i] : 1.0);
  };
  auto gelu = [&](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x))); };

  const size_t n = tokens.size(), E = c.n_embd, V = c.n_vocab;
  const auto embd = tensor_values("token_embd.weight");
  std::vector<std::vector<double>> x(n, std::vector<double>(E));
  for (size_t t = 0; t < n; ++t) {
    for (size_t i = 0; i < E; ++i) x[t][i] = embd[size_t(tokens[t]) * E + i] * std::sqrt(double(E));
  }
  const auto rope_freqs = tensor_values("rope_freqs.weight");
  // Per-layer inputs (PLE): [token][layer * pl + i].
  const size_t pl = c.n_embd_per_layer;
  std::vector<std::vector<double>> ple(n);
  if (pl > 0) {
    const auto tok = tensor_values("per_layer_token_embd.weight"), proj = tensor_values("per_layer_model_proj.weight");
    const auto norm = tensor_values("per_layer_proj_norm.weight");
    for (size_t t = 0; t < n; ++t) {
      std::vector<double> q = matvec(proj, x[t], pl * c.n_layer);
      for (double& e : q) e /= std::sqrt(double(E));
      ple[t].resize(pl * c.n_layer);
      for (size_t l = 0; l < c.n_layer; ++l) {
        rms(&q[l * pl], pl, norm.data(), &q[l * pl]);
        for (size_t i = 0; i < pl; ++i) {
          ple[t][l * pl + i] = (q[l * pl + i] + tok[size_t(tokens[t]) * pl * c.n_layer + l * pl + i] * std::sqrt(double(pl))) /
                               std::sqrt(2.0);
        }
      }
    }
  }
  std::vector<std::vector<std::vector<double>>> layer_k(c.n_layer), layer_v(c.n_layer);
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const size_t hd = c.head_dim(l), nkv = c.n_head_kv(l), nh = c.n_head, group = nh / nkv;
    const double base = c.is_swa[l] ? c.rope_base_swa : c.rope_base_full;
    const auto attn_norm = tensor_values(p + "attn_norm.weight"), wq = tensor_values(p + "attn_q.weight");
    const auto wk = tensor_values(p + "attn_k.weight"), wv = tensor_values(p + "attn_v.weight");
    const auto wo = tensor_values(p + "attn_output.weight"), qn = tensor_values(p + "attn_q_norm.weight");
    const auto kn = tensor_values(p + "attn_k_norm.weight"), post = tensor_values(p + "post_attention_norm.weight");
    std::vector<std::vector<double>> q(n), k(n), v(n);
    auto rope = [&](double* head, size_t pos) {
      for (size_t i = 0; i < hd / 2; ++i) {
        const double ff = c.is_swa[l] ? 1.0 : rope_freqs[i];
        const double theta = double(pos) * std::pow(base, -2.0 * double(i) / double(hd)) / ff;
        const double a = head[i], b = head[i + hd / 2];
        head[i] = a * std::cos(theta) - b * std::sin(theta);
        head[i + hd / 2] = a * std::sin(theta) + b * std::cos(theta);
      }
    };
    const bool own_kv = c.has_kv(l);
    for (size_t t = 0; t < n; ++t) {
      std::vector<double> h(E);
      rms(x[t].data(), E, attn_norm.data(), h.data());
      q[t] = matvec(wq, h, nh * hd);
      for (size_t i = 0; i < nh; ++i) {
        rms(&q[t][i * hd], hd, qn.data(), &q[t][i * hd]);
        rope(&q[t][i * hd], t);
      }
      if (!own_kv) continue;
      k[t] = matvec(wk, h, nkv * hd);
      v[t] = wv.empty() ? k[t] : matvec(wv, h, nkv * hd);
      for (size_t g = 0; g < nkv; ++g) {
        rms(&k[t][g * hd], hd, kn.data(), &k[t][g * hd]);
        rope(&k[t][g * hd], t);
        rms(&v[t][g * hd], hd, nullptr, &v[t][g * hd]);
      }
    }
    if (own_kv) {
      layer_k[l] = k;
      layer_v[l] = v;
    } else {
      k = layer_k[c.kv_layer(l)];
      v = layer_v[c.kv_layer(l)];
    }
    for (size_t t = 0; t < n; ++t) {
      std::vector<double> att(nh * hd, 0.0);
      const size_t first = c.is_swa[l] ? (t + 1 > c.sliding_window ? t + 1 - c.sliding_window : 0) : 0;
      for (size_t i = 0; i < nh; ++i) {
        const size_t g = i / group;
        std::vector<double> s;
        for (size_t j = first; j <= t; ++j) {
          double d = 0;
          for (size_t e = 0; e < hd; ++e) d += q[t][i * hd + e] * k[j][g * hd + e];
          s.push_back(d);
        }
        const double m = *std::max_element(s.begin(), s.end());
        double sum = 0;
        for (double& e : s) sum += (e = std::exp(e - m));
        for (size_t j = first; j <= t; ++j) {
          for (size_t e = 0; e < hd; ++e) att[i * hd + e] += s[j - first] / sum * v[j][g * hd + e];
        }
      }
      std::vector<double> a = matvec(wo, att, E);
      rms(a.data(), E, post.data(), a.data());
      for (size_t e = 0; e < E; ++e) x[t][e] += a[e];
    }
    const auto ffn_norm = tensor_values(p + "ffn_norm.weight"), wg = tensor_values(p + "ffn_gate.weight");
    const auto wu = tensor_values(p + "ffn_up.weight"), wd = tensor_values(p + "ffn_down.weight");
    const auto post_ffw = tensor_values(p + "post_ffw_norm.weight"), scale = tensor_values(p + "layer_output_scale.weight");
    const auto gate_inp = tensor_values(p + "ffn_gate_inp.weight"), gate_inp_s = tensor_values(p + "ffn_gate_inp.scale");
    const auto pre2 = tensor_values(p + "pre_ffw_norm_2.weight"), post1 = tensor_values(p + "post_ffw_norm_1.weight");
    const auto post2 = tensor_values(p + "post_ffw_norm_2.weight"), gate_up = tensor_values(p + "ffn_gate_up_exps.weight");
    const auto down_e = tensor_values(p + "ffn_down_exps.weight"), down_s = tensor_values(p + "ffn_down_exps.scale");
    const auto ple_gate = tensor_values(p + "inp_gate.weight"), ple_proj = tensor_values(p + "proj.weight");
    const auto ple_norm = tensor_values(p + "post_norm.weight");
    for (size_t t = 0; t < n; ++t) {
      std::vector<double> h(E);
      rms(x[t].data(), E, ffn_norm.data(), h.data());
      std::vector<double> g = matvec(wg, h, c.n_ff[l]);
      const std::vector<double> u = matvec(wu, h, c.n_ff[l]);
      for (size_t e = 0; e < g.size(); ++e) g[e] = gelu(g[e]) * u[e];
      std::vector<double> d = matvec(wd, g, E);
      if (c.n_expert > 0) {
        // Router on RMSNorm(x) / sqrt(E) * scale, softmax, top K renormalized; experts on RMSNorm(x; pre2).
        std::vector<double> r(E), xe(E);
        rms(x[t].data(), E, nullptr, r.data());
        for (size_t e = 0; e < E; ++e) r[e] = r[e] / std::sqrt(double(E)) * gate_inp_s[e];
        std::vector<double> pr = matvec(gate_inp, r, c.n_expert);
        const double m = *std::max_element(pr.begin(), pr.end());
        double sum = 0;
        for (double& e : pr) sum += (e = std::exp(e - m));
        for (double& e : pr) e /= sum;
        std::vector<size_t> order(c.n_expert);
        for (size_t e = 0; e < order.size(); ++e) order[e] = e;
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return pr[a] > pr[b]; });
        double wsum = 0;
        for (size_t k = 0; k < c.n_expert_used; ++k) wsum += pr[order[k]];
        rms(x[t].data(), E, pre2.data(), xe.data());
        std::vector<double> moe(E, 0.0);
        const size_t F = c.n_ff_expert;
        for (size_t k = 0; k < c.n_expert_used; ++k) {
          const size_t ex = order[k];
          const std::vector<double> gu_w(gate_up.begin() + ex * 2 * F * E, gate_up.begin() + (ex + 1) * 2 * F * E);
          std::vector<double> gu = matvec(gu_w, xe, 2 * F);
          std::vector<double> act(F);
          for (size_t i = 0; i < F; ++i) act[i] = gelu(gu[i]) * gu[F + i];
          const std::vector<double> dw(down_e.begin() + ex * E * F, down_e.begin() + (ex + 1) * E * F);
          const std::vector<double> out = matvec(dw, act, E);
          for (size_t i = 0; i < E; ++i) moe[i] += out[i] * (down_s.empty() ? 1.0 : down_s[ex]) * pr[ex] / wsum;
        }
        rms(moe.data(), E, post2.data(), moe.data());
        rms(d.data(), E, post1.data(), d.data());
        for (size_t i = 0; i < E; ++i) d[i] += moe[i];
      }
      rms(d.data(), E, post_ffw.data(), d.data());
      for (size_t e = 0; e < E; ++e) x[t][e] += d[e];
      if (pl > 0) {
        std::vector<double> pg = matvec(ple_gate, x[t], pl);
        for (size_t i = 0; i < pl; ++i) pg[i] = gelu(pg[i]) * ple[t][l * pl + i];
        std::vector<double> pp = matvec(ple_proj, pg, E);
        rms(pp.data(), E, ple_norm.data(), pp.data());
        for (size_t e = 0; e < E; ++e) x[t][e] += pp[e];
      }
      if (!scale.empty()) {
        for (size_t e = 0; e < E; ++e) x[t][e] *= scale[0];
      }
    }
  }
  const auto out_norm = tensor_values("output_norm.weight");
  auto head = tensor_values("output.weight");
  if (head.empty()) head = embd;
  std::vector<double> logits(n * V);
  for (size_t t = 0; t < n; ++t) {
    std::vector<double> y(E);
    rms(x[t].data(), E, out_norm.data(), y.data());
    if (normed_hidden != nullptr) normed_hidden->push_back(y);
    const std::vector<double> row = matvec(head, y, V);
    for (size_t o = 0; o < V; ++o) logits[t * V + o] = c.final_logit_softcap * std::tanh(row[o] / c.final_logit_softcap);
  }
  return logits;
}

}  // namespace locus::model::testing
