// Where locus's forward pass and llama.cpp's part ways: a diagnostic for the logits parity suite.
//
// Runs one prompt through llama.cpp (the prebuilt libllama, an eval callback copying every named
// intermediate: attn_norm-L, Qcur-L, ..., l_out-L, result_output) and through a step-by-step replica of
// locus's Gemma 4 forward pass built from the model library's own pieces (the same matmul, norms, RoPE,
// f16 cache and attention Gemma4Model::step uses; dense models only), and prints for every named tensor
//  - "chain": locus run on its own vs llama.cpp (how the difference grows layer by layer);
//  - "local": each operation of locus fed llama.cpp's own inputs vs llama.cpp's output of that operation
//    (the error that operation adds by itself; a systematic difference shows up here);
//  - "ulp":   locus on its own vs locus with every input activation (the scaled embeddings) moved one ulp
//    up or down at random (how much the model and its rounding points amplify a rounding difference).
// Then, for the logits, how close the top two candidates of each row are (the margin a comparison of
// argmaxes has) against the differences above.
// Differences are max|a - b| / max|b| over the tensor ("rel") and rms(a - b) / rms(b) ("rms").
//
//   parity-trace --model M.gguf --backend-dir DIR [--tokens 17] [--seed 1] [--threads 2] [--require-exact 1]
#include <ggml-backend.h>
#include <ggml.h>
#include <llama.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "model/attention.h"
#include "model/gemma4_gguf.h"
#include "model/gemma4_model.h"
#include "model/kv_cache.h"
#include "model/layer_ops.h"
#include "model/weights.h"
#include "tensor/matmul.h"
#include "tensor/quant_math.h"

namespace {

using namespace locus;
using namespace locus::model;
using Tensors = std::map<std::string, std::vector<float>>;

void quiet_log(ggml_log_level, const char*, void*) {}

bool capture(ggml_tensor* t, bool ask, void* user) {
  const char* name = ggml_get_name(t);
  if (name == nullptr || name[0] == '\0' || std::strncmp(name, "node_", 5) == 0 || std::strncmp(name, "leaf_", 5) == 0 ||
      std::strchr(name, ' ') != nullptr) {
    return false;
  }
  if (ask) return true;
  if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t) || t->data == nullptr) return true;
  auto& out = (*static_cast<Tensors*>(user))[name];
  const auto* p = static_cast<const float*>(t->data);
  out.assign(p, p + ggml_nelements(t));
  return true;
}

struct Diff {
  double rel = 0, rms = 0;
};
Diff diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, m = 0, se = 0, sb = 0;
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const double e = double(a[i]) - double(b[i]);
    d = std::max(d, std::abs(e));
    m = std::max(m, std::abs(double(b[i])));
    se += e * e;
    sb += double(b[i]) * double(b[i]);
  }
  return {m > 0 ? d / m : d, sb > 0 ? std::sqrt(se / sb) : std::sqrt(se)};
}

// locus's forward pass, one step for the whole prompt, as Gemma4Model::step runs it. After every named
// tensor `hook(name, data, count)` is called: it may record it, or overwrite it (teacher forcing).
using Hook = std::function<void(const std::string&, float*, size_t)>;

struct Replica {
  gguf::GgufFile file;
  Gemma4Config c;
  Gemma4Weights w;
  tensor::ThreadPool pool;
  tensor::MatmulScratch ms;
  AttentionScratch as;

  Replica(const std::string& path, int threads)
      : file(gguf::GgufFile::open(path)), c(read_gemma4_config(file)), w(), pool(threads) {
    if (c.n_rot_full == 0) c.n_rot_full = c.head_dim_full;
    if (c.n_rot_swa == 0) c.n_rot_swa = c.head_dim_swa;
    w = Gemma4Weights::bind(file, c);
  }

