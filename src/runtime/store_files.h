// File helpers the model store's parts share: atomic writes, bounded reads, errno to StoreError. Internal to
// the store (src/runtime/model_store*.cpp, manifest.cpp, blob_writer.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace locus::runtime::store_files {

inline constexpr std::string_view kDigestPrefix = "sha256:";
inline constexpr std::string_view kBlobPrefix = "sha256-";

bool iequal(std::string_view a, std::string_view b);
bool is_hex64(std::string_view s);  // 64 lower-case hex digits
// Throws StoreError: not_found for ENOENT, io otherwise; "WHAT: strerror".
[[noreturn]] void io_error(const std::string& what, int err);
std::chrono::system_clock::time_point mtime_of(const std::filesystem::path& p);
// The whole file; StoreError (corrupt) when it is larger than `limit`, so a wrong file is never read whole.
std::string read_file_limited(const std::filesystem::path& p, uint64_t limit, const std::string& what);
void write_all(int fd, const uint8_t* p, size_t n, const std::filesystem::path& path);
int make_temp_file(const std::filesystem::path& dir, std::filesystem::path& temp_path);
// Temporary file in the same folder, fsync, rename: readers see the old file or the new one, never half.
void write_file_atomically(const std::filesystem::path& final_path, std::string_view bytes);
// Checks the magic only; the full parse happens when the model is loaded (or on import).
void require_gguf_magic(const std::filesystem::path& p, const std::string& what);

}  // namespace locus::runtime::store_files
