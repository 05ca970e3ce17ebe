// For tests and fuzz seeds only: builds GGUF byte images by hand, field by field, so a test can make any
// file, valid or not, without going through the writer under test.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/tensor_type.h"
#include "gguf/value.h"

namespace locus::gguf::testing {

class GgufBytes {
 public:
  GgufBytes() { bytes_.reserve(256); }  // also keeps g++ 12 from a false -Wstringop-overflow on the first insert

  // Magic, version and the two counts, as GGUF v2/v3 lay them out.
  static GgufBytes header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    GgufBytes b;
    b.raw("GGUF").u32(version).u64(n_tensors).u64(n_kv);
    return b;
  }

  GgufBytes& raw(std::string_view s) {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  GgufBytes& u8(uint8_t v) { return put(v); }
  GgufBytes& i8(int8_t v) { return put(v); }
  GgufBytes& u16(uint16_t v) { return put(v); }
  GgufBytes& i16(int16_t v) { return put(v); }
  GgufBytes& u32(uint32_t v) { return put(v); }
  GgufBytes& i32(int32_t v) { return put(v); }
  GgufBytes& u64(uint64_t v) { return put(v); }
  GgufBytes& i64(int64_t v) { return put(v); }
  GgufBytes& f32(float v) { return put(v); }
  GgufBytes& f64(double v) { return put(v); }
  GgufBytes& str(std::string_view s) { return u64(s.size()).raw(s); }
  GgufBytes& type(ValueType t) { return u32(static_cast<uint32_t>(t)); }

  // A key and its value type; the value follows.
  GgufBytes& key(std::string_view k, ValueType t) { return str(k).type(t); }
  // An array header (element type and count) after key(..., ARRAY) or as a nested item.
  GgufBytes& array_of(ValueType element, uint64_t count) { return type(element).u64(count); }

  GgufBytes& tensor_info(std::string_view name, std::initializer_list<uint64_t> shape, GgmlType t,
                         uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(shape.size()));
    for (uint64_t d : shape) u64(d);
    return u32(static_cast<uint32_t>(t)).u64(offset);
  }

  GgufBytes& zeros(size_t n) {
    bytes_.insert(bytes_.end(), n, 0);
    return *this;
  }
  GgufBytes& fill(size_t n, uint8_t v) {
    bytes_.insert(bytes_.end(), n, v);
    return *this;
  }
  GgufBytes& pad_to(uint64_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
    return *this;
  }

  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  template <typename T>
  GgufBytes& put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    bytes_.insert(bytes_.end(), b, b + sizeof(T));
    return *this;
  }

  std::vector<uint8_t> bytes_;
};

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace locus::gguf::testing
