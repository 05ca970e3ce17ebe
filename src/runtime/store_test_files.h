// Tests only: helpers the model store, pull, push and create tests share.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/writer.h"

namespace locus::runtime::testing {

inline std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_text(const std::filesystem::path& p, std::string_view text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

inline bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// A tiny GGUF at `p`: two F32 tensors (256 + 64 elements), architecture and file type set, and
// {arch}.embedding_length when `embedding_length` is not 0. `seed` varies the data so that two files get
// different digests.
inline void write_tiny_gguf(const std::filesystem::path& p, uint8_t seed, uint32_t file_type = 15,
                            std::string arch = "gemma4", uint32_t embedding_length = 0) {
  gguf::GgufWriter w;
  if (embedding_length != 0) w.add(arch + ".embedding_length", gguf::Value::u32(embedding_length));
  w.add("general.architecture", gguf::Value::string(std::move(arch)));
  w.add("general.file_type", gguf::Value::u32(file_type));
  w.add("general.size_label", gguf::Value::string("1B"));
  w.add_tensor("a.weight", {64, 4}, gguf::GgmlType::F32);
  w.add_tensor("b.weight", {64}, gguf::GgmlType::F32);
  std::filesystem::create_directories(p.parent_path());
  w.begin_data(p.string());
  std::vector<uint8_t> a(256 * 4), b(64 * 4);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(seed + i);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(seed * 3 + i);
  w.write_tensor(a);
  w.write_tensor(b);
  w.finish();
}

// A projector GGUF with the metadata model_projector.h checks (and one small tensor), each field settable so
// that tests can make every kind of wrong one. An empty string leaves that key out.
struct TestProjector {
  std::string arch = "clip";
  bool vision = true;
  bool audio = true;
  uint32_t vision_dim = 64;
  uint32_t audio_dim = 64;
  std::string vision_type = "gemma4uv";
  std::string audio_type = "gemma4ua";
  std::string common_type;  // clip.projector_type, the file-wide key older converters write
  uint8_t seed = 1;
};
inline void write_projector_gguf(const std::filesystem::path& p, const TestProjector& t = {}) {
  gguf::GgufWriter w;
  if (!t.arch.empty()) w.add("general.architecture", gguf::Value::string(t.arch));
  w.add("general.type", gguf::Value::string("mmproj"));
  w.add("general.name", gguf::Value::string("test projector"));
  w.add("clip.has_vision_encoder", gguf::Value::boolean(t.vision));
  w.add("clip.has_audio_encoder", gguf::Value::boolean(t.audio));
  if (!t.common_type.empty()) w.add("clip.projector_type", gguf::Value::string(t.common_type));
  if (!t.vision_type.empty()) w.add("clip.vision.projector_type", gguf::Value::string(t.vision_type));
  if (t.vision_dim != 0) {
    w.add("clip.vision.embedding_length", gguf::Value::u32(t.vision_dim));
    w.add("clip.vision.projection_dim", gguf::Value::u32(t.vision_dim));
  }
  if (!t.audio_type.empty()) w.add("clip.audio.projector_type", gguf::Value::string(t.audio_type));
  if (t.audio_dim != 0) {
    w.add("clip.audio.embedding_length", gguf::Value::u32(640));
    w.add("clip.audio.projection_dim", gguf::Value::u32(t.audio_dim));
  }
  w.add_tensor("mm.input_projection.weight", {8, 4}, gguf::GgmlType::F32);
  std::filesystem::create_directories(p.parent_path());
  w.begin_data(p.string());
  std::vector<uint8_t> data(8 * 4 * 4);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(t.seed + i);
  w.write_tensor(data);
  w.finish();
}

// The exception of type E that `f` throws, or `none` when it throws none.
template <typename E>
E error_of(const std::function<void()>& f, E none) {
  try {
    f();
  } catch (const E& e) {
    return e;
  }
  return none;
}

}  // namespace locus::runtime::testing
