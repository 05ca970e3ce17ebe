// Gemma 4 text-model hyperparameters and the tensor layout they imply (gemma4.md sections 2-4).
// One place defines which tensors a Gemma 4 GGUF holds and their shapes; the GGUF writer of random
// models and the loader both use it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace locus::model {

struct Gemma4Config {
  uint32_t n_layer = 0;
  uint32_t n_embd = 0;
  uint32_t n_vocab = 262144;
  uint32_t n_head = 0;
  uint32_t n_head_kv_swa = 0;   // KV heads on sliding-window layers
  uint32_t n_head_kv_full = 0;  // KV heads on full-attention layers
  uint32_t head_dim_swa = 256;
  uint32_t head_dim_full = 512;
  std::vector<uint32_t> n_ff;   // per layer (double-wide MLP makes it vary)
  std::vector<bool> is_swa;     // per layer: true = sliding-window layer
  uint32_t sliding_window = 1024;
  uint32_t context_length = 262144;
  float rope_base_full = 1000000.0f;
  float rope_base_swa = 10000.0f;
  float partial_rotary_full = 0.25f;  // fraction of the full-layer head that rotates
  // Dimensions RoPE touches (rope.dimension_count / _swa); 0 = the whole head. The full layers' partial
  // rotation is not expressed here but by rope_freqs (gemma4.md 4.4), so these are the head dims in practice.
  uint32_t n_rot_full = 0;
  uint32_t n_rot_swa = 0;
  float rms_eps = 1e-6f;
  float final_logit_softcap = 30.0f;
  bool k_eq_v_full = false;     // full layers have no attn_v (V comes from the K projection)
  bool has_layer_output_scale = true;
  uint32_t n_embd_per_layer = 0;  // PLE width; 0 = no per-layer embeddings
  uint32_t shared_kv_layers = 0;  // the last N layers reuse earlier layers' KV
  uint32_t n_expert = 0;          // MoE: routed experts (0 = dense)
  uint32_t n_expert_used = 0;
  uint32_t n_ff_expert = 0;

  uint32_t head_dim(uint32_t layer) const { return is_swa[layer] ? head_dim_swa : head_dim_full; }
  uint32_t n_head_kv(uint32_t layer) const { return is_swa[layer] ? n_head_kv_swa : n_head_kv_full; }
  bool has_kv(uint32_t layer) const { return layer < n_layer - shared_kv_layers; }
  bool has_v_proj(uint32_t layer) const { return has_kv(layer) && !(k_eq_v_full && !is_swa[layer]); }
  // The layer whose KV cache `layer` attends over: itself, or for a KV-shared layer the last layer of the
  // same kind before the shared ones (n_layer - shared - 2 for sliding, - 1 for full), as llama.cpp maps them.
  uint32_t kv_layer(uint32_t layer) const {
    if (has_kv(layer)) return layer;
    const uint32_t first_shared = n_layer - shared_kv_layers;
    return first_shared - (is_swa[layer] ? 2 : 1);
  }
  uint32_t n_rot(uint32_t layer) const {
    const uint32_t r = is_swa[layer] ? n_rot_swa : n_rot_full;
    return r != 0 ? r : head_dim(layer);
  }

  // Sliding pattern where every `full_every`-th layer (1-based) is full attention and the last layer is full.
  static std::vector<bool> pattern_full_every(uint32_t n_layer, uint32_t full_every);
};

// What a tensor is, for choosing how to fill and store it.
enum class TensorRole {
  kTokenEmbedding,      // token_embd (tied LM head)
  kPerLayerEmbedding,   // per_layer_token_embd (PLE)
  kMatrix,              // an ordinary 2-D projection
  kAttnV,               // attn_v (quantization mixes treat it specially)
  kFfnDown,             // ffn_down
  kExperts,             // 3-D MoE expert weights
  kRouter,              // MoE router (not quantized)
  kNorm,                // RMSNorm weight, 1-D
  kQkNorm,              // per-head q/k norm weight, 1-D
  kScale,               // per-layer output scale or other small 1-D scales
  kRopeFreqs,           // proportional-RoPE frequency factors
};

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> shape;  // ggml order
  TensorRole role = TensorRole::kMatrix;
  int layer = -1;               // block index, -1 for global tensors
  uint64_t n_elements() const;
};

std::vector<TensorSpec> gemma4_tensor_layout(const Gemma4Config& c);

uint64_t count_parameters(const std::vector<TensorSpec>& layout);

}  // namespace locus::model
