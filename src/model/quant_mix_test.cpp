#include "model/quant_mix.h"

#include <gtest/gtest.h>

#include "model/test_configs.h"

#include <map>

namespace locus::model {
namespace {

using testing::config_12b;

std::map<std::string, GgmlType> plan(FileType f, const Gemma4Config& c) {
  const auto layout = gemma4_tensor_layout(c);
  QuantMix mix(f, layout);
  std::map<std::string, GgmlType> out;
  for (const auto& t : layout) out[t.name] = mix.type_for(t);
  return out;
}

int count(const std::map<std::string, GgmlType>& p, GgmlType t) {
  int n = 0;
  for (const auto& [name, type] : p) n += type == t;
  return n;
}

TEST(QuantMix, Q4KMOnTheTwelveBShape) {
  const auto p = plan(FileType::MOSTLY_Q4_K_M, config_12b());
  EXPECT_EQ(p.at("token_embd.weight"), GgmlType::Q6_K);  // tied output head
  EXPECT_EQ(p.at("blk.0.attn_norm.weight"), GgmlType::F32);
  EXPECT_EQ(p.at("rope_freqs.weight"), GgmlType::F32);
  EXPECT_EQ(p.at("blk.0.attn_q.weight"), GgmlType::Q4_K);
  // attn_v: 40 tensors (full layers have none); first/last eighth and every third in between.
  EXPECT_EQ(p.at("blk.0.attn_v.weight"), GgmlType::Q6_K);
  EXPECT_EQ(p.at("blk.6.attn_v.weight"), GgmlType::Q4_K);  // 6th attn_v tensor (index 5)
  // ffn_down over 48 layers: layers 0-5, 42-47 and 8, 11, ..., 41.
  EXPECT_EQ(p.at("blk.5.ffn_down.weight"), GgmlType::Q6_K);
  EXPECT_EQ(p.at("blk.6.ffn_down.weight"), GgmlType::Q4_K);
  EXPECT_EQ(p.at("blk.8.ffn_down.weight"), GgmlType::Q6_K);
  EXPECT_EQ(p.at("blk.9.ffn_down.weight"), GgmlType::Q4_K);
  EXPECT_EQ(count(p, GgmlType::Q6_K), 1 + 20 + 24);
}

TEST(QuantMix, PlainTypesAndQ4_0) {
  const auto c = config_12b();
  auto f16 = plan(FileType::MOSTLY_F16, c);
  EXPECT_EQ(f16.at("token_embd.weight"), GgmlType::F16);
  EXPECT_EQ(f16.at("blk.0.ffn_norm.weight"), GgmlType::F32);
  auto q40 = plan(FileType::MOSTLY_Q4_0, c);
  EXPECT_EQ(q40.at("token_embd.weight"), GgmlType::Q6_K);
  EXPECT_EQ(q40.at("blk.0.attn_v.weight"), GgmlType::Q4_0);
  auto q80 = plan(FileType::MOSTLY_Q8_0, c);
  EXPECT_EQ(q80.at("token_embd.weight"), GgmlType::Q8_0);
}

TEST(QuantMix, RowsThatAreNotWholeBlocksFallBack) {
  Gemma4Config c = config_12b();
  c.n_layer = 6;
  c.is_swa = Gemma4Config::pattern_full_every(6, 6);
  c.n_embd = 96;  // not a multiple of 256
  c.n_ff.assign(6, 384);
  const auto p = plan(FileType::MOSTLY_Q4_K_M, c);
  EXPECT_EQ(p.at("blk.1.attn_q.weight"), GgmlType::Q5_0);      // Q4_K -> Q5_0
  EXPECT_EQ(p.at("token_embd.weight"), GgmlType::Q8_0);        // output head falls back to Q8_0
}

TEST(QuantMix, NamesAreCaseInsensitive) {
  ASSERT_TRUE(file_type_from_name("q4_k_m").has_value());
  EXPECT_EQ(file_type_from_name("Q4_K_M")->type, FileType::MOSTLY_Q4_K_M);
  EXPECT_FALSE(file_type_from_name("Q4_K_X").has_value());
}

}  // namespace
}  // namespace locus::model
