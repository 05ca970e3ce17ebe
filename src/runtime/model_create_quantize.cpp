#include "runtime/model_create_quantize.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <thread>

#include "gguf/file.h"
#include "gguf/writer.h"
#include "model/gemma4_config.h"
#include "model/gemma4_gguf.h"
#include "runtime/store_error.h"
#include "tensor/quantize.h"

namespace locus::runtime {
namespace {

using gguf::GgmlType;
using model::TensorRole;

bool is_float_type(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

// Targets offered: Ollama's quantization names whose types this build's quantizer writes. The ternary and
// MXFP4 types are left out: they suit only models trained for them.
bool offered(const model::FileTypeInfo& f) {
  if (is_float_type(f.base)) return false;
  if (f.type == model::FileType::MOSTLY_TQ1_0 || f.type == model::FileType::MOSTLY_TQ2_0 ||
      f.type == model::FileType::MOSTLY_MXFP4_MOE) {
    return false;
  }
  // K-quant mixes also write Q6_K/Q5_K/Q4_K/Q3_K and the row fallbacks (Q4_0, Q5_0, Q5_1, Q8_0).
  return tensor::can_quantize(f.base) && tensor::can_quantize(GgmlType::Q6_K) && tensor::can_quantize(GgmlType::Q8_0);
}

// What a tensor is, for the mix: from Gemma 4's layout when the file is a Gemma 4 model whose
// hyperparameters read, else from the name as llama.cpp's converter spells it.
TensorRole role_from_name(const gguf::TensorInfo& t) {
  const std::string& n = t.name;
  if (t.shape.size() < 2) return TensorRole::kNorm;
  if (n == "token_embd.weight") return TensorRole::kTokenEmbedding;
  if (n == "per_layer_token_embd.weight") return TensorRole::kPerLayerEmbedding;
  if (t.shape.size() >= 3) return TensorRole::kExperts;
  if (n.find("ffn_gate_inp") != std::string::npos) return TensorRole::kRouter;
  if (n.find(".attn_v.") != std::string::npos) return TensorRole::kAttnV;
  if (n.find(".ffn_down.") != std::string::npos) return TensorRole::kFfnDown;
  return TensorRole::kMatrix;
}

int layer_from_name(const std::string& n) {
  if (!n.starts_with("blk.")) return -1;
  return std::atoi(n.c_str() + 4);
}

std::vector<model::TensorSpec> layout_of(const gguf::GgufFile& file) {
  std::map<std::string, TensorRole, std::less<>> known;
  try {
    if (file.get_string_or("general.architecture").value_or("") == model::kGemma4Arch) {
      for (const auto& spec : model::gemma4_tensor_layout(model::read_gemma4_config(file))) known[spec.name] = spec.role;
    }
  } catch (const gguf::GgufError&) {
    // Hyperparameters that do not read: the names alone decide.
  }
  std::vector<model::TensorSpec> layout;
  for (const auto& t : file.content().tensors) {
    model::TensorSpec s;
    s.name = t.name;
    s.shape = t.shape;
    const auto it = known.find(t.name);
    s.role = it != known.end() ? it->second : role_from_name(t);
    s.layer = layer_from_name(t.name);
    layout.push_back(std::move(s));
  }
  return layout;
}

// Converts `n_rows` rows of `row` elements, splitting the rows over the cores.
void convert_rows(GgmlType from, GgmlType to, const uint8_t* src, uint8_t* dst, uint64_t row, uint64_t n_rows,
                  const std::string& tensor_name) {
  const uint64_t src_row_bytes = gguf::ggml_type_info(from).block_bytes * row / gguf::ggml_type_info(from).block_elements;
  const uint64_t dst_row_bytes = gguf::ggml_type_info(to).block_bytes * row / gguf::ggml_type_info(to).block_elements;
  const unsigned n_threads =
      static_cast<unsigned>(std::clamp<uint64_t>(std::min<uint64_t>(std::thread::hardware_concurrency(), n_rows), 1, 64));
  std::vector<std::string> errors(n_threads);
  const auto work = [&](unsigned t) {
    std::vector<float> f(row);
    for (uint64_t r = t; r < n_rows; r += n_threads) {
      const uint8_t* s = src + r * src_row_bytes;
      uint8_t* d = dst + r * dst_row_bytes;
      if (!tensor::dequantize_row(from, s, f.data(), static_cast<int64_t>(row))) {
        errors[t] = "cannot read tensor " + tensor_name + " (" + std::string(gguf::ggml_type_info(from).name) + ")";
        return;
      }
      if (to == GgmlType::F32) {
        std::memcpy(d, f.data(), row * sizeof(float));
      } else if (!tensor::quantize_row(to, f.data(), d, static_cast<int64_t>(row))) {
        errors[t] = "cannot write tensor " + tensor_name + " as " + std::string(gguf::ggml_type_info(to).name);
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < n_threads; ++t) threads.emplace_back(work, t);
  work(0);
  for (auto& th : threads) th.join();
  for (const auto& e : errors) {
    if (!e.empty()) throw StoreError(StoreErrorKind::bad_input, e);
  }
}

}  // namespace

std::optional<model::FileTypeInfo> quantize_target(std::string_view name) {
  const auto f = model::file_type_from_name(name);
  if (!f || !offered(*f)) return std::nullopt;
  return f;
}

std::vector<std::string> quantize_target_names() {
  std::vector<std::string> names;
  for (const auto& f : model::all_file_types()) {
    if (offered(f)) names.emplace_back(f.name);
  }
  return names;
}

QuantizeSource describe_quantize_source(const std::filesystem::path& gguf_path) {
  const auto file = gguf::GgufFile::open(gguf_path.string());
  QuantizeSource s;
  s.unquantized = true;
  std::string first_matrix;
  for (const auto& t : file.content().tensors) {
    if (!is_float_type(t.type)) s.unquantized = false;
    if (first_matrix.empty() && t.shape.size() >= 2) first_matrix = std::string(gguf::ggml_type_info(t.type).name);
  }
  if (const auto raw = file.get_u32_or("general.file_type")) {
    if (const auto info = model::file_type_info(*raw)) s.file_type = std::string(info->name);
  }
  if (s.file_type.empty()) s.file_type = first_matrix;
  for (char& c : s.file_type) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

void requantize_gguf(const std::filesystem::path& source, const std::filesystem::path& out_path,
                     const model::FileTypeInfo& target,
                     const std::function<void(uint64_t done, uint64_t total)>& progress) {
  gguf::GgufFile file = [&] {
    try {
      return gguf::GgufFile::open(source.string());
    } catch (const gguf::GgufError& e) {
      throw StoreError(StoreErrorKind::bad_input, e.what());
    }
  }();
  for (const auto& t : file.content().tensors) {
    if (!is_float_type(t.type)) {
      throw StoreError(StoreErrorKind::bad_input,
                       "cannot quantize " + source.string() + ": tensor " + t.name + " is already quantized (" +
                           std::string(gguf::ggml_type_info(t.type).name) +
                           "); --quantize needs a model stored as F32, F16 or BF16");
    }
  }

  const std::vector<model::TensorSpec> layout = layout_of(file);
  model::QuantMix mix(target.type, layout);
  std::vector<GgmlType> types;
  for (const auto& spec : layout) types.push_back(mix.type_for(spec));

  gguf::GgufWriter w;
  w.set_version(3);
  bool wrote_ftype = false;
  bool wrote_qversion = false;
  for (const auto& [key, value] : file.content().metadata) {
    if (key == "general.file_type") {
      w.add(key, gguf::Value::u32(static_cast<uint32_t>(target.type)));
      wrote_ftype = true;
    } else if (key == "general.quantization_version") {
      w.add(key, gguf::Value::u32(2));
      wrote_qversion = true;
    } else {
      w.add(key, value);
    }
  }
  if (!wrote_ftype) w.add("general.file_type", gguf::Value::u32(static_cast<uint32_t>(target.type)));
  if (!wrote_qversion) w.add("general.quantization_version", gguf::Value::u32(2));  // as llama-quantize writes
  const auto& tensors = file.content().tensors;
  uint64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    w.add_tensor(tensors[i].name, tensors[i].shape, types[i]);
    total += tensors[i].n_elements();
  }

  try {
    w.begin_data(out_path.string());
    uint64_t done = 0;
    // Bounded memory: a tensor is converted in slices of rows.
    constexpr uint64_t kSliceElements = uint64_t{1} << 24;
    std::vector<uint64_t> out;  // 8-byte aligned, as the block writers need
    for (size_t i = 0; i < tensors.size(); ++i) {
      const auto& t = tensors[i];
      const std::span<const uint8_t> data = file.tensor_data(t);
      if (types[i] == t.type) {
        w.write_tensor(data);
      } else {
        const uint64_t row = t.shape[0];
        const uint64_t n_rows = t.n_elements() / row;
        const uint64_t rows_per_slice = std::max<uint64_t>(1, kSliceElements / row);
        const auto& from = gguf::ggml_type_info(t.type);
        const auto& to = gguf::ggml_type_info(types[i]);
        const uint64_t src_row_bytes = from.block_bytes * row / from.block_elements;
        const uint64_t dst_row_bytes = to.block_bytes * row / to.block_elements;
        for (uint64_t r = 0; r < n_rows; r += rows_per_slice) {
          const uint64_t n = std::min(rows_per_slice, n_rows - r);
          out.assign((n * dst_row_bytes + 7) / 8, 0);
          auto* dst = reinterpret_cast<uint8_t*>(out.data());
          convert_rows(t.type, types[i], data.data() + r * src_row_bytes, dst, row, n, t.name);
          w.write_tensor_chunk(std::span<const uint8_t>(dst, n * dst_row_bytes));
          done += n * row;
          if (progress) progress(done, total);
        }
        w.end_tensor();
        continue;
      }
      done += t.n_elements();
      if (progress) progress(done, total);
    }
    w.finish();
  } catch (const gguf::GgufError& e) {
    throw StoreError(StoreErrorKind::io, std::string("cannot write the quantized model: ") + e.what());
  }
}

}  // namespace locus::runtime
