// Gemma 4 text weights bound in place: every tensor of gemma4_tensor_layout is looked up in the opened
// (memory-mapped) GGUF, its shape and type checked, and exposed as a tensor::MatrixView (2-D, any stored
// type the matmul reads) or a float span (1-D, F32). Nothing is copied or converted: the views point into
// the mapping, so the GgufFile must outlive the weights.
#pragma once

#include <span>
#include <vector>

#include "gguf/file.h"
#include "model/gemma4_config.h"
#include "tensor/matmul.h"

namespace locus::model {

// The experts of a MoE layer: a 3-D tensor [n_in, n_out, n_expert], one n_out x n_in matrix per expert.
struct ExpertsView {
  tensor::MatrixView first;        // expert 0
  uint64_t expert_bytes = 0;       // distance between consecutive experts' matrices
  uint32_t n_expert = 0;
  tensor::MatrixView expert(uint32_t e) const {
    tensor::MatrixView m = first;
    m.data += e * expert_bytes;
    return m;
  }
};

struct Gemma4LayerWeights {
  std::span<const float> attn_norm;
  tensor::MatrixView attn_q;
  tensor::MatrixView attn_k;       // absent (data == nullptr) on KV-shared layers
  tensor::MatrixView attn_v;       // absent on K=V full layers: V is the raw K projection
  tensor::MatrixView attn_output;
  std::span<const float> attn_q_norm;
  std::span<const float> attn_k_norm;
  std::span<const float> post_attention_norm;
  std::span<const float> ffn_norm;
  tensor::MatrixView ffn_gate;
  tensor::MatrixView ffn_up;
  tensor::MatrixView ffn_down;
  std::span<const float> post_ffw_norm;
  bool has_output_scale = false;
  float output_scale = 1.0f;       // blk.N.layer_output_scale (HF layer_scalar)

  // Per-layer embeddings (E2B/E4B): gate from the residual, projection back, and its norm.
  tensor::MatrixView ple_inp_gate;  // [n_embd, n_embd_per_layer]
  tensor::MatrixView ple_proj;      // [n_embd_per_layer, n_embd]
  std::span<const float> ple_post_norm;

  // Mixture of experts (26B A4B), beside the dense MLP above (which then acts as a shared expert).
  tensor::MatrixView ffn_gate_inp;  // router [n_embd, n_expert]
  std::span<const float> ffn_gate_inp_scale;
  std::span<const float> pre_ffw_norm_2, post_ffw_norm_1, post_ffw_norm_2;
  ExpertsView gate_up_exps;         // [n_embd, 2 * n_ff_exp, n_expert]: gate rows then up rows; or, when the
  ExpertsView gate_exps, up_exps;   // file holds them apart, these two [n_embd, n_ff_exp, n_expert]
  ExpertsView down_exps;            // [n_ff_exp, n_embd, n_expert]
  std::span<const float> down_exps_scale;  // [n_expert] per-expert output scale (may be absent)
};

struct Gemma4Weights {
  tensor::MatrixView token_embd;   // [n_embd, n_vocab]: rows are token embeddings
  tensor::MatrixView output;       // LM head: output.weight, or token_embd when tied
  std::span<const float> output_norm;
  std::span<const float> rope_freqs;  // [head_dim_full / 2] proportional-RoPE factors of full layers
  // Per-layer embeddings (E2B/E4B); absent (null data) otherwise.
  tensor::MatrixView per_layer_token_embd;  // [n_embd_per_layer * n_layer, n_vocab]
  tensor::MatrixView per_layer_model_proj;  // [n_embd, n_embd_per_layer * n_layer]
  std::span<const float> per_layer_proj_norm;
  std::vector<Gemma4LayerWeights> layers;

  // Throws gguf::GgufError naming the tensor and what was expected when the file does not hold the
  // layout the config implies, or holds a type this build cannot compute with.
  static Gemma4Weights bind(const gguf::GgufFile& file, const Gemma4Config& config);
};

// A MatrixView over one 2-D tensor of the file (its type must be readable by the matmul).
tensor::MatrixView matrix_view(const gguf::GgufFile& file, const gguf::TensorInfo& info);

}  // namespace locus::model
