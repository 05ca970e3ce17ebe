// The seeds and regressions of multipart_fuzz and data_uri_fuzz, replayed with the main build's compiler through
// the same invariant checks as the fuzz targets, so they stay meaningful without clang. Seeds named valid_*
// must parse and bad_* must be refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "corpus_files.h"
#include "data_uri_check.h"
#include "multipart_check.h"

namespace locus::fuzz {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// Whether a multipart seed parses: its header gives a boundary and its body parts under the fuzz limits.
bool multipart_parses(const std::string& s) {
  const size_t nl = s.find('\n');
  if (nl == std::string::npos) return false;
  const server::BoundaryResult b = server::multipart_boundary(std::string_view(s).substr(0, nl));
  if (!b.error.empty()) return false;
  server::MultipartLimits limits;
  limits.max_parts = 8;
  limits.max_header_bytes = 256;
  limits.max_field_bytes = 512;
  limits.max_file_bytes = 4096;
  return server::parse_multipart(std::string_view(s).substr(nl + 1), b.boundary, limits).ok();
}

TEST(MultipartCorpus, SeedsBehaveAsTheirNamesSayAndKeepTheInvariants) {
  const auto seeds = files_in(fs::path(LOCUS_FUZZ_DIR) / "corpus" / "multipart");
  ASSERT_GE(seeds.size(), 8u);
  for (const auto& p : seeds) {
    const std::string s = read(p);
    const std::string name = p.filename().string();
    EXPECT_LT(s.size(), 4096u) << name;
    EXPECT_EQ(check_multipart(bytes(s), s.size()), "") << name;
    if (name.starts_with("valid_")) {
      EXPECT_TRUE(multipart_parses(s)) << name;
    }
    if (name.starts_with("bad_")) {
      EXPECT_FALSE(multipart_parses(s)) << name;
    }
  }
}

TEST(MultipartCorpus, RegressionsKeepTheInvariants) {
  for (const auto& p : files_in(fs::path(LOCUS_FUZZ_DIR) / "regressions" / "multipart")) {
    const std::string s = read(p);
    EXPECT_EQ(check_multipart(bytes(s), s.size()), "") << p.filename();
  }
}

TEST(DataUriCorpus, SeedsBehaveAsTheirNamesSayAndKeepTheInvariants) {
  const auto seeds = files_in(fs::path(LOCUS_FUZZ_DIR) / "corpus" / "data_uri");
  ASSERT_GE(seeds.size(), 8u);
  for (const auto& p : seeds) {
    const std::string s = read(p);
    const std::string name = p.filename().string();
    EXPECT_LT(s.size(), 4096u) << name;
    EXPECT_EQ(check_data_uri(bytes(s), s.size()), "") << name;
    const server::DataUriResult r = server::parse_data_uri(s);
    if (name.starts_with("valid_")) {
      EXPECT_TRUE(r.uri) << name << ": " << r.error;
    }
    if (name.starts_with("bad_")) {
      EXPECT_FALSE(r.uri) << name;
    }
  }
}

TEST(DataUriCorpus, RegressionsKeepTheInvariants) {
  for (const auto& p : files_in(fs::path(LOCUS_FUZZ_DIR) / "regressions" / "data_uri")) {
    const std::string s = read(p);
    EXPECT_EQ(check_data_uri(bytes(s), s.size()), "") << p.filename();
  }
}

}  // namespace
}  // namespace locus::fuzz
