#include "cli/inspect.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>

#include "gguf/writer.h"

namespace locus::cli {
namespace {

namespace fs = std::filesystem;

class Inspect : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (fs::temp_directory_path() / ("locus_inspect_test_" + std::to_string(::getpid()) + ".gguf")).string();
    gguf::GgufWriter w;
    w.add("general.architecture", gguf::Value::string("gemma4"));
    w.add("general.file_type", gguf::Value::u32(15));
    w.add("gemma4.context_length", gguf::Value::u32(8192));
    std::vector<std::string> many(100, "piece");
    w.add("tokenizer.ggml.tokens", gguf::Value::string_array(many));
    w.add("general.name", gguf::Value::string("two\nlines"));
    w.add_tensor("token_embd.weight", {32, 4}, gguf::GgmlType::Q8_0);
    w.add_tensor("output_norm.weight", {32}, gguf::GgmlType::F32);
    w.begin_data(path_);
    w.write_tensor(std::vector<uint8_t>(34 * 4, 0));
    w.write_tensor(std::vector<uint8_t>(32 * 4, 0));
    w.finish();
  }
  void TearDown() override { fs::remove(path_); }
  std::string run(bool json, bool all = false) {
    std::ostringstream out;
    inspect({path_, json, all, false}, out);
    return out.str();
  }
  std::string path_;
};

TEST_F(Inspect, SummaryNamesArchitectureParametersTypeAndContext) {
  const std::string s = run(false);
  EXPECT_NE(s.find("architecture     gemma4"), std::string::npos) << s;
  EXPECT_NE(s.find("(160)"), std::string::npos) << s;  // 128 + 32 parameters
  EXPECT_NE(s.find("Q4_K_M"), std::string::npos);
  EXPECT_NE(s.find("context length   8192"), std::string::npos);
  EXPECT_NE(s.find("token_embd.weight"), std::string::npos);
  EXPECT_NE(s.find("[32, 4]"), std::string::npos);
  EXPECT_NE(s.find("(100 items)"), std::string::npos);  // long arrays abbreviated
  EXPECT_NE(s.find("two\\nlines"), std::string::npos);  // control characters never break lines
}

TEST_F(Inspect, JsonIsParseableAndComplete) {
  const auto j = nlohmann::json::parse(run(true));
  EXPECT_EQ(j["architecture"], "gemma4");
  EXPECT_EQ(j["parameters"], 160);
  EXPECT_EQ(j["file_type"], "Q4_K_M");
  EXPECT_EQ(j["context_length"], 8192);
  EXPECT_EQ(j["tensors"].size(), 2u);
  EXPECT_EQ(j["tensors"][0]["type"], "q8_0");
  EXPECT_EQ(j["tensors"][0]["shape"], nlohmann::json::array({32, 4}));
  EXPECT_EQ(j["tensors"][0]["bytes"], 136);
  EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"]["count"], 100);
  const auto all = nlohmann::json::parse(run(true, true));
  EXPECT_EQ(all["metadata"]["tokenizer.ggml.tokens"].size(), 100u);
}

TEST(InspectErrors, MissingFileIsAGgufError) {
  std::ostringstream out;
  EXPECT_THROW(inspect({"/nonexistent/x.gguf", false, false, false}, out), gguf::GgufError);
}

}  // namespace
}  // namespace locus::cli
