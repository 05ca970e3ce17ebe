// ggml tensor element types as numbered in GGUF files, with their block geometry.
// The numbering is part of the file format; block sizes and byte sizes are checked against
// llama.cpp's library in tensor/oracle tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace locus::gguf {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
  Q2_0 = 42,
};

struct GgmlTypeInfo {
  GgmlType type;
  std::string_view name;    // lower-case name as llama.cpp prints it ("q4_K")
  uint32_t block_elements;  // elements per block (1 for plain types)
  uint32_t block_bytes;     // bytes per block
};

// Info for a known type, or nullopt for a number this build does not know.
std::optional<GgmlTypeInfo> ggml_type_info(uint32_t raw_type);
const GgmlTypeInfo& ggml_type_info(GgmlType type);

// Lookup by name, case-insensitive ("Q4_K", "q4_k", "bf16").
std::optional<GgmlType> ggml_type_from_name(std::string_view name);

// Bytes of a row of n elements; nullopt when n is not a whole number of blocks.
std::optional<uint64_t> ggml_row_bytes(GgmlType type, uint64_t n_elements);

}  // namespace locus::gguf
