#include "model/quant_mix.h"

#include <array>
#include <cctype>

namespace locus::model {
namespace {

constexpr std::array kFileTypes = {
    FileTypeInfo{FileType::ALL_F32, "F32", GgmlType::F32},
    FileTypeInfo{FileType::MOSTLY_F16, "F16", GgmlType::F16},
    FileTypeInfo{FileType::MOSTLY_BF16, "BF16", GgmlType::BF16},
    FileTypeInfo{FileType::MOSTLY_Q8_0, "Q8_0", GgmlType::Q8_0},
    FileTypeInfo{FileType::MOSTLY_Q4_0, "Q4_0", GgmlType::Q4_0},
    FileTypeInfo{FileType::MOSTLY_Q4_1, "Q4_1", GgmlType::Q4_1},
    FileTypeInfo{FileType::MOSTLY_Q5_0, "Q5_0", GgmlType::Q5_0},
    FileTypeInfo{FileType::MOSTLY_Q5_1, "Q5_1", GgmlType::Q5_1},
    FileTypeInfo{FileType::MOSTLY_Q2_K, "Q2_K", GgmlType::Q2_K},
    FileTypeInfo{FileType::MOSTLY_Q3_K_S, "Q3_K_S", GgmlType::Q3_K},
    FileTypeInfo{FileType::MOSTLY_Q3_K_M, "Q3_K_M", GgmlType::Q3_K},
    FileTypeInfo{FileType::MOSTLY_Q3_K_L, "Q3_K_L", GgmlType::Q3_K},
    FileTypeInfo{FileType::MOSTLY_Q4_K_S, "Q4_K_S", GgmlType::Q4_K},
    FileTypeInfo{FileType::MOSTLY_Q4_K_M, "Q4_K_M", GgmlType::Q4_K},
    FileTypeInfo{FileType::MOSTLY_Q5_K_S, "Q5_K_S", GgmlType::Q5_K},
    FileTypeInfo{FileType::MOSTLY_Q5_K_M, "Q5_K_M", GgmlType::Q5_K},
    FileTypeInfo{FileType::MOSTLY_Q6_K, "Q6_K", GgmlType::Q6_K},
    FileTypeInfo{FileType::MOSTLY_IQ4_NL, "IQ4_NL", GgmlType::IQ4_NL},
    FileTypeInfo{FileType::MOSTLY_IQ4_XS, "IQ4_XS", GgmlType::IQ4_XS},
    FileTypeInfo{FileType::MOSTLY_TQ1_0, "TQ1_0", GgmlType::TQ1_0},
    FileTypeInfo{FileType::MOSTLY_TQ2_0, "TQ2_0", GgmlType::TQ2_0},
    FileTypeInfo{FileType::MOSTLY_MXFP4_MOE, "MXFP4_MOE", GgmlType::MXFP4},
};

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

bool is_quantized(GgmlType t) {
  return t != GgmlType::F32 && t != GgmlType::F16 && t != GgmlType::BF16;
}

// llama.cpp spends more bits on the first and last eighth of the layers and on every third in between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// Row length must be a whole number of blocks; otherwise llama.cpp falls back to a 32-block type.
GgmlType fallback_for_row(GgmlType t, uint64_t row) {
  if (row % gguf::ggml_type_info(t).block_elements == 0) return t;
  GgmlType f;
  switch (t) {
    case GgmlType::IQ4_XS: f = GgmlType::IQ4_NL; break;
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::TQ1_0:
    case GgmlType::TQ2_0: f = GgmlType::Q4_0; break;
    case GgmlType::Q4_K: f = GgmlType::Q5_0; break;
    case GgmlType::Q5_K: f = GgmlType::Q5_1; break;
    case GgmlType::Q6_K: f = GgmlType::Q8_0; break;
    default: f = t; break;
  }
  if (row % gguf::ggml_type_info(f).block_elements != 0) f = GgmlType::F16;
  return f;
}

}  // namespace

std::optional<FileTypeInfo> file_type_from_name(std::string_view name) {
  for (const auto& f : kFileTypes) {
    if (iequal(f.name, name)) return f;
  }
  return std::nullopt;
}

std::optional<FileTypeInfo> file_type_info(uint32_t raw) {
  for (const auto& f : kFileTypes) {
    if (static_cast<uint32_t>(f.type) == raw) return f;
  }
  return std::nullopt;
}

std::vector<FileTypeInfo> all_file_types() { return {kFileTypes.begin(), kFileTypes.end()}; }

QuantMix::QuantMix(FileType file_type, const std::vector<TensorSpec>& layout) : ftype_(file_type) {
  base_ = file_type_info(static_cast<uint32_t>(file_type))->base;
  for (const auto& t : layout) {
    if (t.role == TensorRole::kAttnV) ++n_attn_v_;
    if (t.role == TensorRole::kFfnDown) ++n_ffn_down_;
  }
}

GgmlType QuantMix::type_for(const TensorSpec& t) {
  GgmlType chosen = choose(t);
  if (t.role == TensorRole::kAttnV) ++i_attn_v_;
  if (t.role == TensorRole::kFfnDown) ++i_ffn_down_;
  if (is_quantized(chosen)) chosen = fallback_for_row(chosen, t.shape[0]);
  return chosen;
}

GgmlType QuantMix::choose(const TensorSpec& t) {
  // 1-D tensors (norms, scales, rope factors) always stay F32, as the converter writes them.
  if (t.shape.size() < 2) return GgmlType::F32;
  if (t.role == TensorRole::kRouter) return GgmlType::F32;
  if (!is_quantized(base_)) return base_;

  using F = FileType;
  const F f = ftype_;
  // The token embedding doubles as the output head (tied), so it gets the output tensor's type.
  if (t.role == TensorRole::kTokenEmbedding || t.role == TensorRole::kPerLayerEmbedding) {
    if (f == F::MOSTLY_MXFP4_MOE) return GgmlType::Q8_0;
    if (t.shape[0] % gguf::ggml_type_info(base_).block_elements != 0) return GgmlType::Q8_0;
    if (base_ != GgmlType::Q8_0) return GgmlType::Q6_K;
    return base_;
  }
  if (f == F::MOSTLY_MXFP4_MOE) return t.role == TensorRole::kExperts ? GgmlType::MXFP4 : GgmlType::Q8_0;

  if (t.role == TensorRole::kAttnV) {
    switch (f) {
      case F::MOSTLY_Q2_K: return GgmlType::Q3_K;  // n_gqa < 4 for every Gemma 4 size
      case F::MOSTLY_Q3_K_M: return i_attn_v_ < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
      case F::MOSTLY_Q3_K_L: return GgmlType::Q5_K;
      case F::MOSTLY_Q4_K_M:
      case F::MOSTLY_Q5_K_M: return use_more_bits(i_attn_v_, n_attn_v_) ? GgmlType::Q6_K : base_;
      case F::MOSTLY_Q4_K_S: return i_attn_v_ < 4 ? GgmlType::Q5_K : base_;
      default: return base_;
    }
  }
  if (t.role == TensorRole::kFfnDown) {
    const int i = i_ffn_down_, n = n_ffn_down_;
    switch (f) {
      case F::MOSTLY_Q2_K: return GgmlType::Q3_K;
      case F::MOSTLY_Q3_K_M: return i < n / 16 ? GgmlType::Q5_K : GgmlType::Q4_K;
      case F::MOSTLY_Q3_K_L: return GgmlType::Q5_K;
      case F::MOSTLY_Q4_K_M: return use_more_bits(i, n) ? GgmlType::Q6_K : base_;
      case F::MOSTLY_Q5_K_M: return use_more_bits(i, n) ? GgmlType::Q6_K : base_;
      case F::MOSTLY_Q4_K_S: return i < n / 8 ? GgmlType::Q5_K : base_;
      case F::MOSTLY_IQ4_NL:
      case F::MOSTLY_IQ4_XS: return i < n / 8 ? GgmlType::Q5_K : base_;
      default: return base_;
    }
  }
  if (t.name.find("attn_output") != std::string::npos) {
    switch (f) {
      case F::MOSTLY_Q2_K: return GgmlType::Q3_K;
      case F::MOSTLY_Q3_K_M: return GgmlType::Q4_K;
      case F::MOSTLY_Q3_K_L: return GgmlType::Q5_K;
      default: return base_;
    }
  }
  return base_;
}

}  // namespace locus::model
