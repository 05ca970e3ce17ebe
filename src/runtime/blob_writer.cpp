#include "runtime/blob_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <vector>

#include "runtime/manifest.h"
#include "runtime/store_error.h"
#include "runtime/store_files.h"

namespace locus::runtime {
namespace fs = std::filesystem;
using store_files::io_error;
using store_files::kBlobPrefix;
using store_files::kDigestPrefix;
using store_files::write_all;

namespace {
constexpr std::string_view kPartialSuffix = "-partial";
}  // namespace

// ---- blobs ----

void verify_blob(std::string_view digest, const fs::path& path) {
  const std::string want = blob_file_name(digest).substr(kBlobPrefix.size());
  const std::string found = sha256_file_hex(path);
  if (found != want) {
    throw StoreError(StoreErrorKind::digest_mismatch,
                     "blob " + path.string() + ": expected sha256:" + want + ", found sha256:" + found);
  }
}

BlobWriter::BlobWriter(const fs::path& blobs_dir, std::string_view digest, std::optional<uint64_t> expected_size,
                       bool resume)
    : expected_size_(expected_size) {
  const std::string file = blob_file_name(digest);
  digest_ = std::string(kDigestPrefix) + file.substr(kBlobPrefix.size());
  final_path_ = blobs_dir / file;
  partial_path_ = blobs_dir / (file + std::string(kPartialSuffix));
  std::error_code ec;
  fs::create_directories(blobs_dir, ec);
  if (ec) throw StoreError(StoreErrorKind::io, "cannot create " + blobs_dir.string() + ": " + ec.message());

  // Blobs only ever appear under their final name after verification, so one that is there with the right
  // size is trusted; one of the wrong size is rewritten.
  if (fs::is_regular_file(final_path_, ec)) {
    const uint64_t size = fs::file_size(final_path_, ec);
    if (!ec && (!expected_size_ || size == *expected_size_)) {
      complete_ = true;
      offset_ = size;
      return;
    }
  }

  uint64_t have = 0;
  if (fs::is_regular_file(partial_path_, ec)) have = fs::file_size(partial_path_, ec);
  if (ec || !resume || (expected_size_ && have > *expected_size_)) {
    fs::remove(partial_path_, ec);
    have = 0;
  }
  fd_ = ::open(partial_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) io_error("cannot open " + partial_path_.string(), errno);
  if (have > 0) {
    // The hash must cover the bytes already there; re-reading them is far cheaper than downloading again.
    std::FILE* f = std::fopen(partial_path_.c_str(), "rb");
    if (f == nullptr) io_error("cannot read " + partial_path_.string(), errno);
    std::vector<uint8_t> buf(1 << 20);
    uint64_t read = 0;
    while (read < have) {
      const size_t n = std::fread(buf.data(), 1, static_cast<size_t>(std::min<uint64_t>(buf.size(), have - read)), f);
      if (n == 0) break;
      hash_.update(std::span(buf.data(), n));
      read += n;
    }
    std::fclose(f);
    if (read != have) throw StoreError(StoreErrorKind::io, "short read of " + partial_path_.string());
    offset_ = have;
  }
}

BlobWriter::BlobWriter(BlobWriter&& o) noexcept
    : final_path_(std::move(o.final_path_)),
      partial_path_(std::move(o.partial_path_)),
      digest_(std::move(o.digest_)),
      expected_size_(o.expected_size_),
      hash_(std::move(o.hash_)),
      fd_(o.fd_),
      offset_(o.offset_),
      complete_(o.complete_),
      finished_(o.finished_) {
  o.fd_ = -1;
  o.finished_ = true;
}

BlobWriter::~BlobWriter() { close_file(); }

void BlobWriter::close_file() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void BlobWriter::append(std::string_view bytes) {
  append(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

void BlobWriter::append(std::span<const uint8_t> bytes) {
  if (complete_ || finished_ || fd_ < 0) {
    throw StoreError(StoreErrorKind::io, "blob " + digest_ + ": append after the blob was complete");
  }
  if (expected_size_ && offset_ + bytes.size() > *expected_size_) {
    discard();
    throw StoreError(StoreErrorKind::digest_mismatch, "blob " + digest_ + ": expected " +
                                                          std::to_string(*expected_size_) + " bytes, received at least " +
                                                          std::to_string(offset_ + bytes.size()));
  }
  write_all(fd_, bytes.data(), bytes.size(), partial_path_);
  hash_.update(bytes);
  offset_ += bytes.size();
}

fs::path BlobWriter::finish() {
  if (complete_) return final_path_;
  if (finished_ || fd_ < 0) throw StoreError(StoreErrorKind::io, "blob " + digest_ + ": finish() called twice");
  if (::fsync(fd_) != 0) io_error("cannot flush " + partial_path_.string(), errno);
  close_file();
  finished_ = true;
  if (expected_size_ && offset_ != *expected_size_) {
    ::unlink(partial_path_.c_str());
    throw StoreError(StoreErrorKind::digest_mismatch, "blob " + digest_ + ": expected " + std::to_string(*expected_size_) +
                                                          " bytes, found " + std::to_string(offset_));
  }
  const std::string found = std::string(kDigestPrefix) + hash_.finish_hex();
  if (found != digest_) {
    ::unlink(partial_path_.c_str());
    found_digest_ = found;
    throw StoreError(StoreErrorKind::digest_mismatch,
                     "blob " + partial_path_.string() + ": expected " + digest_ + ", found " + found);
  }
  if (::rename(partial_path_.c_str(), final_path_.c_str()) != 0) {
    io_error("cannot rename " + partial_path_.string() + " to " + final_path_.string(), errno);
  }
  complete_ = true;
  return final_path_;
}

void BlobWriter::discard() {
  close_file();
  finished_ = true;
  ::unlink(partial_path_.c_str());
}

}  // namespace locus::runtime
