// GgufFile: a memory-mapped GGUF file with its parsed content, and typed metadata accessors.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "gguf/file.h"
#include "gguf/printable.h"

namespace locus::gguf {
namespace {

std::string type_text(const Value& v) {
  if (const Array* a = v.as_array()) return "array of " + std::string(value_type_name(a->element_type));
  return std::string(value_type_name(v.type));
}

// Integers are held widened; a value is usable for a getter when it fits the getter's type.
template <typename T>
std::optional<T> integer_as(const Value& v) {
  if (!v.is_integer()) return std::nullopt;
  if (const auto* x = std::get_if<uint64_t>(&v.data)) {
    if (*x <= static_cast<uint64_t>(std::numeric_limits<T>::max())) return static_cast<T>(*x);
  } else if (const auto* y = std::get_if<int64_t>(&v.data)) {
    if (*y >= 0 && static_cast<uint64_t>(*y) <= static_cast<uint64_t>(std::numeric_limits<T>::max())) {
      return static_cast<T>(*y);
    }
    if constexpr (std::numeric_limits<T>::is_signed) {
      if (*y < 0 && *y >= std::numeric_limits<T>::min()) return static_cast<T>(*y);
    }
  }
  return std::nullopt;
}

std::string value_text(const Value& v) {
  if (const auto* x = std::get_if<uint64_t>(&v.data)) return std::to_string(*x);
  if (const auto* y = std::get_if<int64_t>(&v.data)) return std::to_string(*y);
  return {};
}

}  // namespace

uint64_t TensorInfo::n_elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

std::string format_shape(std::span<const uint64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

GgufFile GgufFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw GgufError(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw GgufError(path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw GgufError(path + ": expected a regular file, found something else (a directory or device)");
  }
  GgufFile f;
  f.path_ = path;
  f.size_ = static_cast<uint64_t>(st.st_size);
  if (f.size_ > 0) {
    void* map = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);
    if (map == MAP_FAILED) throw GgufError(path + ": cannot memory-map: " + std::strerror(err));
    f.map_ = static_cast<const uint8_t*>(map);
  } else {
    ::close(fd);
  }
  static const uint8_t kEmpty = 0;
  f.content_ = parse_gguf(f.map_ != nullptr ? f.map_ : &kEmpty, f.size_, path);  // f unmaps if this throws
  for (size_t i = 0; i < f.content_.metadata.size(); ++i) f.key_index_.emplace(f.content_.metadata[i].first, i);
  for (size_t i = 0; i < f.content_.tensors.size(); ++i) f.tensor_index_.emplace(f.content_.tensors[i].name, i);
  return f;
}

GgufFile::GgufFile(GgufFile&& other) noexcept { *this = std::move(other); }

GgufFile& GgufFile::operator=(GgufFile&& other) noexcept {
  if (this != &other) {
    if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), size_);
    path_ = std::move(other.path_);
    if (resident_ != nullptr) ::munmap(resident_, resident_bytes_);
    map_ = std::exchange(other.map_, nullptr);
    size_ = std::exchange(other.size_, 0);
    resident_ = std::exchange(other.resident_, nullptr);
    resident_bytes_ = std::exchange(other.resident_bytes_, 0);
    content_ = std::move(other.content_);
    key_index_ = std::move(other.key_index_);
    tensor_index_ = std::move(other.tensor_index_);
  }
  return *this;
}

GgufFile::~GgufFile() {
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), size_);
  if (resident_ != nullptr) ::munmap(resident_, resident_bytes_);
}

std::span<const uint8_t> GgufFile::data_section() const {
  if (map_ == nullptr || content_.data_offset >= size_) return {};
  return {data_base(), static_cast<size_t>(size_ - content_.data_offset)};
}

namespace {

// MemAvailable from /proc/meminfo (what the kernel can hand out without swapping, page cache included),
// or nullopt where that is not known.
std::optional<uint64_t> available_memory() {
  FILE* f = std::fopen("/proc/meminfo", "r");
  if (f == nullptr) return std::nullopt;
  char line[256];
  std::optional<uint64_t> kib;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned long long v = 0;
    if (std::sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
      kib = v;
      break;
    }
  }
  std::fclose(f);
  if (!kib) return std::nullopt;
  return *kib * 1024;
}

