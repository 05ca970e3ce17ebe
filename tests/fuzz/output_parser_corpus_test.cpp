// The output parser's fuzz seeds and regressions, replayed with the main build's compiler through the same
// invariant checks as the fuzz target, so they stay meaningful without clang.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "corpus_files.h"
#include "output_parser_check.h"

namespace locus::fuzz {
namespace {

namespace fs = std::filesystem;

std::string check_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return check_output_parser(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

TEST(OutputParserCorpus, SeedsKeepTheInvariants) {
  const auto seeds = files_in(fs::path(LOCUS_FUZZ_DIR) / "corpus" / "output_parser");
  ASSERT_GE(seeds.size(), 8u);
  for (const auto& p : seeds) {
    EXPECT_LT(fs::file_size(p), 4096u) << p.filename();
    EXPECT_EQ(check_file(p), "") << p.filename();
  }
}

TEST(OutputParserCorpus, RegressionsKeepTheInvariants) {
  for (const auto& p : files_in(fs::path(LOCUS_FUZZ_DIR) / "regressions" / "output_parser")) {
    EXPECT_EQ(check_file(p), "") << p.filename();
  }
}

}  // namespace
}  // namespace locus::fuzz
