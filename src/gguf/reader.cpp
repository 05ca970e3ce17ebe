// parse_gguf: the GGUF v2/v3 header, metadata and tensor directory, validated against the bytes present.
// Every count and length is checked against the bytes left before anything is allocated for it.
#include <algorithm>
#include <string_view>
#include <unordered_set>

#include "gguf/file.h"
#include "gguf/printable.h"
#include "gguf/tensor_size.h"
#include "gguf/wire.h"

namespace locus::gguf {
namespace {

constexpr uint64_t kHeaderBytes = 4 + 4 + 8 + 8;  // magic, version, tensor count, kv count
// Smallest encodings, used to bound counts before allocating: a kv is a key length, a value type and
// at least one byte of value; a tensor info is a name length, n_dims, type and offset.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;

std::string u(uint64_t v) { return std::to_string(v); }

// On-disk size of the smallest value of a type (an array element of that type).
uint64_t min_value_bytes(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL: return 1;
    case ValueType::UINT16:
    case ValueType::INT16: return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32: return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64:
    case ValueType::STRING: return 8;  // a string is at least its length
    case ValueType::ARRAY: return 4 + 8;  // element type and count
  }
  return 1;
}

bool known_value_type(uint32_t raw) { return raw <= static_cast<uint32_t>(ValueType::FLOAT64); }

class Parser {
 public:
  Parser(const uint8_t* data, size_t size, const std::string& display_name)
      : data_(data), size_(size), name_(display_name) {}

  GgufContent parse() {
    GgufContent c;
    read_header(c);
    read_metadata(c);
    read_tensor_infos(c);
    place_data_section(c);
    return c;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw GgufError(name_ + ": " + (where_.empty() ? "" : where_ + ": ") + what);
  }

  uint64_t left() const { return size_ - pos_; }

  void need(uint64_t n, std::string_view what) const {
    if (n > left()) {
      fail("file truncated at byte " + u(pos_) + " reading " + std::string(what) + ": expected " + u(n) +
           " more bytes, found " + u(left()));
    }
  }

  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v = wire::load<T>(data_ + pos_);
    pos_ += sizeof(T);
    return v;
  }

  // Points into the input; valid as long as the caller's bytes are.
  std::string_view read_string(std::string_view what) {
    const auto len = read<uint64_t>(what);
    if (len > left()) {
      fail("file truncated at byte " + u(pos_) + " reading " + std::string(what) + ": expected a string of " +
           u(len) + " bytes, found " + u(left()) + " bytes left");
    }
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return s;
  }

  void read_header(GgufContent& c) {
    if (size_ < 4) fail("file truncated: expected at least " + u(kHeaderBytes) + " bytes, found " + u(size_));
    const std::string_view magic(reinterpret_cast<const char*>(data_), 4);
    if (magic != "GGUF") fail("not a GGUF file: expected magic \"GGUF\", found \"" + printable(magic) + "\"");
    pos_ = 4;
    const auto version = read<uint32_t>("the version");
    if (version == 1) {
      fail("GGUF version 1 is no longer supported: expected version 2 or 3, found 1");
    }
    if (version != 2 && version != 3) {
      // A big-endian v3 file reads as 0x03000000 here.
      const bool swapped = version != 0 && (version & 0xffffu) == 0;
      fail("unsupported GGUF version: expected 2 or 3, found " + u(version) +
           (swapped ? " (a big-endian file?)" : ""));
    }
    c.version = version;
    const auto n_tensors = read<uint64_t>("the tensor count");
    const auto n_kv = read<uint64_t>("the metadata count");
    const uint64_t max_kv = left() / kMinKvBytes;
    if (n_kv > max_kv) {
      fail("metadata count too large: expected at most " + u(max_kv) + " for the " + u(left()) +
           " bytes left, found " + u(n_kv));
    }
    const uint64_t max_tensors = (left() - n_kv * kMinKvBytes) / kMinTensorInfoBytes;
    if (n_tensors > max_tensors) {
      fail("tensor count too large: expected at most " + u(max_tensors) + " for the " + u(left()) +
           " bytes left, found " + u(n_tensors));
    }
    n_kv_ = n_kv;
    n_tensors_ = n_tensors;
  }

