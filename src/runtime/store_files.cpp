#include "runtime/store_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runtime/store_error.h"

namespace locus::runtime::store_files {
namespace fs = std::filesystem;

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool is_hex64(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

void io_error(const std::string& what, int err) {
  throw StoreError(err == ENOENT ? StoreErrorKind::not_found : StoreErrorKind::io,
                   what + ": " + std::strerror(err));
}

std::chrono::system_clock::time_point mtime_of(const fs::path& p) {
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(
      std::chrono::file_clock::to_sys(fs::last_write_time(p)));
}

std::string read_file_limited(const fs::path& p, uint64_t limit, const std::string& what) {
  std::error_code ec;
  const uint64_t size = fs::file_size(p, ec);
  if (ec) throw StoreError(StoreErrorKind::not_found, what + ": cannot read " + p.string() + ": " + ec.message());
  if (size > limit) {
    throw StoreError(StoreErrorKind::corrupt, what + ": " + p.string() + " is " + std::to_string(size) +
                                                  " bytes, expected at most " + std::to_string(limit));
  }
  std::FILE* f = std::fopen(p.c_str(), "rb");
  if (f == nullptr) io_error(what + ": cannot open " + p.string(), errno);
  std::string s(size, '\0');
  const size_t n = std::fread(s.data(), 1, s.size(), f);
  std::fclose(f);
  if (n != size) throw StoreError(StoreErrorKind::io, what + ": short read of " + p.string());
  return s;
}

void write_all(int fd, const uint8_t* p, size_t n, const fs::path& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      io_error("cannot write " + path.string(), errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// A temporary file in `dir` (same file system as its final name, so rename is atomic). Readable by all, as
// blobs and manifests are shared data, not secrets.
int make_temp_file(const fs::path& dir, fs::path& temp_path) {
  std::string tmpl = (dir / ".tmp-XXXXXX").string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) io_error("cannot create a temporary file in " + dir.string(), errno);
  ::fchmod(fd, 0644);
  temp_path = tmpl;
  return fd;
}

void write_file_atomically(const fs::path& final_path, std::string_view bytes) {
  const fs::path dir = final_path.parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw StoreError(StoreErrorKind::io, "cannot create " + dir.string() + ": " + ec.message());
  fs::path temp;
  const int fd = make_temp_file(dir, temp);
  try {
    write_all(fd, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), temp);
    if (::fsync(fd) != 0) io_error("cannot flush " + temp.string(), errno);
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(temp.c_str(), final_path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    io_error("cannot rename " + temp.string() + " to " + final_path.string(), err);
  }
}

void require_gguf_magic(const fs::path& p, const std::string& what) {
  std::FILE* f = std::fopen(p.c_str(), "rb");
  if (f == nullptr) io_error(what + ": cannot open " + p.string(), errno);
  char magic[4] = {};
  const size_t n = std::fread(magic, 1, 4, f);
  std::fclose(f);
  if (n != 4 || std::memcmp(magic, "GGUF", 4) != 0) {
    std::string found;
    for (size_t i = 0; i < n; ++i) found += std::isprint(static_cast<unsigned char>(magic[i])) ? magic[i] : '?';
    throw StoreError(StoreErrorKind::corrupt, what + ": " + p.string() + " is not a GGUF file: expected magic \"GGUF\", found \"" +
                                                  found + "\"");
  }
}

}  // namespace locus::runtime::store_files
