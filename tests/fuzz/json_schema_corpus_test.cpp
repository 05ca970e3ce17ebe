// The JSON Schema fuzz seeds and regressions, replayed with the main build's compiler through the same
// invariant checks as the fuzz target (json_schema_check.h), so they stay meaningful without clang.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "corpus_files.h"
#include "json_schema_check.h"

namespace locus::fuzz {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string check_file(const std::string& bytes) {
  return check_json_schema(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

TEST(JsonSchemaCorpus, SeedsKeepTheInvariants) {
  const auto seeds = files_in(fs::path(LOCUS_FUZZ_DIR) / "corpus" / "json_schema");
  ASSERT_GE(seeds.size(), 24u);
  for (const auto& p : seeds) {
    EXPECT_LT(fs::file_size(p), 4096u) << p.filename();
    const std::string bytes = read_file(p);
    // Every seed is a schema that parses, a 0x00 and a selector: one that the target would skip is no seed.
    const size_t zero = bytes.find('\0');
    ASSERT_NE(zero, std::string::npos) << p.filename();
    ASSERT_LT(zero + 1, bytes.size()) << p.filename();
    const auto schema = nlohmann::ordered_json::parse(bytes.substr(0, zero), nullptr, false);
    ASSERT_FALSE(schema.is_discarded()) << p.filename();
    // error_* seeds are schemas the compiler refuses; the others compile.
    const text::GrammarResult r = compile_for_json_schema_fuzz(schema, static_cast<uint8_t>(bytes[zero + 1]));
    if (p.filename().string().starts_with("error_")) {
      EXPECT_EQ(r.grammar, nullptr) << p.filename();
    } else {
      EXPECT_EQ(r.error, "") << p.filename();
    }
    EXPECT_EQ(check_file(bytes), "") << p.filename();
  }
}

TEST(JsonSchemaCorpus, RegressionsKeepTheInvariants) {
  for (const auto& p : files_in(fs::path(LOCUS_FUZZ_DIR) / "regressions" / "json_schema")) {
    EXPECT_EQ(check_file(read_file(p)), "") << p.filename();
  }
}

}  // namespace
}  // namespace locus::fuzz