  void read_metadata(GgufContent& c) {
    c.metadata.reserve(n_kv_);
    std::unordered_set<std::string_view> seen;
    seen.reserve(n_kv_);
    for (uint64_t i = 0; i < n_kv_; ++i) {
      where_ = "metadata entry " + u(i);
      const std::string_view key = read_string("a key");
      where_ = "key " + printable(key);
      if (!seen.insert(key).second) fail("duplicate key: expected each key once, found it again at entry " + u(i));
      const auto raw_type = read<uint32_t>("the value type");
      if (!known_value_type(raw_type)) fail("unknown value type: expected 0 to 12, found " + u(raw_type));
      c.metadata.emplace_back(std::string(key), read_value(static_cast<ValueType>(raw_type), 0));
    }
    where_.clear();

    for (const auto& [key, value] : c.metadata) {
      if (key != "general.alignment") continue;
      where_ = "key general.alignment";
      if (value.type != ValueType::UINT32) {
        fail("expected u32, found " + std::string(value_type_name(value.type)));
      }
      const uint64_t a = std::get<uint64_t>(value.data);
      if (!wire::is_power_of_two(a)) fail("expected a nonzero power of two, found " + u(a));
      c.alignment = a;
      where_.clear();
    }
  }

  Value read_value(ValueType type, int depth) {
    switch (type) {
      case ValueType::UINT8: return {type, uint64_t{read<uint8_t>("a u8 value")}};
      case ValueType::INT8: return {type, int64_t{read<int8_t>("an i8 value")}};
      case ValueType::UINT16: return {type, uint64_t{read<uint16_t>("a u16 value")}};
      case ValueType::INT16: return {type, int64_t{read<int16_t>("an i16 value")}};
      case ValueType::UINT32: return {type, uint64_t{read<uint32_t>("a u32 value")}};
      case ValueType::INT32: return {type, int64_t{read<int32_t>("an i32 value")}};
      case ValueType::UINT64: return {type, read<uint64_t>("a u64 value")};
      case ValueType::INT64: return {type, read<int64_t>("an i64 value")};
      case ValueType::FLOAT32: return {type, wire::f32_bits_to_double(read<uint32_t>("an f32 value"))};
      case ValueType::FLOAT64: return {type, read<double>("an f64 value")};
      case ValueType::BOOL: {
        const auto b = read<uint8_t>("a bool value");
        // Anything but 0 or 1 could not be written back unchanged.
        if (b > 1) fail("bad bool at byte " + u(pos_ - 1) + ": expected 0 or 1, found " + u(b));
        return {type, b == 1};
      }
      case ValueType::STRING: return {type, std::string(read_string("a string value"))};
      case ValueType::ARRAY: return read_array(depth + 1);
    }
    fail("unknown value type: expected 0 to 12, found " + u(static_cast<uint32_t>(type)));
  }

  Value read_array(int depth) {
    if (depth > wire::kMaxArrayDepth) {
      fail("arrays nested too deeply: expected at most " + std::to_string(wire::kMaxArrayDepth) +
           " levels, found more");
    }
    const auto raw_type = read<uint32_t>("an array element type");
    if (!known_value_type(raw_type)) fail("unknown array element type: expected 0 to 12, found " + u(raw_type));
    const auto element_type = static_cast<ValueType>(raw_type);
    const auto count = read<uint64_t>("an array length");
    const uint64_t max_count = left() / min_value_bytes(element_type);
    if (count > max_count) {
      fail("array length too large: expected at most " + u(max_count) + " " +
           std::string(value_type_name(element_type)) + " items for the " + u(left()) + " bytes left, found " +
           u(count));
    }
    if (count > wire::kMaxArrayItems - array_items_) {
      fail("too many metadata array items: expected at most " + u(wire::kMaxArrayItems) +
           " in one file, found more");
    }
    array_items_ += count;
    auto array = std::make_shared<Array>();
    array->element_type = element_type;
    array->items.reserve(count);
    for (uint64_t i = 0; i < count; ++i) array->items.push_back(read_value(element_type, depth));
    return {ValueType::ARRAY, std::move(array)};
  }

