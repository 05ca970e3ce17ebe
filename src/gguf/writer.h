// Writing GGUF v3 files that llama.cpp loads. The header (metadata and tensor directory) is written first;
// tensor data then streams to disk in directory order, so a model larger than memory can be written.
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
  // Metadata and tensor infos are collected first; offsets are assigned by begin_data().
  void set_version(uint32_t v) { version_ = v; }
  void set_alignment(uint64_t a);  // also writes/updates general.alignment when != 32
  void add(std::string key, Value value);
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

  ~GgufWriter();

 private:
  uint32_t version_ = 3;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<TensorInfo> tensors_;
  std::FILE* out_ = nullptr;
  std::string path_;
  size_t next_tensor_ = 0;
  uint64_t written_in_tensor_ = 0;
};

// Writes a parsed content back (metadata, directory and the given data section) byte for byte as
// a file with the same layout. Used for round-trip tests.
void write_gguf(const std::string& path, const GgufContent& content, std::span<const uint8_t> data_section);

}  // namespace locus::gguf
