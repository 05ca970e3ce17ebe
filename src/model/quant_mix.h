// Whole-model storage types ("file types") and the per-tensor type each one picks, following the
// choices llama.cpp's quantizer makes for Gemma 4, so that a Q4_K_M written here holds the same
// tensor types as a Q4_K_M written by llama-quantize.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "gguf/tensor_type.h"
#include "model/gemma4_config.h"

namespace locus::model {

using gguf::GgmlType;

// Numbering of general.file_type (llama.cpp's llama_ftype).
enum class FileType : uint32_t {
  ALL_F32 = 0,
  MOSTLY_F16 = 1,
  MOSTLY_Q4_0 = 2,
  MOSTLY_Q4_1 = 3,
  MOSTLY_Q8_0 = 7,
  MOSTLY_Q5_0 = 8,
  MOSTLY_Q5_1 = 9,
  MOSTLY_Q2_K = 10,
  MOSTLY_Q3_K_S = 11,
  MOSTLY_Q3_K_M = 12,
  MOSTLY_Q3_K_L = 13,
  MOSTLY_Q4_K_S = 14,
  MOSTLY_Q4_K_M = 15,
  MOSTLY_Q5_K_S = 16,
  MOSTLY_Q5_K_M = 17,
  MOSTLY_Q6_K = 18,
  MOSTLY_IQ4_NL = 25,
  MOSTLY_IQ4_XS = 30,
  MOSTLY_BF16 = 32,
  MOSTLY_TQ1_0 = 36,
  MOSTLY_TQ2_0 = 37,
  MOSTLY_MXFP4_MOE = 38,
};

struct FileTypeInfo {
  FileType type;
  std::string_view name;   // "Q4_K_M"
  GgmlType base;           // the type most tensors get
};

std::optional<FileTypeInfo> file_type_from_name(std::string_view name);  // case-insensitive
std::optional<FileTypeInfo> file_type_info(uint32_t raw);
std::vector<FileTypeInfo> all_file_types();

// Chooses the stored type of each tensor of a layout for a file type. Call in layout order:
// like llama.cpp, the choice for attn_v and ffn_down depends on how many came before.
class QuantMix {
 public:
  QuantMix(FileType file_type, const std::vector<TensorSpec>& layout);
  GgmlType type_for(const TensorSpec& t);

 private:
  GgmlType choose(const TensorSpec& t);
  FileType ftype_;
  GgmlType base_;
  int n_attn_v_ = 0, i_attn_v_ = 0;
  int n_ffn_down_ = 0, i_ffn_down_ = 0;
};

}  // namespace locus::model
