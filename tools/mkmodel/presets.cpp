#include "presets.h"

#include <algorithm>

namespace locus::mkmodel {
namespace {

using model::Gemma4Config;

struct Shape {
  uint32_t n_layer, n_embd, n_ff, n_head, kv_swa, kv_full, window, full_every, context;
  bool k_eq_v;
  uint32_t ple = 0, shared_kv = 0;
  bool double_wide = false;
  uint32_t n_expert = 0, n_expert_used = 0, n_ff_expert = 0;
};

Gemma4Config make(const Shape& s) {
  Gemma4Config c;
  c.n_layer = s.n_layer;
  c.n_embd = s.n_embd;
  c.n_head = s.n_head;
  c.n_head_kv_swa = s.kv_swa;
  c.n_head_kv_full = s.kv_full;
  c.sliding_window = s.window;
  c.context_length = s.context;
  c.k_eq_v_full = s.k_eq_v;
  c.n_embd_per_layer = s.ple;
  c.shared_kv_layers = s.shared_kv;
  c.n_expert = s.n_expert;
  c.n_expert_used = s.n_expert_used;
  c.n_ff_expert = s.n_ff_expert;
  c.is_swa = Gemma4Config::pattern_full_every(s.n_layer, s.full_every);
  c.n_ff.assign(s.n_layer, s.n_ff);
  if (s.double_wide) {
    for (uint32_t l = s.n_layer - s.shared_kv; l < s.n_layer; ++l) c.n_ff[l] = s.n_ff * 2;
  }
  return c;
}

Preset preset(std::string name, std::string description, const Shape& s, bool mmproj = false) {
  return Preset{std::move(name), std::move(description), make(s), mmproj};
}

}  // namespace

std::vector<Preset> all_presets() {
  return {
      // Every structural feature of the 12B (sliding and full layers in the real 5:1 pattern with the last
      // layer full, 16 query heads over 8 or 1 KV heads, head dims 256/512, K=V on full layers, the real
      // vocabulary), narrow and shallow so tests run in seconds. A small window so short prompts cross it.
      preset("tiny", "6 layers, 256 wide, window 128: every 12B feature, for fast tests",
             {6, 256, 1024, 16, 8, 1, 128, 6, 32768, true}, true),
      preset("mid", "12 layers, 1024 wide, window 256: a mid-size 12B-like shape for parity tests",
             {12, 1024, 4096, 16, 8, 1, 256, 6, 32768, true}, true),
      preset("gemma4-e2b", "Gemma 4 E2B: 35 layers, 1536 wide, per-layer embeddings, 20 KV-shared layers",
             {35, 1536, 6144, 8, 1, 1, 512, 5, 131072, false, 256, 20, true}),
      preset("gemma4-e4b", "Gemma 4 E4B: 42 layers, 2560 wide, per-layer embeddings, 18 KV-shared layers",
             {42, 2560, 10240, 8, 2, 2, 512, 6, 131072, false, 256, 18, true}),
      preset("gemma4-12b", "Gemma 4 12B Unified: 48 layers, 3840 wide, 16 heads over 8/1 KV heads",
             {48, 3840, 15360, 16, 8, 1, 1024, 6, 262144, true}, true),
      preset("gemma4-26b-a4b", "Gemma 4 26B A4B: 30 layers, 2816 wide, 128 experts (8 active)",
             {30, 2816, 2112, 16, 8, 2, 1024, 6, 262144, true, 0, 0, false, 128, 8, 704}),
      preset("gemma4-31b", "Gemma 4 31B: 60 layers, 5376 wide, 32 heads over 16/4 KV heads",
             {60, 5376, 21504, 32, 16, 4, 1024, 6, 262144, true}),
  };
}

std::optional<Preset> find_preset(std::string_view name) {
  for (auto& p : all_presets()) {
    if (p.name == name) return p;
  }
  return std::nullopt;
}

void truncate_layers(Preset& p, uint32_t n_layer) {
  auto& c = p.config;
  // Recover the pattern period: the first full layer (1-based index).
  uint32_t full_every = c.n_layer;
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    if (!c.is_swa[l]) {
      full_every = l + 1;
      break;
    }
  }
  const uint32_t base_ff = c.n_ff[0];
  const bool double_wide = c.n_ff.back() != base_ff;
  c.is_swa = model::Gemma4Config::pattern_full_every(n_layer, full_every);
  // KV-shared layers read the cache of the last full layer before them (n - s - 1) and of the last sliding
  // layer before that (n - s - 2), as llama.cpp requires: keep the share proportional but pick a count for
  // which those two layers have the right kinds.
  uint32_t shared = 0;
  if (c.shared_kv_layers > 0 && n_layer >= 3) {
    for (uint32_t s = std::max<uint32_t>(1, c.shared_kv_layers * n_layer / c.n_layer); s >= 1; --s) {
      if (s + 2 <= n_layer && !c.is_swa[n_layer - s - 1] && c.is_swa[n_layer - s - 2]) {
        shared = s;
        break;
      }
    }
  }
  c.n_layer = n_layer;
  c.shared_kv_layers = shared;
  c.n_ff.assign(n_layer, base_ff);
  if (double_wide) {
    for (uint32_t l = n_layer - c.shared_kv_layers; l < n_layer; ++l) c.n_ff[l] = base_ff * 2;
  }
}

}  // namespace locus::mkmodel
