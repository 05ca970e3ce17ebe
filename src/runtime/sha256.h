// SHA-256 through OpenSSL's libcrypto (EVP interface), which uses the CPU's SHA extensions where present:
// blobs of several GB are hashed on import, on pull and on verification, so speed matters.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace locus::runtime {

class Sha256 {
 public:
  Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  ~Sha256();

  void update(std::span<const uint8_t> bytes);
  void update(std::string_view bytes);
  // Ends the computation; the object must be reset() before it is used again.
  std::array<uint8_t, 32> finish();
  std::string finish_hex();  // 64 lower-case hex digits
  void reset();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

std::string sha256_hex(std::string_view bytes);
// Hashes a whole file in 1 MiB reads. progress(done, total), when given, is called after each read.
// Throws StoreError (io) when the file cannot be read.
std::string sha256_file_hex(const std::filesystem::path& path,
                            const std::function<void(uint64_t done, uint64_t total)>& progress = {});
std::string to_hex(std::span<const uint8_t> bytes);

}  // namespace locus::runtime
