// Internal to src/gguf: the element count and byte size of a tensor from its shape and type, with the
// checks ggml applies (at most 4 dimensions, counts representable as int64, rows of whole blocks).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "gguf/tensor_type.h"

namespace locus::gguf {

struct TensorSize {
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  std::string error;  // empty when the shape is valid for the type; else "expected ..., found ..."
};

TensorSize tensor_size(std::span<const uint64_t> shape, GgmlType type);

}  // namespace locus::gguf
