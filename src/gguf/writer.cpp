// GGUF encoding (metadata values, tensor infos) and the streaming GgufWriter.
#include "gguf/writer.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_set>
#include <utility>

#include "gguf/printable.h"
#include "gguf/tensor_size.h"
#include "gguf/wire.h"

namespace locus::gguf {
namespace {

constexpr std::string_view kAlignmentKey = "general.alignment";

class Encoder {
 public:
  Encoder(std::vector<uint8_t>& out, const std::string& name) : out_(out), name_(name) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw GgufError(name_ + ": " + (where_.empty() ? "" : where_ + ": ") + what);
  }

  void set_where(std::string where) { where_ = std::move(where); }

  void string(std::string_view s) {
    wire::store<uint64_t>(out_, s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }

  void value(const Value& v, int depth) {
    switch (v.type) {
      case ValueType::UINT8: return wire::store(out_, unsigned_as<uint8_t>(v));
      case ValueType::UINT16: return wire::store(out_, unsigned_as<uint16_t>(v));
      case ValueType::UINT32: return wire::store(out_, unsigned_as<uint32_t>(v));
      case ValueType::UINT64: return wire::store(out_, unsigned_as<uint64_t>(v));
      case ValueType::INT8: return wire::store(out_, signed_as<int8_t>(v));
      case ValueType::INT16: return wire::store(out_, signed_as<int16_t>(v));
      case ValueType::INT32: return wire::store(out_, signed_as<int32_t>(v));
      case ValueType::INT64: return wire::store(out_, signed_as<int64_t>(v));
      case ValueType::FLOAT32: return wire::store(out_, wire::double_to_f32_bits(f32_range(v)));
      case ValueType::FLOAT64: return wire::store(out_, content<double>(v));
      case ValueType::BOOL: return wire::store<uint8_t>(out_, content<bool>(v) ? 1 : 0);
      case ValueType::STRING: return string(content<std::string>(v));
      case ValueType::ARRAY: return array(v, depth + 1);
    }
    fail("unknown value type " + std::to_string(static_cast<uint32_t>(v.type)));
  }

 private:
  template <typename T>
  const T& content(const Value& v) const {
    const T* p = std::get_if<T>(&v.data);
    if (p == nullptr) fail("a " + std::string(value_type_name(v.type)) + " value holds content of another type");
    return *p;
  }

  double f32_range(const Value& v) const {
    const double x = content<double>(v);
    if (std::isfinite(x) && std::fabs(x) > std::numeric_limits<float>::max()) {
      fail("expected an f32 value, found " + std::to_string(x));
    }
    return x;
  }

  template <typename T>
  T unsigned_as(const Value& v) const {
    const uint64_t x = content<uint64_t>(v);
    if (x > std::numeric_limits<T>::max()) {
      fail("expected a " + std::string(value_type_name(v.type)) + " value, found " + std::to_string(x));
    }
    return static_cast<T>(x);
  }

  template <typename T>
  T signed_as(const Value& v) const {
    const int64_t x = content<int64_t>(v);
    if (x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max()) {
      fail("expected a " + std::string(value_type_name(v.type)) + " value, found " + std::to_string(x));
    }
    return static_cast<T>(x);
  }

  void array(const Value& v, int depth) {
    // The reader refuses deeper nesting, so writing it would make a file that does not read back.
    if (depth > wire::kMaxArrayDepth) {
      fail("expected arrays nested at most " + std::to_string(wire::kMaxArrayDepth) + " levels, found more");
    }
    const auto& a = content<std::shared_ptr<Array>>(v);
    if (a == nullptr) fail("an array value holds no array");
    wire::store(out_, static_cast<uint32_t>(a->element_type));
    wire::store<uint64_t>(out_, a->items.size());
    for (const Value& item : a->items) {
      if (item.type != a->element_type) {
        fail("expected array items of type " + std::string(value_type_name(a->element_type)) + ", found " +
             std::string(value_type_name(item.type)));
      }
      value(item, depth);
    }
  }

  std::vector<uint8_t>& out_;
  const std::string& name_;
  std::string where_;
};

// Header bytes up to the end of the tensor infos (no padding).
std::vector<uint8_t> encode_infos(const GgufContent& c, const std::string& name) {
  std::vector<uint8_t> out;
  Encoder e(out, name);
  if (c.version != 2 && c.version != 3) e.fail("expected version 2 or 3, found " + std::to_string(c.version));
  out.reserve(4096);
  const uint8_t magic[4] = {'G', 'G', 'U', 'F'};
  out.insert(out.end(), magic, magic + 4);
  wire::store<uint32_t>(out, c.version);
  wire::store<uint64_t>(out, c.tensors.size());
  wire::store<uint64_t>(out, c.metadata.size());
  std::unordered_set<std::string_view> keys;
  for (const auto& [key, value] : c.metadata) {
    e.set_where("key " + printable(key));
    if (!keys.insert(key).second) e.fail("duplicate key: expected each key once, found it twice");
    e.string(key);
    wire::store(out, static_cast<uint32_t>(value.type));
    e.value(value, 0);
  }
  std::unordered_set<std::string_view> names;
  for (const auto& t : c.tensors) {
    e.set_where("tensor " + printable(t.name));
    if (!names.insert(t.name).second) e.fail("duplicate tensor name: expected each name once, found it twice");
    e.string(t.name);
    wire::store<uint32_t>(out, static_cast<uint32_t>(t.shape.size()));
    for (uint64_t d : t.shape) wire::store(out, d);
    wire::store(out, static_cast<uint32_t>(t.type));
    wire::store(out, t.offset);
  }
  return out;
}

// The alignment a reader will use for this metadata, checked against the alignment the content claims.
void check_alignment(const GgufContent& c, const std::string& name) {
  if (!wire::is_power_of_two(c.alignment) || c.alignment > UINT32_MAX) {
    throw GgufError(name + ": expected an alignment that is a power of two below 2^32, found " +
                    std::to_string(c.alignment));
  }
  uint64_t from_metadata = wire::kDefaultAlignment;
  for (const auto& [key, value] : c.metadata) {
    if (key != kAlignmentKey) continue;
    const auto* x = std::get_if<uint64_t>(&value.data);
    if (value.type != ValueType::UINT32 || x == nullptr) {
      throw GgufError(name + ": key general.alignment: expected u32, found " +
                      std::string(value_type_name(value.type)));
    }
    from_metadata = *x;
  }
  if (from_metadata != c.alignment) {
    throw GgufError(name + ": expected general.alignment to match the alignment " + std::to_string(c.alignment) +
                    ", found " + std::to_string(from_metadata));
  }
}

std::string write_error(const std::string& path) { return path + ": cannot write: " + std::strerror(errno); }

}  // namespace

std::vector<uint8_t> encode_gguf_header(const GgufContent& content, const std::string& display_name) {
  check_alignment(content, display_name);
  std::vector<uint8_t> out = encode_infos(content, display_name);
  const uint64_t aligned = *wire::align_up(out.size(), content.alignment);
  uint64_t data_offset = content.data_offset == 0 ? aligned : content.data_offset;
  // Only these two starts read back the same: a reader looks for the data at the aligned end, or (without
  // tensors, in a file that stops short of it) right after the infos.
  const bool readable = data_offset == aligned || (content.tensors.empty() && data_offset == out.size());
  if (!readable) {
    throw GgufError(display_name + ": expected the data section at byte " + std::to_string(aligned) +
                    ", found data_offset " + std::to_string(data_offset));
  }
  out.resize(data_offset, 0);
  return out;
}

void write_gguf(const std::string& path, const GgufContent& content, std::span<const uint8_t> data_section) {
  std::vector<uint8_t> header = encode_gguf_header(content, path);
  // Data after metadata that stops short of the alignment reads back only while it stays short of it.
  const uint64_t gap = *wire::align_up(header.size(), content.alignment) - header.size();
  if (gap != 0 && data_section.size() >= gap) {
    throw GgufError(path + ": expected fewer than " + std::to_string(gap) +
                    " bytes of data after unaligned metadata, found " + std::to_string(data_section.size()));
  }
  for (const auto& t : content.tensors) {
    const TensorSize size = tensor_size(t.shape, t.type);
    if (!size.error.empty()) throw GgufError(path + ": tensor " + printable(t.name) + ": " + size.error);
    if (t.offset % content.alignment != 0 || t.offset > data_section.size() ||
        size.n_bytes > data_section.size() - t.offset) {
      throw GgufError(path + ": tensor " + printable(t.name) + ": expected aligned data inside the " +
                      std::to_string(data_section.size()) + "-byte data section, found offset " +
                      std::to_string(t.offset) + " and " + std::to_string(size.n_bytes) + " bytes");
    }
  }
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw GgufError(path + ": cannot create: " + std::strerror(errno));
  bool ok = std::fwrite(header.data(), 1, header.size(), f) == header.size();
  if (ok && !data_section.empty()) {
    ok = std::fwrite(data_section.data(), 1, data_section.size(), f) == data_section.size();
  }
  std::string error = ok ? "" : write_error(path);
  if (std::fclose(f) != 0 && ok) error = write_error(path);
  if (!error.empty()) {
    std::remove(path.c_str());
    throw GgufError(error);
  }
}

// --- GgufWriter ---

void GgufWriter::fail(const std::string& what) const {
  throw GgufError((path_.empty() ? std::string("GGUF writer") : path_) + ": " + what);
}

void GgufWriter::set_alignment(uint64_t a) {
  if (!wire::is_power_of_two(a) || a > UINT32_MAX) {
    fail("expected an alignment that is a power of two below 2^32, found " + std::to_string(a));
  }
  if (out_ != nullptr) fail("set_alignment after begin_data");
  alignment_ = a;
  for (auto& [key, value] : metadata_) {
    if (key == kAlignmentKey) {
      value = Value::u32(static_cast<uint32_t>(a));
      return;
    }
  }
  if (a != wire::kDefaultAlignment) metadata_.emplace_back(std::string(kAlignmentKey), Value::u32(static_cast<uint32_t>(a)));
}

void GgufWriter::add(std::string key, Value value) {
  if (out_ != nullptr) fail("key " + printable(key) + " added after begin_data");
  for (const auto& kv : metadata_) {
    if (kv.first == key) fail("key " + printable(key) + ": expected each key once, found it added twice");
  }
  if (key == kAlignmentKey) {
    const auto* x = std::get_if<uint64_t>(&value.data);
    if (value.type != ValueType::UINT32 || x == nullptr) {
      fail("key general.alignment: expected u32, found " + std::string(value_type_name(value.type)));
    }
    if (!wire::is_power_of_two(*x) || *x > UINT32_MAX) {
      fail("key general.alignment: expected a nonzero power of two, found " + std::to_string(*x));
    }
    alignment_ = *x;
  }
  metadata_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add_tensor(std::string name, std::vector<uint64_t> shape, GgmlType type) {
  if (out_ != nullptr) fail("tensor " + printable(name) + " added after begin_data");
  for (const auto& t : tensors_) {
    if (t.name == name) fail("tensor " + printable(name) + ": expected each name once, found it added twice");
  }
  const TensorSize size = tensor_size(shape, type);
  if (!size.error.empty()) fail("tensor " + printable(name) + ": " + size.error);
  TensorInfo t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  t.type = type;
  t.n_bytes = size.n_bytes;
  tensors_.push_back(std::move(t));
}

void GgufWriter::begin_data(const std::string& path) {
  if (out_ != nullptr) fail("begin_data called twice");
  path_ = path;
  uint64_t offset = 0;
  for (auto& t : tensors_) {
    t.offset = offset;
    const auto padded = wire::align_up(t.n_bytes, alignment_);
    if (!padded || *padded > UINT64_MAX - offset) fail("tensor " + printable(t.name) + ": data section too large");
    offset += *padded;
  }
  GgufContent c;
  c.version = version_;
  c.alignment = alignment_;
  c.metadata = metadata_;
  c.tensors = tensors_;
  const std::vector<uint8_t> header = encode_gguf_header(c, path);
  data_offset_ = header.size();
  out_ = std::fopen(path.c_str(), "wb");
  if (out_ == nullptr) fail(std::string("cannot create: ") + std::strerror(errno));
  write_bytes(header.data(), header.size());
  next_tensor_ = 0;
  written_in_tensor_ = 0;
}

void GgufWriter::write_bytes(const uint8_t* p, size_t n) {
  if (n > 0 && std::fwrite(p, 1, n, out_) != n) fail(std::string("cannot write: ") + std::strerror(errno));
}

void GgufWriter::write_tensor(std::span<const uint8_t> bytes) {
  write_tensor_chunk(bytes);
  end_tensor();
}

void GgufWriter::write_tensor_chunk(std::span<const uint8_t> bytes) {
  if (out_ == nullptr) fail("tensor data written before begin_data");
  if (next_tensor_ >= tensors_.size()) {
    fail("expected " + std::to_string(tensors_.size()) + " tensors, found data for one more");
  }
  const TensorInfo& t = tensors_[next_tensor_];
  if (bytes.size() > t.n_bytes - written_in_tensor_) {
    fail("tensor " + printable(t.name) + ": expected " + std::to_string(t.n_bytes) + " bytes, found at least " +
         std::to_string(written_in_tensor_ + bytes.size()));
  }
  write_bytes(bytes.data(), bytes.size());
  written_in_tensor_ += bytes.size();
}

void GgufWriter::end_tensor() {
  if (out_ == nullptr) fail("end_tensor before begin_data");
  if (next_tensor_ >= tensors_.size()) fail("end_tensor with no tensor left to end");
  const TensorInfo& t = tensors_[next_tensor_];
  if (written_in_tensor_ != t.n_bytes) {
    fail("tensor " + printable(t.name) + ": expected " + std::to_string(t.n_bytes) + " bytes, found " +
         std::to_string(written_in_tensor_));
  }
  static constexpr uint8_t kZeros[256] = {};
  uint64_t pad = *wire::align_up(t.n_bytes, alignment_) - t.n_bytes;
  while (pad > 0) {
    const size_t n = pad < sizeof kZeros ? static_cast<size_t>(pad) : sizeof kZeros;
    write_bytes(kZeros, n);
    pad -= n;
  }
  ++next_tensor_;
  written_in_tensor_ = 0;
}

void GgufWriter::finish() {
  if (out_ == nullptr) fail("finish without begin_data");
  if (written_in_tensor_ != 0 || next_tensor_ != tensors_.size()) {
    fail("expected data for " + std::to_string(tensors_.size()) + " tensors, found " + std::to_string(next_tensor_) +
         (written_in_tensor_ != 0 ? " and part of another" : ""));
  }
  std::FILE* f = std::exchange(out_, nullptr);
  std::string error;
  if (std::fflush(f) != 0) error = std::strerror(errno);
  if (std::fclose(f) != 0 && error.empty()) error = std::strerror(errno);
  if (!error.empty()) {
    std::remove(path_.c_str());
    fail("cannot write: " + error);
  }
}

GgufWriter::~GgufWriter() {
  if (out_ != nullptr) {
    std::fclose(out_);
    std::remove(path_.c_str());
  }
}

}  // namespace locus::gguf