std::string gib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1ull << 30));
  return buf;
}

}  // namespace

void GgufFile::load_resident(const std::function<void(uint64_t, uint64_t)>& progress) {
  if (resident_ != nullptr || map_ == nullptr || content_.data_offset >= size_) return;
  const uint64_t n = size_ - content_.data_offset;
  // Say so up front rather than let the kernel kill the process halfway through the copy.
  if (const auto avail = available_memory(); avail && n > *avail) {
    throw GgufError(path_ + ": the weights need " + gib(n) + " of memory and " + gib(*avail) +
                    " is available; free memory, or use the weights in place from the file (--mmap)");
  }
  // 2 MiB-aligned, so that the kernel can back it with huge pages from the first byte.
  constexpr uint64_t kHuge = uint64_t{2} << 20;
  const uint64_t len = (n + kHuge - 1) / kHuge * kHuge;
  void* raw = ::mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    throw GgufError(path_ + ": cannot allocate " + std::to_string(n >> 20) + " MiB for the weights: " +
                    std::strerror(errno));
  }
  auto* base = static_cast<uint8_t*>(raw);
  uint8_t* aligned = base + (kHuge - reinterpret_cast<uintptr_t>(base) % kHuge) % kHuge;
  if (aligned > base) ::munmap(base, static_cast<size_t>(aligned - base));
  const size_t tail = static_cast<size_t>(base + len + kHuge - (aligned + len));
  if (tail > 0) ::munmap(aligned + len, tail);
#ifdef MADV_HUGEPAGE
  ::madvise(aligned, len, MADV_HUGEPAGE);  // advice only: without THP the copy still works, on 4 KiB pages
#endif
  auto fail = [&](const std::string& what) {
    ::munmap(aligned, len);
    throw GgufError(path_ + ": " + what);
  };
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(std::string("cannot open to read the weights: ") + std::strerror(errno));
#ifdef POSIX_FADV_SEQUENTIAL
  ::posix_fadvise(fd, static_cast<off_t>(content_.data_offset), static_cast<off_t>(n), POSIX_FADV_SEQUENTIAL);
#endif
  // A few readers at once: first-touch page faults and the storage queue both go faster in parallel.
  // Chunks are handed out in order; the calling thread reports progress as they complete.
  constexpr uint64_t kChunk = uint64_t{32} << 20;
  const uint64_t n_chunks = (n + kChunk - 1) / kChunk;
  std::atomic<uint64_t> next{0}, done{0};
  std::atomic<int> error{0};
  std::atomic<uint64_t> error_at{0};
  auto reader = [&] {
    for (uint64_t c; !error.load(std::memory_order_relaxed) && (c = next.fetch_add(1)) < n_chunks;) {
      for (uint64_t off = c * kChunk, end = std::min(n, off + kChunk); off < end;) {
        const ssize_t got = ::pread(fd, aligned + off, static_cast<size_t>(end - off), static_cast<off_t>(content_.data_offset + off));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
          error_at.store(content_.data_offset + off);
          error.store(got == 0 ? -1 : errno);
          return;
        }
        off += static_cast<uint64_t>(got);
        done.fetch_add(static_cast<uint64_t>(got));
      }
    }
  };
  const unsigned n_readers = std::clamp(std::thread::hardware_concurrency(), 2u, 4u);
  std::vector<std::thread> readers;
  try {
    for (unsigned i = 0; i < n_readers && i < n_chunks; ++i) readers.emplace_back(reader);
  } catch (const std::system_error&) {
    // no more threads: the ones started (or this thread alone) read the rest
  }
  if (readers.empty()) reader();
  while (progress && done.load() < n && !error.load()) {
    progress(done.load(), n);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& t : readers) t.join();
  if (const int err = error.load()) {
    ::close(fd);
    fail("cannot read the weights at byte " + std::to_string(error_at.load()) + ": " +
         (err < 0 ? std::string("the file is shorter than when it was opened") : std::strerror(err)));
  }
  if (progress) progress(n, n);
  ::close(fd);
  resident_ = aligned;
  resident_bytes_ = len;
}

