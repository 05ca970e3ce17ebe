// `create --quantize`: rewriting an F32/F16/BF16 GGUF with quantized weights, each tensor's type chosen by the
// same mix llama-quantize uses (model/quant_mix.h), the metadata kept but for general.file_type.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/quant_mix.h"

namespace locus::runtime {

// A --quantize name (any case: "q4_K_M", "Q8_0") that this build can write, or nothing.
std::optional<model::FileTypeInfo> quantize_target(std::string_view name);
std::vector<std::string> quantize_target_names();

// The GGUF's name for its weights' storage ("F16", "BF16", "Q4_K_M") and whether they can be requantized:
// only unquantized weights can (quantizing quantized weights again compounds the error).
struct QuantizeSource {
  std::string file_type;  // general.file_type's name, or the type of the first matrix
  bool unquantized = false;
};
QuantizeSource describe_quantize_source(const std::filesystem::path& gguf_path);

// Writes `out_path` (created or replaced). Throws StoreError: bad_input when the source holds quantized
// tensors, io when writing fails. progress(done, total) counts tensor elements.
void requantize_gguf(const std::filesystem::path& source, const std::filesystem::path& out_path,
                     const model::FileTypeInfo& target,
                     const std::function<void(uint64_t done, uint64_t total)>& progress = {});

}  // namespace locus::runtime
