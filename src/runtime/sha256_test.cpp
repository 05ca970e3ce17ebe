// Sha256: the FIPS 180-2 test vectors, incremental updates, and files.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "runtime/sha256.h"
#include "runtime/store_error.h"

namespace locus::runtime {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PiecesHashLikeTheWhole) {
  Sha256 h;
  h.update("a");
  h.update("");
  h.update("bc");
  EXPECT_EQ(h.finish_hex(), sha256_hex("abc"));
  h.reset();
  h.update("abc");
  EXPECT_EQ(h.finish_hex(), sha256_hex("abc"));
}

TEST(Sha256, FileHashMatchesBytesAndReportsProgress) {
  const auto path = std::filesystem::path(::testing::TempDir()) / "sha256_test_file.bin";
  std::string bytes(3 * (1 << 20) + 17, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 + 7);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  std::fclose(f);
  uint64_t last_done = 0, last_total = 0;
  EXPECT_EQ(sha256_file_hex(path, [&](uint64_t d, uint64_t t) { last_done = d, last_total = t; }), sha256_hex(bytes));
  EXPECT_EQ(last_done, bytes.size());
  EXPECT_EQ(last_total, bytes.size());
  std::filesystem::remove(path);
}

TEST(Sha256, MissingFileIsNotFound) {
  try {
    sha256_file_hex("/nonexistent/locus/file");
    FAIL() << "no error";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::not_found);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/locus/file"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace locus::runtime