  void read_tensor_infos(GgufContent& c) {
    c.tensors.reserve(n_tensors_);
    std::unordered_set<std::string_view> seen;
    seen.reserve(n_tensors_);
    for (uint64_t i = 0; i < n_tensors_; ++i) {
      where_ = "tensor info " + u(i);
      const std::string_view name = read_string("a tensor name");
      where_ = "tensor " + printable(name);
      if (!seen.insert(name).second) {
        fail("duplicate tensor name: expected each name once, found it again at tensor info " + u(i));
      }
      TensorInfo t;
      t.name = std::string(name);
      const auto n_dims = read<uint32_t>("the dimension count");
      if (n_dims > wire::kMaxDims) {
        fail("expected at most " + u(wire::kMaxDims) + " dimensions, found " + u(n_dims));
      }
      t.shape.resize(n_dims);
      for (auto& d : t.shape) d = read<uint64_t>("a dimension");
      const auto raw_type = read<uint32_t>("the tensor type");
      const auto info = ggml_type_info(raw_type);
      if (!info) fail("unknown ggml type: expected a known type number, found " + u(raw_type));
      t.type = info->type;
      const TensorSize size = tensor_size(t.shape, t.type);
      if (!size.error.empty()) fail(size.error);
      t.n_bytes = size.n_bytes;
      t.offset = read<uint64_t>("the tensor offset");
      if (t.offset % c.alignment != 0) {
        fail("misaligned data offset: expected a multiple of " + u(c.alignment) + ", found " + u(t.offset));
      }
      c.tensors.push_back(std::move(t));
    }
    where_.clear();
  }

  void place_data_section(GgufContent& c) {
    const uint64_t header_end = pos_;
    const uint64_t aligned = wire::align_up(header_end, c.alignment).value_or(UINT64_MAX);
    if (aligned <= size_) {
      c.data_offset = aligned;
    } else if (c.tensors.empty()) {
      // Without tensors, writers may stop right after the metadata; whatever follows is kept as data.
      c.data_offset = header_end;
    } else {
      fail("file truncated: expected the data section to start at byte " + u(aligned) + ", found a file of " +
           u(size_) + " bytes");
    }
    const uint64_t data_bytes = size_ - c.data_offset;
    for (const auto& t : c.tensors) {
      if (t.offset > data_bytes || t.n_bytes > data_bytes - t.offset) {
        where_ = "tensor " + printable(t.name);
        fail("data lies past the end of the file: expected at most " + u(data_bytes) +
             " bytes of data section, found data up to " + u(t.offset) + " + " + u(t.n_bytes));
      }
    }
    // Tensors may sit in any order and with gaps, but no two may share a byte.
    std::vector<const TensorInfo*> by_offset;
    by_offset.reserve(c.tensors.size());
    for (const auto& t : c.tensors) {
      if (t.n_bytes > 0) by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      const TensorInfo& prev = *by_offset[i - 1];
      const TensorInfo& next = *by_offset[i];
      if (next.offset < prev.offset + prev.n_bytes) {
        where_ = "tensor " + printable(next.name);
        fail("data overlaps tensor " + printable(prev.name) + ": expected an offset of at least " +
             u(prev.offset + prev.n_bytes) + ", found " + u(next.offset));
      }
    }
  }

  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& name_;
  std::string where_;  // what is being read, for error messages ("key general.name")
  uint64_t n_kv_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t array_items_ = 0;
};

}  // namespace

GgufContent parse_gguf(const uint8_t* data, size_t size, const std::string& display_name) {
  return Parser(data, size, display_name).parse();
}

}  // namespace locus::gguf
