#include "gguf/tensor_size.h"

#include <cstdint>

#include "gguf/file.h"
#include "gguf/wire.h"

namespace locus::gguf {

TensorSize tensor_size(std::span<const uint64_t> shape, GgmlType type) {
  TensorSize r;
  if (shape.size() > wire::kMaxDims) {
    r.error = "expected at most " + std::to_string(wire::kMaxDims) + " dimensions, found " +
              std::to_string(shape.size());
    return r;
  }
  // ggml holds dimensions and element counts as int64.
  constexpr uint64_t kMax = INT64_MAX;
  uint64_t n = 1;
  bool zero = false;
  for (uint64_t d : shape) zero = zero || d == 0;
  for (uint64_t d : shape) {
    if (d > kMax || (!zero && d != 0 && n > kMax / d)) {
      r.error = "expected at most " + std::to_string(kMax) + " elements, found shape " + format_shape(shape);
      return r;
    }
    n = zero ? 0 : n * d;
  }
  const GgmlTypeInfo& info = ggml_type_info(type);
  const uint64_t row = shape.empty() ? 1 : shape[0];
  if (row % info.block_elements != 0) {
    r.error = "expected rows of whole " + std::to_string(info.block_elements) + "-element blocks for type " +
              std::string(info.name) + ", found rows of " + std::to_string(row) + " elements";
    return r;
  }
  const uint64_t blocks = n / info.block_elements;
  if (blocks > UINT64_MAX / info.block_bytes) {
    r.error = "expected a size in bytes that fits in 64 bits, found shape " + format_shape(shape) + " of type " +
              std::string(info.name);
    return r;
  }
  r.n_elements = n;
  r.n_bytes = blocks * info.block_bytes;
  return r;
}

}  // namespace locus::gguf
