#include "model/weights.h"

#include <map>
#include <string>

#include "tensor/quantize.h"

namespace locus::model {

using gguf::GgufError;
using gguf::TensorInfo;

tensor::MatrixView matrix_view(const gguf::GgufFile& file, const TensorInfo& info) {
  if (info.shape.size() != 2) {
    throw GgufError("tensor " + info.name + " in " + file.path() + ": expected 2 dimensions, found " +
                    gguf::format_shape(info.shape));
  }
  if (!tensor::can_dequantize(info.type)) {
    throw GgufError("tensor " + info.name + " in " + file.path() + ": type " +
                    std::string(gguf::ggml_type_info(info.type).name) + " is not supported by this build");
  }
  const auto data = file.tensor_data(info);
  tensor::MatrixView v;
  v.type = info.type;
  v.data = data.data();
  v.n_in = static_cast<int64_t>(info.shape[0]);
  v.n_out = static_cast<int64_t>(info.shape[1]);
  v.row_bytes = *gguf::ggml_row_bytes(info.type, info.shape[0]);
  return v;
}

namespace {

std::span<const float> f32_span(const gguf::GgufFile& file, const TensorInfo& info) {
  if (info.type != gguf::GgmlType::F32) {
    throw GgufError("tensor " + info.name + " in " + file.path() + ": expected type F32, found " +
                    std::string(gguf::ggml_type_info(info.type).name));
  }
  const auto data = file.tensor_data(info);
  // GGUF tensor data is aligned to at least 32 bytes, so the floats can be read in place.
  return {reinterpret_cast<const float*>(data.data()), static_cast<size_t>(info.n_elements())};
}

ExpertsView experts_view(const gguf::GgufFile& file, const TensorInfo& info) {
  if (info.shape.size() != 3) {
    throw GgufError("tensor " + info.name + " in " + file.path() + ": expected 3 dimensions, found " +
                    gguf::format_shape(info.shape));
  }
  if (!tensor::can_dequantize(info.type)) {
    throw GgufError("tensor " + info.name + " in " + file.path() + ": type " +
                    std::string(gguf::ggml_type_info(info.type).name) + " is not supported by this build");
  }
  ExpertsView e;
  e.first.type = info.type;
  e.first.data = file.tensor_data(info).data();
  e.first.n_in = static_cast<int64_t>(info.shape[0]);
  e.first.n_out = static_cast<int64_t>(info.shape[1]);
  e.first.row_bytes = *gguf::ggml_row_bytes(info.type, info.shape[0]);
  e.expert_bytes = e.first.row_bytes * info.shape[1];
  e.n_expert = static_cast<uint32_t>(info.shape[2]);
  return e;
}

// The layout names the fused gate_up expert tensor; llama.cpp also reads separate gate and up experts.
bool separate_gate_up_experts(const gguf::GgufFile& file, const std::string& prefix) {
  return file.find_tensor(prefix + "ffn_gate_up_exps.weight") == nullptr &&
         file.find_tensor(prefix + "ffn_gate_exps.weight") != nullptr &&
         file.find_tensor(prefix + "ffn_up_exps.weight") != nullptr;
}

}  // namespace

Gemma4Weights Gemma4Weights::bind(const gguf::GgufFile& file, const Gemma4Config& c) {
  // Every tensor the layout names must be there with its shape; keep them by name for the assignment below.
  std::map<std::string, const TensorInfo*, std::less<>> found;
  for (const TensorSpec& spec : gemma4_tensor_layout(c)) {
    if (spec.name.ends_with("ffn_gate_up_exps.weight") &&
        separate_gate_up_experts(file, spec.name.substr(0, spec.name.size() - std::string("ffn_gate_up_exps.weight").size()))) {
      continue;
    }
    if (spec.name.ends_with("ffn_down_exps.scale") && file.find_tensor(spec.name) == nullptr) continue;  // optional
    found[spec.name] = &file.require_tensor(spec.name, spec.shape);
  }
  auto mat = [&](const std::string& name) { return matrix_view(file, *found.at(name)); };
  auto vec = [&](const std::string& name) { return f32_span(file, *found.at(name)); };
  auto has = [&](const std::string& name) { return found.count(name) != 0; };

  for (uint32_t l = 0; l < c.n_layer; ++l) {
    const std::string fused = "blk." + std::to_string(l) + ".attn_qkv.weight";
    if (file.find_tensor(fused) != nullptr) {
      throw GgufError("tensor " + fused + " in " + file.path() +
                      ": a fused QKV projection is not supported (llama.cpp's converter writes separate Q, K, V)");
    }
  }

  Gemma4Weights w;
  w.token_embd = mat("token_embd.weight");
  if (file.find_tensor("output.weight") != nullptr) {
    const uint64_t shape[] = {c.n_embd, c.n_vocab};
    w.output = matrix_view(file, file.require_tensor("output.weight", shape));
  } else {
    w.output = w.token_embd;
  }
  w.output_norm = vec("output_norm.weight");
  w.rope_freqs = vec("rope_freqs.weight");
  if (c.n_embd_per_layer > 0) {
    w.per_layer_token_embd = mat("per_layer_token_embd.weight");
    w.per_layer_model_proj = mat("per_layer_model_proj.weight");
    w.per_layer_proj_norm = vec("per_layer_proj_norm.weight");
  }

  w.layers.resize(c.n_layer);
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    Gemma4LayerWeights& L = w.layers[l];
    L.attn_norm = vec(p + "attn_norm.weight");
    L.attn_q = mat(p + "attn_q.weight");
    if (has(p + "attn_k.weight")) L.attn_k = mat(p + "attn_k.weight");
    if (has(p + "attn_v.weight")) L.attn_v = mat(p + "attn_v.weight");
    L.attn_output = mat(p + "attn_output.weight");
    L.attn_q_norm = vec(p + "attn_q_norm.weight");
    if (has(p + "attn_k_norm.weight")) L.attn_k_norm = vec(p + "attn_k_norm.weight");
    L.post_attention_norm = vec(p + "post_attention_norm.weight");
    L.ffn_norm = vec(p + "ffn_norm.weight");
    L.ffn_gate = mat(p + "ffn_gate.weight");
    L.ffn_up = mat(p + "ffn_up.weight");
    L.ffn_down = mat(p + "ffn_down.weight");
    L.post_ffw_norm = vec(p + "post_ffw_norm.weight");
    if (has(p + "layer_output_scale.weight")) {
      L.has_output_scale = true;
      L.output_scale = vec(p + "layer_output_scale.weight")[0];
    }
    if (c.n_embd_per_layer > 0) {
      L.ple_inp_gate = mat(p + "inp_gate.weight");
      L.ple_proj = mat(p + "proj.weight");
      L.ple_post_norm = vec(p + "post_norm.weight");
    }
    if (c.n_expert > 0) {
      L.ffn_gate_inp = mat(p + "ffn_gate_inp.weight");
      L.ffn_gate_inp_scale = vec(p + "ffn_gate_inp.scale");
      L.pre_ffw_norm_2 = vec(p + "pre_ffw_norm_2.weight");
      L.post_ffw_norm_1 = vec(p + "post_ffw_norm_1.weight");
      L.post_ffw_norm_2 = vec(p + "post_ffw_norm_2.weight");
      if (separate_gate_up_experts(file, p)) {
        const uint64_t shape[] = {c.n_embd, c.n_ff_expert, c.n_expert};
        L.gate_exps = experts_view(file, file.require_tensor(p + "ffn_gate_exps.weight", shape));
        L.up_exps = experts_view(file, file.require_tensor(p + "ffn_up_exps.weight", shape));
      } else {
        L.gate_up_exps = experts_view(file, *found.at(p + "ffn_gate_up_exps.weight"));
      }
      L.down_exps = experts_view(file, *found.at(p + "ffn_down_exps.weight"));
      if (has(p + "ffn_down_exps.scale")) L.down_exps_scale = vec(p + "ffn_down_exps.scale");
    }
  }
  return w;
}

}  // namespace locus::model
