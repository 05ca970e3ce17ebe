#include "model/gemma4_config.h"

#include <string>

namespace locus::model {

std::vector<bool> Gemma4Config::pattern_full_every(uint32_t n_layer, uint32_t full_every) {
  std::vector<bool> swa(n_layer, true);
  for (uint32_t i = 0; i < n_layer; ++i) {
    if ((i + 1) % full_every == 0) swa[i] = false;
  }
  if (n_layer > 0) swa[n_layer - 1] = false;  // Gemma 4's last layer is always full attention
  return swa;
}

uint64_t TensorSpec::n_elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

std::vector<TensorSpec> gemma4_tensor_layout(const Gemma4Config& c) {
  std::vector<TensorSpec> t;
  const uint64_t E = c.n_embd;
  auto add = [&t](std::string name, std::vector<uint64_t> shape, TensorRole role, int layer = -1) {
    t.push_back(TensorSpec{std::move(name), std::move(shape), role, layer});
  };

  // Global tensors first, in the order llama.cpp's converter writes them.
  add("token_embd.weight", {E, c.n_vocab}, TensorRole::kTokenEmbedding);
  if (c.n_embd_per_layer > 0) {
    const uint64_t pl = uint64_t{c.n_embd_per_layer} * c.n_layer;
    add("per_layer_token_embd.weight", {pl, c.n_vocab}, TensorRole::kPerLayerEmbedding);
    add("per_layer_model_proj.weight", {E, pl}, TensorRole::kRouter);
    add("per_layer_proj_norm.weight", {c.n_embd_per_layer}, TensorRole::kNorm);
  }
  add("rope_freqs.weight", {c.head_dim_full / 2}, TensorRole::kRopeFreqs);

  for (uint32_t l = 0; l < c.n_layer; ++l) {
    const int li = static_cast<int>(l);
    const std::string p = "blk." + std::to_string(l) + ".";
    const uint64_t hd = c.head_dim(l);
    const uint64_t kv = c.n_head_kv(l);
    add(p + "attn_norm.weight", {E}, TensorRole::kNorm, li);
    add(p + "attn_q.weight", {E, hd * c.n_head}, TensorRole::kMatrix, li);
    if (c.has_kv(l)) add(p + "attn_k.weight", {E, hd * kv}, TensorRole::kMatrix, li);
    if (c.has_v_proj(l)) add(p + "attn_v.weight", {E, hd * kv}, TensorRole::kAttnV, li);
    add(p + "attn_output.weight", {hd * c.n_head, E}, TensorRole::kMatrix, li);
    add(p + "attn_q_norm.weight", {hd}, TensorRole::kQkNorm, li);
    if (c.has_kv(l)) add(p + "attn_k_norm.weight", {hd}, TensorRole::kQkNorm, li);
    add(p + "post_attention_norm.weight", {E}, TensorRole::kNorm, li);
    add(p + "ffn_norm.weight", {E}, TensorRole::kNorm, li);
    add(p + "ffn_gate.weight", {E, c.n_ff[l]}, TensorRole::kMatrix, li);
    add(p + "ffn_up.weight", {E, c.n_ff[l]}, TensorRole::kMatrix, li);
    add(p + "ffn_down.weight", {c.n_ff[l], E}, TensorRole::kFfnDown, li);
    add(p + "post_ffw_norm.weight", {E}, TensorRole::kNorm, li);
    if (c.n_expert > 0) {
      add(p + "ffn_gate_inp.weight", {E, c.n_expert}, TensorRole::kRouter, li);
      add(p + "ffn_gate_inp.scale", {E}, TensorRole::kScale, li);
      add(p + "pre_ffw_norm_2.weight", {E}, TensorRole::kNorm, li);
      add(p + "post_ffw_norm_1.weight", {E}, TensorRole::kNorm, li);
      add(p + "post_ffw_norm_2.weight", {E}, TensorRole::kNorm, li);
      add(p + "ffn_gate_up_exps.weight", {E, uint64_t{c.n_ff_expert} * 2, c.n_expert}, TensorRole::kExperts, li);
      add(p + "ffn_down_exps.weight", {c.n_ff_expert, E, c.n_expert}, TensorRole::kExperts, li);
      add(p + "ffn_down_exps.scale", {c.n_expert}, TensorRole::kScale, li);
    }
    if (c.n_embd_per_layer > 0) {
      add(p + "inp_gate.weight", {E, c.n_embd_per_layer}, TensorRole::kMatrix, li);
      add(p + "proj.weight", {c.n_embd_per_layer, E}, TensorRole::kMatrix, li);
      add(p + "post_norm.weight", {E}, TensorRole::kNorm, li);
    }
    if (c.has_layer_output_scale) add(p + "layer_output_scale.weight", {1}, TensorRole::kScale, li);
  }
  add("output_norm.weight", {E}, TensorRole::kNorm);
  return t;
}

uint64_t count_parameters(const std::vector<TensorSpec>& layout) {
  uint64_t n = 0;
  for (const auto& t : layout) n += t.n_elements();
  return n;
}

}  // namespace locus::model
