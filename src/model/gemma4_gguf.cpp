#include "model/gemma4_gguf.h"

#include <cmath>

namespace locus::model {

using gguf::Value;

namespace {
std::string key(const char* suffix) { return std::string(kGemma4Arch) + "." + suffix; }
}  // namespace

void write_gemma4_metadata(gguf::GgufWriter& w, const Gemma4Config& c, FileType file_type, const std::string& name) {
  w.add("general.architecture", Value::string(kGemma4Arch));
  w.add("general.type", Value::string("model"));
  w.add("general.name", Value::string(name));
  w.add("general.file_type", Value::u32(static_cast<uint32_t>(file_type)));
  w.add("general.quantization_version", Value::u32(2));

  w.add(key("context_length"), Value::u32(c.context_length));
  w.add(key("embedding_length"), Value::u32(c.n_embd));
  w.add(key("block_count"), Value::u32(c.n_layer));
  bool uniform_ff = true;
  for (uint32_t v : c.n_ff) uniform_ff = uniform_ff && v == c.n_ff[0];
  if (uniform_ff) {
    w.add(key("feed_forward_length"), Value::u32(c.n_ff[0]));
  } else {
    std::vector<int32_t> ff(c.n_ff.begin(), c.n_ff.end());
    w.add(key("feed_forward_length"), Value::i32_array(ff));
  }
  w.add(key("attention.head_count"), Value::u32(c.n_head));
  std::vector<int32_t> kv(c.n_layer);
  for (uint32_t l = 0; l < c.n_layer; ++l) kv[l] = static_cast<int32_t>(c.n_head_kv(l));
  w.add(key("attention.head_count_kv"), Value::i32_array(kv));
  w.add(key("attention.key_length"), Value::u32(c.head_dim_full));
  w.add(key("attention.value_length"), Value::u32(c.head_dim_full));
  w.add(key("attention.key_length_swa"), Value::u32(c.head_dim_swa));
  w.add(key("attention.value_length_swa"), Value::u32(c.head_dim_swa));
  w.add(key("rope.dimension_count"), Value::u32(c.n_rot_full != 0 ? c.n_rot_full : c.head_dim_full));
  w.add(key("rope.dimension_count_swa"), Value::u32(c.n_rot_swa != 0 ? c.n_rot_swa : c.head_dim_swa));
  w.add(key("rope.freq_base"), Value::f32(c.rope_base_full));
  w.add(key("rope.freq_base_swa"), Value::f32(c.rope_base_swa));
  w.add(key("attention.sliding_window"), Value::u32(c.sliding_window));
  w.add(key("attention.sliding_window_pattern"), Value::bool_array(c.is_swa));
  w.add(key("attention.shared_kv_layers"), Value::u32(c.shared_kv_layers));
  w.add(key("attention.layer_norm_rms_epsilon"), Value::f32(c.rms_eps));
  w.add(key("embedding_length_per_layer_input"), Value::u32(c.n_embd_per_layer));
  w.add(key("final_logit_softcapping"), Value::f32(c.final_logit_softcap));
  if (c.n_expert > 0) {
    w.add(key("expert_count"), Value::u32(c.n_expert));
    w.add(key("expert_used_count"), Value::u32(c.n_expert_used));
    w.add(key("expert_feed_forward_length"), Value::u32(c.n_ff_expert));
  }
}

Gemma4Config read_gemma4_config(const gguf::GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  if (arch != kGemma4Arch) {
    throw gguf::GgufError(f.path() + ": architecture is " + arch + ", expected gemma4");
  }
  Gemma4Config c;
  c.n_layer = f.get_u32(key("block_count"));
  c.n_embd = f.get_u32(key("embedding_length"));
  c.context_length = f.get_u32(key("context_length"));
  c.n_head = f.get_u32(key("attention.head_count"));
  c.head_dim_full = f.get_u32_or(key("attention.key_length")).value_or(c.n_embd / c.n_head);
  c.head_dim_swa = f.get_u32(key("attention.key_length_swa"));
  // llama.cpp's gemma4 loader requires value heads as wide as key heads; so does this engine.
  const uint32_t v_full = f.get_u32_or(key("attention.value_length")).value_or(c.head_dim_full);
  const uint32_t v_swa = f.get_u32_or(key("attention.value_length_swa")).value_or(c.head_dim_swa);
  if (v_full != c.head_dim_full || v_swa != c.head_dim_swa) {
    throw gguf::GgufError(f.path() + ": value head length differs from key head length (" + std::to_string(v_full) +
                          " vs " + std::to_string(c.head_dim_full) + ", sliding " + std::to_string(v_swa) + " vs " +
                          std::to_string(c.head_dim_swa) + "); Gemma 4 requires them equal");
  }
  // As in llama.cpp: the full-layer rotary width defaults to the full head, the sliding one to the full one.
  c.n_rot_full = f.get_u32_or(key("rope.dimension_count")).value_or(c.head_dim_full);
  c.n_rot_swa = f.get_u32_or(key("rope.dimension_count_swa")).value_or(c.n_rot_full);
  c.sliding_window = f.get_u32(key("attention.sliding_window"));
  c.rms_eps = f.get_f32(key("attention.layer_norm_rms_epsilon"));
  c.n_embd_per_layer = f.get_u32(key("embedding_length_per_layer_input"));
  c.shared_kv_layers = f.get_u32_or(key("attention.shared_kv_layers")).value_or(0);
  c.rope_base_full = f.has(key("rope.freq_base")) ? f.get_f32(key("rope.freq_base")) : 10000.0f;
  c.rope_base_swa = f.has(key("rope.freq_base_swa")) ? f.get_f32(key("rope.freq_base_swa")) : 10000.0f;
  c.final_logit_softcap =
      f.has(key("final_logit_softcapping")) ? f.get_f32(key("final_logit_softcapping")) : 0.0f;
  c.n_expert = f.get_u32_or(key("expert_count")).value_or(0);
  c.n_expert_used = f.get_u32_or(key("expert_used_count")).value_or(0);
  c.n_ff_expert = f.get_u32_or(key("expert_feed_forward_length")).value_or(0);

  auto per_layer_u32 = [&](const std::string& k, std::vector<uint32_t>& out) {
    const gguf::Value* v = f.find(k);
    if (v == nullptr) throw gguf::GgufError("key " + k + " missing in " + f.path());
    if (const gguf::Array* a = v->as_array()) {
      if (a->items.size() != c.n_layer) {
        throw gguf::GgufError("key " + k + " in " + f.path() + ": expected " + std::to_string(c.n_layer) +
                              " entries, found " + std::to_string(a->items.size()));
      }
      for (const auto& item : a->items) {
        if (!item.is_integer()) throw gguf::GgufError("key " + k + " in " + f.path() + ": expected integers");
        const int64_t x = std::holds_alternative<int64_t>(item.data) ? std::get<int64_t>(item.data)
                                                                      : static_cast<int64_t>(std::get<uint64_t>(item.data));
        if (x < 0 || x > UINT32_MAX) throw gguf::GgufError("key " + k + " in " + f.path() + ": value out of range");
        out.push_back(static_cast<uint32_t>(x));
      }
    } else {
      out.assign(c.n_layer, f.get_u32(k));
    }
  };
  per_layer_u32(key("feed_forward_length"), c.n_ff);
  std::vector<uint32_t> kv;
  per_layer_u32(key("attention.head_count_kv"), kv);

  const gguf::Array& pattern = f.get_array(key("attention.sliding_window_pattern"));
  if (pattern.items.size() != c.n_layer) {
    throw gguf::GgufError("key " + key("attention.sliding_window_pattern") + " in " + f.path() + ": expected " +
                          std::to_string(c.n_layer) + " entries, found " + std::to_string(pattern.items.size()));
  }
  for (const auto& item : pattern.items) {
    if (item.type != gguf::ValueType::BOOL) {
      throw gguf::GgufError("key " + key("attention.sliding_window_pattern") + " in " + f.path() + ": expected bools");
    }
    c.is_swa.push_back(std::get<bool>(item.data));
  }
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    (c.is_swa[l] ? c.n_head_kv_swa : c.n_head_kv_full) = kv[l];
  }
  if (const gguf::TensorInfo* te = f.find_tensor("token_embd.weight"); te != nullptr && te->shape.size() == 2) {
    c.n_vocab = static_cast<uint32_t>(te->shape[1]);
  }
  // K=V on full layers shows as a missing attn_v on the first full layer that has KV.
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    if (!c.is_swa[l] && c.has_kv(l)) {
      c.k_eq_v_full = f.find_tensor("blk." + std::to_string(l) + ".attn_v.weight") == nullptr;
      break;
    }
  }
  c.has_layer_output_scale = f.find_tensor("blk.0.layer_output_scale.weight") != nullptr;
  return c;
}

}  // namespace locus::model
