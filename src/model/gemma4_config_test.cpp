#include "model/gemma4_config.h"

#include <gtest/gtest.h>

#include "model/test_configs.h"

#include <algorithm>

namespace locus::model {
namespace {

using testing::config_12b;

const TensorSpec* find(const std::vector<TensorSpec>& l, const std::string& name) {
  auto it = std::find_if(l.begin(), l.end(), [&](const TensorSpec& t) { return t.name == name; });
  return it == l.end() ? nullptr : &*it;
}

TEST(Gemma4Config, FullLayersEverySixthAndLast) {
  const auto swa = Gemma4Config::pattern_full_every(48, 6);
  for (uint32_t i = 0; i < 48; ++i) EXPECT_EQ(swa[i], (i + 1) % 6 != 0) << i;
  const auto odd = Gemma4Config::pattern_full_every(7, 6);
  EXPECT_FALSE(odd[5]);
  EXPECT_FALSE(odd[6]);  // the last layer is full even off the period
}

TEST(Gemma4Config, TwelveBLayoutHasTheDocumentedShapesAndCount) {
  const auto l = gemma4_tensor_layout(config_12b());
  // 11.91 B text parameters (gemma4.md 2.3 and 13).
  const double n = double(count_parameters(l));
  EXPECT_NEAR(n / 1e9, 11.91, 0.01);
  EXPECT_EQ(find(l, "token_embd.weight")->shape, (std::vector<uint64_t>{3840, 262144}));
  EXPECT_EQ(find(l, "blk.3.attn_q.weight")->shape, (std::vector<uint64_t>{3840, 4096}));
  EXPECT_EQ(find(l, "blk.3.attn_k.weight")->shape, (std::vector<uint64_t>{3840, 2048}));
  EXPECT_EQ(find(l, "blk.3.attn_v.weight")->shape, (std::vector<uint64_t>{3840, 2048}));
  EXPECT_EQ(find(l, "blk.5.attn_q.weight")->shape, (std::vector<uint64_t>{3840, 8192}));
  EXPECT_EQ(find(l, "blk.5.attn_k.weight")->shape, (std::vector<uint64_t>{3840, 512}));
  EXPECT_EQ(find(l, "blk.5.attn_v.weight"), nullptr);  // K=V on full layers
  EXPECT_EQ(find(l, "blk.5.attn_output.weight")->shape, (std::vector<uint64_t>{8192, 3840}));
  EXPECT_EQ(find(l, "blk.5.attn_q_norm.weight")->shape, (std::vector<uint64_t>{512}));
  EXPECT_EQ(find(l, "blk.47.ffn_down.weight")->shape, (std::vector<uint64_t>{15360, 3840}));
  EXPECT_EQ(find(l, "rope_freqs.weight")->shape, (std::vector<uint64_t>{256}));
  EXPECT_EQ(find(l, "output.weight"), nullptr);  // tied head
  EXPECT_NE(find(l, "blk.0.layer_output_scale.weight"), nullptr);
  EXPECT_EQ(std::count_if(l.begin(), l.end(), [](const TensorSpec& t) { return t.role == TensorRole::kAttnV; }), 40);
}

TEST(Gemma4Config, SharedKvLayersHaveNoKeyOrValueProjection) {
  Gemma4Config c = config_12b();
  c.n_layer = 10;
  c.is_swa = Gemma4Config::pattern_full_every(10, 5);
  c.n_ff.assign(10, 256);
  c.shared_kv_layers = 4;
  c.k_eq_v_full = false;
  const auto l = gemma4_tensor_layout(c);
  EXPECT_NE(find(l, "blk.5.attn_k.weight"), nullptr);
  EXPECT_EQ(find(l, "blk.6.attn_k.weight"), nullptr);
  EXPECT_EQ(find(l, "blk.6.attn_v.weight"), nullptr);
  EXPECT_EQ(find(l, "blk.6.attn_k_norm.weight"), nullptr);
  EXPECT_NE(find(l, "blk.6.attn_q.weight"), nullptr);
  EXPECT_NE(find(l, "blk.4.attn_v.weight"), nullptr);  // full layer without K=V keeps V
}

}  // namespace
}  // namespace locus::model
