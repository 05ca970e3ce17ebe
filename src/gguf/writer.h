// Writing GGUF v3 files that llama.cpp loads. The header (metadata and tensor directory) is written first;
// tensor data then streams to disk in directory order, so a model larger than memory can be written.
// Layout as llama.cpp writes it: little-endian, the data section starts at the aligned end of the tensor
// infos, each tensor's data is followed by zeros up to the alignment, offsets are those padded sizes summed.
// Bad input (duplicate keys or names, an invalid shape, a Value whose type and content disagree, too many
// or too few bytes for a tensor, an I/O failure) throws GgufError.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "gguf/file.h"

namespace locus::gguf {

class GgufWriter {
 public:
  GgufWriter() = default;
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // Metadata and tensor infos are collected first; offsets are assigned by begin_data().
  void set_version(uint32_t v) { version_ = v; }  // 2 or 3; checked by begin_data()
  void set_alignment(uint64_t a);  // also writes/updates general.alignment when != 32
  void add(std::string key, Value value);  // adding general.alignment (u32) sets the alignment too
  void add_tensor(std::string name, std::vector<uint64_t> shape, GgmlType type);

  // Opens `path`, writes header, metadata and tensor infos, pads to alignment. Throws GgufError.
  void begin_data(const std::string& path);
  // Appends the data of the next tensor in directory order (must be exactly its n_bytes).
  // May be called in pieces: write_tensor_chunk() repeatedly, then end_tensor().
  void write_tensor(std::span<const uint8_t> bytes);
  void write_tensor_chunk(std::span<const uint8_t> bytes);
  void end_tensor();
  // Flushes and closes; checks every tensor was written.
  void finish();

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  uint64_t data_offset() const { return data_offset_; }  // valid after begin_data()

  // A writer destroyed between begin_data() and a successful finish() deletes its incomplete file.
  ~GgufWriter();

 private:
  void write_bytes(const uint8_t* p, size_t n);
  [[noreturn]] void fail(const std::string& what) const;

  uint32_t version_ = 3;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<TensorInfo> tensors_;
  std::FILE* out_ = nullptr;
  std::string path_;
  size_t next_tensor_ = 0;
  uint64_t written_in_tensor_ = 0;
  uint64_t data_offset_ = 0;
};

// Writes a parsed content back (metadata, directory and the given data section) byte for byte as
// a file with the same layout. Used for round-trip tests. Value types, key order, tensor order and
// offsets are kept as given; the data section (tensor data and the padding between) is copied verbatim
// after zero padding up to content.data_offset (0: the aligned end of the tensor infos).
void write_gguf(const std::string& path, const GgufContent& content, std::span<const uint8_t> data_section);

// The bytes write_gguf writes before the data section: header, metadata, tensor infos and zero padding up
// to content.data_offset (0: the aligned end of the tensor infos). `display_name` names the content in errors.
std::vector<uint8_t> encode_gguf_header(const GgufContent& content, const std::string& display_name = "GGUF header");

}  // namespace locus::gguf
