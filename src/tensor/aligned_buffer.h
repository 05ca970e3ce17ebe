// A growable byte buffer with 64-byte alignment (cache lines, whole zmm loads) that never shrinks, so
// scratch sized on the first call costs nothing on the next ones. Contents are not preserved on growth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace locus::tensor {

class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 64;
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr, o.size_ = 0; }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = o.data_, size_ = o.size_;
      o.data_ = nullptr, o.size_ = 0;
    }
    return *this;
  }
  ~AlignedBuffer() { release(); }

  // At least `bytes` bytes; reallocates only when growing.
  uint8_t* ensure(size_t bytes) {
    if (bytes > size_) {
      release();
      data_ = static_cast<uint8_t*>(::operator new(bytes, std::align_val_t{kAlignment}));
      size_ = bytes;
    }
    return data_;
  }
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release() {
    if (data_ != nullptr) ::operator delete(data_, std::align_val_t{kAlignment});
    data_ = nullptr, size_ = 0;
  }
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace locus::tensor
