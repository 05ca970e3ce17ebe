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

// A tiny GGUF at `p`: two F32 tensors (256 + 64 elements), architecture and file type set. `seed` varies the
// data so that two files get different digests.
inline void write_tiny_gguf(const std::filesystem::path& p, uint8_t seed, uint32_t file_type = 15,
                            std::string arch = "gemma4") {
  gguf::GgufWriter w;
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
