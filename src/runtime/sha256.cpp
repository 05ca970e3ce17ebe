#include "runtime/sha256.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "runtime/store_error.h"

namespace locus::runtime {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

namespace {
// An EVP failure here means the library is broken or out of memory, not bad input.
[[noreturn]] void evp_failed(const char* what) {
  throw StoreError(StoreErrorKind::io, std::string("sha256: OpenSSL ") + what + " failed");
}
}  // namespace

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (ctx_->md == nullptr) evp_failed("EVP_MD_CTX_new");
  reset();
}
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;
Sha256::~Sha256() = default;

void Sha256::reset() {
  if (EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) evp_failed("EVP_DigestInit_ex");
}

void Sha256::update(std::span<const uint8_t> bytes) {
  if (!bytes.empty() && EVP_DigestUpdate(ctx_->md, bytes.data(), bytes.size()) != 1) evp_failed("EVP_DigestUpdate");
}

void Sha256::update(std::string_view bytes) {
  update(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

std::array<uint8_t, 32> Sha256::finish() {
  std::array<uint8_t, 32> out{};
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx_->md, out.data(), &n) != 1 || n != out.size()) evp_failed("EVP_DigestFinal_ex");
  return out;
}

std::string Sha256::finish_hex() { return to_hex(finish()); }

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  return h.finish_hex();
}

std::string sha256_file_hex(const std::filesystem::path& path,
                            const std::function<void(uint64_t done, uint64_t total)>& progress) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    throw StoreError(errno == ENOENT ? StoreErrorKind::not_found : StoreErrorKind::io,
                     "cannot open " + path.string() + " to hash it: " + std::strerror(errno));
  }
  std::error_code ec;
  const uint64_t total = std::filesystem::file_size(path, ec);
  std::vector<uint8_t> buf(1 << 20);
  Sha256 h;
  uint64_t done = 0;
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), f);
    if (n > 0) {
      h.update(std::span(buf.data(), n));
      done += n;
      if (progress) progress(done, ec ? done : total);
    }
    if (n < buf.size()) break;
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) throw StoreError(StoreErrorKind::io, "cannot read " + path.string() + " to hash it");
  return h.finish_hex();
}

}  // namespace locus::runtime
