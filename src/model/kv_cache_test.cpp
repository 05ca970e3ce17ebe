#include "model/kv_cache.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "model/test_configs.h"
#include "model/test_model.h"

namespace locus::model {
namespace {

TEST(KvCache, FullLayersHoldTheContextAndSlidingLayersAWindowPlusABatch) {
  const Gemma4Config c = testing::config_12b();
  const KvCache cache(c, 8192, 512);
  EXPECT_EQ(cache.layer(0).n_cells, 1024u + 512u);
  EXPECT_EQ(cache.layer(5).n_cells, 8192u);
  EXPECT_EQ(cache.layer(0).row_elements(), 8u * 256u);
  EXPECT_EQ(cache.layer(5).row_elements(), 1u * 512u);
  // gemma4.md 5: 16 KiB per position for the 8 full layers, 320 KiB per cell for the 40 sliding ones.
  EXPECT_EQ(cache.bytes(), 8192ull * 16384 + 1536ull * 327680);
  // A context shorter than the window needs no ring.
  const KvCache small(c, 600, 512);
  EXPECT_EQ(small.layer(0).n_cells, 600u);
}

TEST(KvCache, RingCellsWrapAtTheirSize) {
  const Gemma4Config c = testing::small_config(6, 8);
  KvCache cache(c, 100, 4);
  KvLayer& swa = cache.layer(0);
  ASSERT_TRUE(swa.swa);
  EXPECT_EQ(swa.n_cells, 12u);
  EXPECT_EQ(swa.cell(3), 3u);
  EXPECT_EQ(swa.cell(12), 0u);
  EXPECT_EQ(swa.cell(29), 5u);
  EXPECT_EQ(swa.k_row(29), swa.k_row(5));
  KvLayer& full = cache.layer(2);
  ASSERT_FALSE(full.swa);
  EXPECT_EQ(full.cell(99), 99u);
}

TEST(KvCache, AdvancesByAtMostABatchWithinTheContext) {
  const Gemma4Config c = testing::small_config(6, 8);
  KvCache cache(c, 20, 4);
  cache.advance(4);
  cache.advance(8);
  EXPECT_EQ(cache.n_past(), 8);
  EXPECT_THROW(cache.advance(13), std::invalid_argument);  // 5 > n_batch
  EXPECT_THROW(cache.advance(7), std::invalid_argument);   // backwards
  cache.advance(12);
  cache.advance(16);
  cache.advance(20);
  EXPECT_THROW(cache.advance(21), std::invalid_argument);  // past n_ctx
}

TEST(KvCache, RollsBackOnlyWhileTheRingHoldsTheWindow) {
  const Gemma4Config c = testing::small_config(6, 8);  // ring of 12 cells
  KvCache cache(c, 100, 4);
  for (int32_t p = 4; p <= 40; p += 4) cache.advance(p);
  // Positions 28..39 are held. Continuing at pos needs pos - 7 .. pos - 1.
  EXPECT_TRUE(cache.can_truncate(40));
  EXPECT_TRUE(cache.can_truncate(35));
  EXPECT_FALSE(cache.can_truncate(34));
  EXPECT_FALSE(cache.can_truncate(41));
  EXPECT_THROW(cache.truncate(30), std::invalid_argument);
  cache.truncate(36);
  EXPECT_EQ(cache.n_past(), 36);
  // Writing again from 36 keeps what the next queries need.
  cache.advance(40);
  EXPECT_TRUE(cache.can_truncate(37));
  cache.clear();
  EXPECT_EQ(cache.n_past(), 0);
  EXPECT_TRUE(cache.can_truncate(0));
}

TEST(KvCache, WithoutARingEveryPositionCanBeRolledBack) {
  const Gemma4Config c = testing::small_config(6, 8);
  KvCache cache(c, 10, 16);  // n_ctx < window + batch: sliding layers hold the whole context
  EXPECT_EQ(cache.layer(0).n_cells, 10u);
  cache.advance(10);
  EXPECT_TRUE(cache.can_truncate(0));
}

}  // namespace
}  // namespace locus::model