  std::vector<float> forward(const std::vector<int32_t>& tokens, const Hook& hook, bool perturb = false) {
    const int64_t n = static_cast<int64_t>(tokens.size());
    const uint32_t E = c.n_embd;
    KvCache cache(c, static_cast<uint32_t>(n), static_cast<uint32_t>(n));
    uint32_t max_hd = 0, max_group = 0;
    for (uint32_t l = 0; l < c.n_layer; ++l) {
      max_hd = std::max(max_hd, c.head_dim(l));
      max_group = std::max(max_group, c.n_head / c.n_head_kv(l));
    }
    as.reserve(pool.size(), max_hd, max_group);
    std::vector<float> x(n * E), xn(n * E), proj(n * E);
    std::vector<float> rope_swa(n * c.n_rot_swa), rope_full(n * c.n_rot_full);
    const float embd_scale = std::sqrt(static_cast<float>(E));
    for (int64_t t = 0; t < n; ++t) {
      tensor::get_row(w.token_embd, tokens[t], x.data() + t * E);
      for (uint32_t i = 0; i < E; ++i) x[t * E + i] *= embd_scale;
      rope_angles(static_cast<int32_t>(t), static_cast<int>(c.n_rot_swa), c.rope_base_swa, nullptr,
                  rope_swa.data() + t * c.n_rot_swa);
      rope_angles(static_cast<int32_t>(t), static_cast<int>(c.n_rot_full), c.rope_base_full, w.rope_freqs.data(),
                  rope_full.data() + t * c.n_rot_full);
    }
    if (perturb) {
      // Every input activation one ulp up or down (as a different summation order would leave it).
      std::mt19937_64 coin(7);
      for (float& e : x) e = std::nextafter(e, (coin() & 1) != 0 ? INFINITY : -INFINITY);
    }
    hook("inp_scaled", x.data(), x.size());
    auto norm_rows = [&](const float* in, const float* wt, float* out, int64_t rows, uint32_t width) {
      for (int64_t r = 0; r < rows; ++r) rms_norm(in + r * width, wt, out + r * width, width, c.rms_eps);
    };
    for (uint32_t l = 0; l < c.n_layer; ++l) {
      const auto& lw = w.layers[l];
      std::string s = "-";
      s += std::to_string(l);
      const uint32_t hd = c.head_dim(l), n_kv = c.n_head_kv(l), n_rot = c.n_rot(l);
      const uint32_t q_dim = c.n_head * hd, kv_dim = n_kv * hd;
      const std::vector<float>& rope = c.is_swa[l] ? rope_swa : rope_full;
      std::vector<float> q(n * q_dim), k(n * kv_dim), v(n * kv_dim), att(n * q_dim);
      norm_rows(x.data(), lw.attn_norm.data(), xn.data(), n, E);
      hook("attn_norm" + s, xn.data(), xn.size());
      tensor::matmul(lw.attn_q, xn.data(), n, q.data(), pool, ms);
      hook("Qcur" + s, q.data(), q.size());
      tensor::matmul(lw.attn_k, xn.data(), n, k.data(), pool, ms);
      // K=V layers: llama.cpp's K projection carries the name Vcur (given last).
      hook((lw.attn_v.data != nullptr ? "Kcur" : "Vcur") + s, k.data(), k.size());
      if (lw.attn_v.data != nullptr) {
        tensor::matmul(lw.attn_v, xn.data(), n, v.data(), pool, ms);
        hook("Vcur" + s, v.data(), v.size());
      } else {
        v = k;
      }
      norm_rows(q.data(), lw.attn_q_norm.data(), q.data(), n * c.n_head, hd);
      hook("Qcur_normed" + s, q.data(), q.size());
      norm_rows(k.data(), lw.attn_k_norm.data(), k.data(), n * n_kv, hd);
      hook("Kcur_normed" + s, k.data(), k.size());
      norm_rows(v.data(), nullptr, v.data(), n * n_kv, hd);
      hook("Vcur_normed" + s, v.data(), v.size());
      for (int64_t t = 0; t < n; ++t) {
        for (uint32_t h = 0; h < c.n_head; ++h) rope_neox(q.data() + t * q_dim + h * hd, static_cast<int>(n_rot), rope.data() + t * n_rot);
        for (uint32_t g = 0; g < n_kv; ++g) rope_neox(k.data() + t * kv_dim + g * hd, static_cast<int>(n_rot), rope.data() + t * n_rot);
      }
      hook("Qcur_pos" + s, q.data(), q.size());
      hook("Kcur_pos" + s, k.data(), k.size());
      KvLayer& kv = cache.layer(l);
      for (int64_t t = 0; t < n; ++t) {
        for (uint32_t i = 0; i < kv_dim; ++i) {
          kv.k_row(static_cast<int32_t>(t))[i] = tensor::float_to_half(k[t * kv_dim + i]);
          kv.v_row(static_cast<int32_t>(t))[i] = tensor::float_to_half(v[t * kv_dim + i]);
        }
      }
      AttentionBatch b;
      b.q = q.data();
      b.n_tokens = n;
      b.pos0 = 0;
      b.n_head = c.n_head;
      b.window = c.is_swa[l] ? c.sliding_window : 0;
      b.out = att.data();
      attention(kv, b, llama_cpp_attention_numerics(n), pool, as);
      hook("kqv_out" + s, att.data(), att.size());
      tensor::matmul(lw.attn_output, att.data(), n, proj.data(), pool, ms);
      norm_rows(proj.data(), lw.post_attention_norm.data(), proj.data(), n, E);
      hook("attn_post_norm" + s, proj.data(), proj.size());
      for (size_t i = 0; i < x.size(); ++i) x[i] = proj[i] + x[i];
      hook("attn_out" + s, x.data(), x.size());

      const uint32_t ff = c.n_ff[l];
      std::vector<float> gate(n * ff), up(n * ff);
      norm_rows(x.data(), lw.ffn_norm.data(), xn.data(), n, E);
      hook("ffn_norm" + s, xn.data(), xn.size());
      tensor::matmul(lw.ffn_gate, xn.data(), n, gate.data(), pool, ms);
      hook("ffn_gate" + s, gate.data(), gate.size());
      tensor::matmul(lw.ffn_up, xn.data(), n, up.data(), pool, ms);
      hook("ffn_up" + s, up.data(), up.size());
      for (int64_t t = 0; t < n; ++t) geglu(gate.data() + t * ff, up.data() + t * ff, gate.data() + t * ff, ff);
      hook("ffn_geglu" + s, gate.data(), gate.size());
      tensor::matmul(lw.ffn_down, gate.data(), n, proj.data(), pool, ms);
      hook("ffn_out" + s, proj.data(), proj.size());
      norm_rows(proj.data(), lw.post_ffw_norm.data(), proj.data(), n, E);
      hook("ffn_post_norm" + s, proj.data(), proj.size());
      for (size_t i = 0; i < x.size(); ++i) x[i] = proj[i] + x[i];
      if (lw.has_output_scale) {
        for (float& e : x) e *= lw.output_scale;
      }
      hook("l_out" + s, x.data(), x.size());
    }
    norm_rows(x.data(), w.output_norm.data(), xn.data(), n, E);
    hook("result_norm", xn.data(), xn.size());
    std::vector<float> logits(n * c.n_vocab);
    tensor::matmul(w.output, xn.data(), n, logits.data(), pool, ms);
    softcap(logits.data(), static_cast<int64_t>(logits.size()), c.final_logit_softcap);
    hook("result_output", logits.data(), logits.size());
    return logits;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string model, backend_dir;
  int n_tokens = 17, threads = 2;
  bool require_exact = false;
  uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--model") model = v;
    else if (a == "--backend-dir") backend_dir = v;
    else if (a == "--tokens") n_tokens = std::stoi(v);
    else if (a == "--threads") threads = std::stoi(v);
    else if (a == "--seed") seed = std::stoull(v);
    else if (a == "--require-exact") require_exact = v == "1";
  }
  if (model.empty() || backend_dir.empty()) {
    std::fprintf(stderr, "usage: parity_trace --model M.gguf --backend-dir DIR [--tokens N] [--seed S] [--threads T] "
                         "[--require-exact 1]\n");
    return 2;
  }
  if (require_exact && !attention_uses_avx2()) {
    std::printf("skipped: the portable attention loops do not follow llama.cpp's x86 summation order\n");
    return 77;
  }
  llama_log_set(quiet_log, nullptr);
  ggml_backend_load_all_from_path(backend_dir.c_str());
  llama_backend_init();

  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  llama_model* lm = llama_model_load_from_file(model.c_str(), mp);
  if (lm == nullptr) return 1;
  const int32_t V = llama_vocab_n_tokens(llama_model_get_vocab(lm));
  std::mt19937_64 rng(seed);
  std::vector<int32_t> tokens(static_cast<size_t>(n_tokens));
  for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint64_t>(V));
  tokens[0] = 2;

  Tensors ref;
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = cp.n_batch = cp.n_ubatch = static_cast<uint32_t>(n_tokens);
  cp.n_seq_max = 1;
  cp.n_threads = cp.n_threads_batch = threads;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_AUTO;
  cp.cb_eval = capture;
  cp.cb_eval_user_data = &ref;
  llama_context* ctx = llama_init_from_model(lm, cp);
  llama_batch batch = llama_batch_init(n_tokens, 0, 1);
  for (int i = 0; i < n_tokens; ++i) {
    batch.token[i] = tokens[static_cast<size_t>(i)];
    batch.pos[i] = i;
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = 0;
    batch.logits[i] = 1;
  }
  batch.n_tokens = n_tokens;
  if (llama_decode(ctx, batch) != 0) return 1;
  ref["result_output"].assign(llama_get_logits(ctx), llama_get_logits(ctx) + size_t(n_tokens) * size_t(V));

  Replica rep(model, threads);
  // The replica against the library's own forward pass (must be bit-identical, else the trace is moot).
  Tensors chain, ulp;
  std::vector<std::string> order;
  const auto logits = rep.forward(tokens, [&](const std::string& name, float* d, size_t n) {
    chain[name].assign(d, d + n);
    order.push_back(name);
  });
  {
    Gemma4ModelOptions mo;
    mo.n_ctx = mo.n_batch = static_cast<uint32_t>(n_tokens);
    mo.n_threads = threads;
    auto m = Gemma4Model::load(model, mo);
    std::vector<float> lib(logits.size());
    m->forward(tokens, 0, lib, true);
    std::printf("replica vs Gemma4Model::forward: %s\n",
                std::memcmp(lib.data(), logits.data(), lib.size() * sizeof(float)) == 0 ? "bit-identical" : "DIFFERENT");
  }
  Tensors local;
  rep.forward(tokens, [&](const std::string& name, float* d, size_t n) {
    local[name].assign(d, d + n);
    auto it = ref.find(name);
    if (it != ref.end() && it->second.size() == n) std::copy(it->second.begin(), it->second.end(), d);
  });
  if (const char* detail = std::getenv("PARITY_TRACE_DETAIL")) {
    // Where one tensor's local result differs: counts per token row, and the first few elements.
    const std::vector<float>& a = local[detail];
    const std::vector<float>& b = ref[detail];
    const size_t row = a.size() / static_cast<size_t>(n_tokens);
    int shown = 0;
    for (size_t t = 0; t < static_cast<size_t>(n_tokens) && row > 0; ++t) {
      int differ = 0;
      for (size_t i = 0; i < row; ++i) {
        if (a[t * row + i] != b[t * row + i]) {
          ++differ;
          if (shown < 12) {
            ++shown;
            std::printf("  %s token %zu elem %zu: locus %.9g llama %.9g\n", detail, t, i, a[t * row + i], b[t * row + i]);
          }
        }
      }
      std::printf("  %s token %zu: %d of %zu differ\n", detail, t, differ, row);
    }
  }
  rep.forward(tokens, [&](const std::string& name, float* d, size_t n) { ulp[name].assign(d, d + n); }, true);

  std::printf("%-20s %9s %9s | %9s %9s | %9s %9s\n", "tensor", "chain rel", "rms", "local rel", "rms", "ulp rel", "rms");
  for (const std::string& name : order) {
    auto it = ref.find(name);
    const bool have = it != ref.end() && it->second.size() == chain[name].size();
    const Diff u = diff(ulp[name], chain[name]);
    if (have) {
      const Diff a = diff(chain[name], it->second), b = diff(local[name], it->second);
      std::printf("%-20s %9.2e %9.2e | %9.2e %9.2e | %9.2e %9.2e\n", name.c_str(), a.rel, a.rms, b.rel, b.rms, u.rel, u.rms);
    } else {
      std::printf("%-20s %9s %9s | %9s %9s | %9.2e %9.2e   (llama.cpp: %s)\n", name.c_str(), "-", "-", "-", "-", u.rel,
                  u.rms, it == ref.end() ? "not captured" : "other shape");
    }
  }
  {
    // Top-1 margins: (top1 - top2) / (max - min) of llama.cpp's rows, against each row's max |diff|.
    const std::vector<float>& r = ref["result_output"];
    const std::vector<float>& a = chain["result_output"];
    const std::vector<float>& u = ulp["result_output"];
    std::vector<double> gaps;
    int below_diff = 0, below_ulp = 0;
    for (int t = 0; t < n_tokens; ++t) {
      const float* row = r.data() + size_t(t) * size_t(V);
      float m1 = -INFINITY, m2 = -INFINITY, mn = INFINITY;
      double d = 0, du = 0;
      for (int32_t i = 0; i < V; ++i) {
        const float v = row[i];
        if (v > m1) {
          m2 = m1;
          m1 = v;
        } else if (v > m2) {
          m2 = v;
        }
        mn = std::min(mn, v);
        d = std::max(d, double(std::abs(a[size_t(t) * size_t(V) + size_t(i)] - v)));
        du = std::max(du, double(std::abs(u[size_t(t) * size_t(V) + size_t(i)] - a[size_t(t) * size_t(V) + size_t(i)])));
      }
      const double gap = double(m1 - m2);
      gaps.push_back(gap / double(m1 - mn));
      below_diff += gap < 2 * d;
      below_ulp += gap < 2 * du;
    }
    std::sort(gaps.begin(), gaps.end());
    std::printf("top-1 margin / logit range: min %.2e median %.2e max %.2e; rows with margin < 2 max|diff|: "
                "%d of %d vs llama.cpp, %d of %d vs one-ulp input noise\n",
                gaps.front(), gaps[gaps.size() / 2], gaps.back(), below_diff, n_tokens, below_ulp, n_tokens);
  }
  // --require-exact 1: every operation other than a matrix product (norms, RoPE, attention, GELU, residual
  // adds), fed llama.cpp's inputs, must give llama.cpp's output bit for bit (they are written to).
  int inexact = 0;
  if (require_exact) {
    for (const std::string& name : order) {
      static const char* const products[] = {"Qcur-", "Kcur-", "Vcur-", "ffn_gate-", "ffn_up-", "ffn_out-",
                                             "attn_post_norm-", "result_output"};
      bool product = false;
      for (const char* p : products) product = product || name.rfind(p, 0) == 0;
      auto it = ref.find(name);
      if (product || it == ref.end() || it->second.size() != local[name].size()) continue;
      if (std::memcmp(it->second.data(), local[name].data(), it->second.size() * sizeof(float)) != 0) {
        std::printf("NOT bit-identical to llama.cpp given its inputs: %s\n", name.c_str());
        ++inexact;
      }
    }
    std::printf("%d operations not bit-identical\n", inexact);
  }
  llama_batch_free(batch);
  llama_free(ctx);
  llama_model_free(lm);
  llama_backend_free();
  return inexact == 0 ? 0 : 1;
}
