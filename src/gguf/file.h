// Reading GGUF v2/v3 files: header, metadata, tensor directory, and memory-mapped tensor data.
// Everything read from the file is validated before use; a bad file gives a GgufError whose message
// names the file and says what was expected and what was found. Nothing here trusts a count or size
// from the file before checking it against the bytes that are really there.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "gguf/tensor_type.h"
#include "gguf/value.h"

namespace locus::gguf {

class GgufError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> shape;  // ggml order: shape[0] is the contiguous dimension
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;          // relative to the start of the data section
  uint64_t n_bytes = 0;         // derived from type and shape
  uint64_t n_elements() const;
};

// Parsed GGUF content. Metadata keeps file order.
struct GgufContent {
  uint32_t version = 3;
  uint64_t alignment = 32;  // from general.alignment (u32), else 32
  std::vector<std::pair<std::string, Value>> metadata;
  std::vector<TensorInfo> tensors;
  // Absolute offset of the data section: the end of the tensor infos rounded up to the alignment (when a
  // file without tensors stops before that, the end of the infos). Zero in content built by hand means
  // "work it out" to write_gguf.
  uint64_t data_offset = 0;
};

// Parses a complete GGUF image held in memory (also used by the fuzz target).
// `size` is the whole file size; tensor data must lie inside it. Tensor data may come in any order and with
// gaps, but must be aligned and must not overlap. Errors read "NAME: what: expected X, found Y".
GgufContent parse_gguf(const uint8_t* data, size_t size, const std::string& display_name);

// An opened, memory-mapped GGUF file.
class GgufFile {
 public:
  static GgufFile open(const std::string& path);  // throws GgufError
  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  ~GgufFile();

  const std::string& path() const { return path_; }
  const GgufContent& content() const { return content_; }
  uint32_t version() const { return content_.version; }
  uint64_t file_size() const { return size_; }

  // Metadata lookup.
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Typed accessors; they throw GgufError "key K missing in FILE" or "key K in FILE: expected u32, found string".
  // Integer accessors accept any integer type whose value fits ("expected u32, found i64 -1" otherwise);
  // get_f32 accepts f32 and f64.
  uint32_t get_u32(std::string_view key) const;
  uint64_t get_u64(std::string_view key) const;
  int64_t get_i64(std::string_view key) const;
  float get_f32(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::string get_string(std::string_view key) const;
  const Array& get_array(std::string_view key) const;
  std::optional<uint32_t> get_u32_or(std::string_view key) const;  // nullopt when absent (still throws on wrong type)
  std::optional<std::string> get_string_or(std::string_view key) const;

  // Tensors.
  const TensorInfo* find_tensor(std::string_view name) const;
  // Throws "tensor NAME missing in FILE" or "tensor NAME in FILE: expected [a, b], found [c, d]".
  const TensorInfo& require_tensor(std::string_view name, std::span<const uint64_t> expected_shape) const;
  std::span<const uint8_t> tensor_data(const TensorInfo& t) const;
  // Everything from data_offset to the end of the file, padding included (what write_gguf copies).
  std::span<const uint8_t> data_section() const;

  // Reads the whole data section into anonymous memory (asking for transparent huge pages, which halve
  // the cost of streaming weights from RAM) and serves tensor_data and data_section from there from then
  // on; the file's mapping of the data is never touched, so the weights are resident once. Call it before
  // taking any tensor_data span. progress(done, total) is called after each chunk read. Throws GgufError
  // when the memory cannot be had or the file cannot be read (the file stays usable, mapped).
  void load_resident(const std::function<void(uint64_t done, uint64_t total)>& progress = {});
  bool resident() const { return resident_ != nullptr; }

 private:
  GgufFile() = default;
  const Value& require(std::string_view key) const;
  [[noreturn]] void wrong_type(std::string_view key, std::string_view expected, const Value& found) const;
  std::string path_;
  const uint8_t* map_ = nullptr;
  uint64_t size_ = 0;
  uint8_t* resident_ = nullptr;       // the data section's copy (load_resident), or null
  uint64_t resident_bytes_ = 0;       // its mapping's length
  const uint8_t* data_base() const { return resident_ != nullptr ? resident_ : map_ + content_.data_offset; }
  GgufContent content_;
  std::map<std::string, size_t, std::less<>> key_index_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Shape formatted as "[3840, 4096]".
std::string format_shape(std::span<const uint64_t> shape);

}  // namespace locus::gguf
