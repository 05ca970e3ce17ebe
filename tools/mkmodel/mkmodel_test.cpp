#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "gguf/file.h"
#include "model/gemma4_gguf.h"
#include "model_writer.h"
#include "tensor/quantize.h"
#include "vocab.h"

namespace locus::mkmodel {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("locus_mkmodel_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

std::vector<char> slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class MkModel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(default_tokenizer_json_path())) GTEST_SKIP() << "no tokenizer.json; run scripts/setup";
  }
  void TearDown() override {
    for (const auto& p : cleanup_) fs::remove(p);
  }
  std::string write(const std::string& name, model::FileType t, uint64_t seed, unsigned threads, uint32_t layers = 0) {
    Preset p = *find_preset("tiny");
    if (layers) truncate_layers(p, layers);
    WriteOptions o{p, t, seed, temp_path(name), default_tokenizer_json_path(), "{{ bos_token }}", threads, true};
    write_random_model(o, nullptr);
    cleanup_.push_back(o.out_path);
    return o.out_path;
  }
  std::vector<std::string> cleanup_;
};

TEST_F(MkModel, SameSeedSameBytesWhateverTheThreadCount) {
  const auto a = write("a.gguf", model::FileType::MOSTLY_Q4_K_M, 5, 1);
  const auto b = write("b.gguf", model::FileType::MOSTLY_Q4_K_M, 5, 3);
  const auto c = write("c.gguf", model::FileType::MOSTLY_Q4_K_M, 6, 2);
  EXPECT_TRUE(slurp(a) == slurp(b));
  EXPECT_FALSE(slurp(a) == slurp(c));
}

TEST_F(MkModel, FileHoldsTheLayoutTypesAndHyperparameters) {
  const auto path = write("layout.gguf", model::FileType::MOSTLY_Q4_K_M, 1, 2);
  const auto f = gguf::GgufFile::open(path);
  const Preset p = *find_preset("tiny");
  const auto layout = model::gemma4_tensor_layout(p.config);
  model::QuantMix mix(model::FileType::MOSTLY_Q4_K_M, layout);
  ASSERT_EQ(f.content().tensors.size(), layout.size());
  for (const auto& t : layout) {
    const auto& info = f.require_tensor(t.name, t.shape);
    EXPECT_EQ(info.type, mix.type_for(t)) << t.name;
  }
  const auto c = model::read_gemma4_config(f);
  EXPECT_EQ(c.n_layer, p.config.n_layer);
  EXPECT_EQ(c.n_embd, p.config.n_embd);
  EXPECT_EQ(c.is_swa, p.config.is_swa);
  EXPECT_EQ(c.n_ff, p.config.n_ff);
  EXPECT_EQ(c.n_head_kv_swa, 8u);
  EXPECT_EQ(c.n_head_kv_full, 1u);
  EXPECT_TRUE(c.k_eq_v_full);
  EXPECT_EQ(f.get_u32("general.file_type"), 15u);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gemma4");
  EXPECT_EQ(f.get_string("tokenizer.chat_template"), "{{ bos_token }}");
  EXPECT_EQ(f.get_array("tokenizer.ggml.tokens").items.size(), 262144u);
}

TEST_F(MkModel, WeightsHaveTheIntendedScaleAndRopeFactors) {
  const auto path = write("f32.gguf", model::FileType::ALL_F32, 2, 2);
  const auto f = gguf::GgufFile::open(path);
  auto values = [&](const std::string& name) {
    const auto* t = f.find_tensor(name);
    const auto d = f.tensor_data(*t);
    std::vector<float> v(t->n_elements());
    EXPECT_TRUE(tensor::dequantize_row(t->type, d.data(), v.data(), static_cast<int64_t>(v.size())));
    return v;
  };
  const auto q = values("blk.0.attn_q.weight");  // [256, 4096]: std 1/sqrt(256)
  double sum = 0, sq = 0;
  for (float x : q) {
    sum += x;
    sq += double(x) * x;
  }
  const double mean = sum / q.size(), sd = std::sqrt(sq / q.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(sd, 1.0 / 16.0, 0.002);
  const auto rf = values("rope_freqs.weight");  // 64 rotating pairs of 256, as the converter writes
  ASSERT_EQ(rf.size(), 256u);
  EXPECT_EQ(rf[63], 1.0f);
  EXPECT_EQ(rf[64], 1e30f);
  for (float x : values("blk.2.ffn_norm.weight")) EXPECT_TRUE(x > 0.85f && x < 1.15f);
}

TEST_F(MkModel, TruncatedLayersKeepThePattern) {
  Preset p = *find_preset("gemma4-12b");
  truncate_layers(p, 12);
  EXPECT_EQ(p.config.n_layer, 12u);
  for (uint32_t i = 0; i < 12; ++i) EXPECT_EQ(p.config.is_swa[i], i != 5 && i != 11) << i;
  Preset e2b = *find_preset("gemma4-e2b");
  truncate_layers(e2b, 7);
  EXPECT_GT(e2b.config.shared_kv_layers, 0u);
  EXPECT_LT(e2b.config.shared_kv_layers, 7u);
  // The shared layers read the last full layer and the last sliding layer before them (llama.cpp's rule).
  const uint32_t first_shared = 7 - e2b.config.shared_kv_layers;
  EXPECT_FALSE(e2b.config.is_swa[first_shared - 1]);
  EXPECT_TRUE(e2b.config.is_swa[first_shared - 2]);
  EXPECT_EQ(e2b.config.n_ff.back(), 2 * e2b.config.n_ff.front());  // double-wide MLP on KV-shared layers
}

TEST(MkModelPresets, RealShapesHaveTheirParameterCounts) {
  auto params = [](const char* name) {
    return double(model::count_parameters(model::gemma4_tensor_layout(find_preset(name)->config))) / 1e9;
  };
  EXPECT_NEAR(params("gemma4-12b"), 11.91, 0.01);
  EXPECT_GT(params("gemma4-31b"), 30.0);
  EXPECT_LT(params("gemma4-31b"), 31.5);
  EXPECT_GT(params("gemma4-26b-a4b"), 24.5);
  EXPECT_LT(params("gemma4-26b-a4b"), 26.5);
}

}  // namespace
}  // namespace locus::mkmodel
