// The fuzz seeds and regressions, read with the main build: seeds named valid_* parse, seeds named bad_*
// are rejected with a GgufError, and every regression input is either parsed or rejected, never a crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "corpus_files.h"
#include "gguf/file.h"
#include "gguf/test_bytes.h"

namespace locus::gguf {
namespace {

namespace fs = std::filesystem;

using fuzz::files_in;

// nullopt when the bytes parse, else the error message.
std::optional<std::string> parse_error(const fs::path& p) {
  const std::vector<uint8_t> bytes = testing::read_file(p.string());
  try {
    parse_gguf(bytes.data(), bytes.size(), p.filename().string());
  } catch (const GgufError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

TEST(FuzzCorpus, SeedsBehaveAsTheirNamesSay) {
  const auto seeds = files_in(fs::path(LOCUS_FUZZ_DIR) / "corpus" / "gguf");
  ASSERT_GE(seeds.size(), 8u);
  for (const auto& p : seeds) {
    const std::string name = p.filename().string();
    EXPECT_LT(fs::file_size(p), 4096u) << name;
    const auto error = parse_error(p);
    if (name.rfind("valid_", 0) == 0) {
      EXPECT_FALSE(error.has_value()) << name << ": " << error.value_or("");
    } else if (name.rfind("bad_", 0) == 0) {
      EXPECT_TRUE(error.has_value()) << name << " parsed";
    }
  }
}

TEST(FuzzCorpus, RegressionsParseOrFailCleanly) {
  for (const auto& p : files_in(fs::path(LOCUS_FUZZ_DIR) / "regressions" / "gguf")) {
    const auto error = parse_error(p);
    if (error) {
      EXPECT_EQ(error->find('\n'), std::string::npos) << *error;
    }
  }
}

}  // namespace
}  // namespace locus::gguf