const Value* GgufFile::find(std::string_view key) const {
  const auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &content_.metadata[it->second].second;
}

const Value& GgufFile::require(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) throw GgufError("key " + printable(key) + " missing in " + path_);
  return *v;
}

void GgufFile::wrong_type(std::string_view key, std::string_view expected, const Value& found) const {
  std::string what = type_text(found);
  if (found.is_integer()) what += " " + value_text(found);
  throw GgufError("key " + printable(key) + " in " + path_ + ": expected " + std::string(expected) + ", found " +
                  what);
}

uint32_t GgufFile::get_u32(std::string_view key) const {
  const Value& v = require(key);
  if (auto x = integer_as<uint32_t>(v)) return *x;
  wrong_type(key, "u32", v);
}

uint64_t GgufFile::get_u64(std::string_view key) const {
  const Value& v = require(key);
  if (auto x = integer_as<uint64_t>(v)) return *x;
  wrong_type(key, "u64", v);
}

int64_t GgufFile::get_i64(std::string_view key) const {
  const Value& v = require(key);
  if (auto x = integer_as<int64_t>(v)) return *x;
  wrong_type(key, "i64", v);
}

float GgufFile::get_f32(std::string_view key) const {
  const Value& v = require(key);
  if (const auto* d = std::get_if<double>(&v.data); d != nullptr && v.is_float()) {
    // An f64 too large for f32 is a wrong value, not infinity.
    if (!std::isfinite(*d) || std::fabs(*d) <= std::numeric_limits<float>::max()) return static_cast<float>(*d);
  }
  wrong_type(key, "f32", v);
}

bool GgufFile::get_bool(std::string_view key) const {
  const Value& v = require(key);
  if (const auto* b = std::get_if<bool>(&v.data); b != nullptr && v.type == ValueType::BOOL) return *b;
  wrong_type(key, "bool", v);
}

std::string GgufFile::get_string(std::string_view key) const {
  const Value& v = require(key);
  if (const auto* s = std::get_if<std::string>(&v.data); s != nullptr && v.type == ValueType::STRING) return *s;
  wrong_type(key, "string", v);
}

const Array& GgufFile::get_array(std::string_view key) const {
  const Value& v = require(key);
  if (const Array* a = v.as_array()) return *a;
  wrong_type(key, "array", v);
}

std::optional<uint32_t> GgufFile::get_u32_or(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return get_u32(key);
}

std::optional<std::string> GgufFile::get_string_or(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return get_string(key);
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &content_.tensors[it->second];
}

const TensorInfo& GgufFile::require_tensor(std::string_view name, std::span<const uint64_t> expected_shape) const {
  const TensorInfo* t = find_tensor(name);
  if (t == nullptr) throw GgufError("tensor " + printable(name) + " missing in " + path_);
  if (!std::equal(t->shape.begin(), t->shape.end(), expected_shape.begin(), expected_shape.end())) {
    throw GgufError("tensor " + printable(name) + " in " + path_ + ": expected " + format_shape(expected_shape) +
                    ", found " + format_shape(t->shape));
  }
  return *t;
}

std::span<const uint8_t> GgufFile::tensor_data(const TensorInfo& t) const {
  const uint64_t start = content_.data_offset;
  if (t.offset > size_ - start || t.n_bytes > size_ - start - t.offset) {
    throw GgufError("tensor " + printable(t.name) + " in " + path_ + ": expected data inside the file's " +
                    std::to_string(size_) + " bytes, found offset " + std::to_string(t.offset) + " and " +
                    std::to_string(t.n_bytes) + " bytes");
  }
  if (t.n_bytes == 0) return {};
  return {data_base() + t.offset, static_cast<size_t>(t.n_bytes)};
}

}  // namespace locus::gguf
