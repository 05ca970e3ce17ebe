#include "model/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tensor/quant_math.h"

namespace locus::model {
namespace {

// A layer cache filled with random normalized keys and values at positions [0, n_pos), written through
// the ring like the model writes them.
KvLayer make_layer(uint32_t n_cells, uint32_t n_head_kv, uint32_t hd, int32_t n_pos, uint64_t seed) {
  KvLayer L;
  L.n_cells = n_cells;
  L.n_head_kv = n_head_kv;
  L.head_dim = hd;
  L.k.assign(size_t{n_cells} * n_head_kv * hd, 0);
  L.v.assign(L.k.size(), 0);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (int32_t p = 0; p < n_pos; ++p) {
    uint16_t* k = L.k_row(p);
    uint16_t* v = L.v_row(p);
    for (uint32_t i = 0; i < n_head_kv * hd; ++i) {
      k[i] = tensor::float_to_half(d(rng) * 0.3f);
      v[i] = tensor::float_to_half(d(rng));
    }
  }
  return L;
}

std::vector<float> random_queries(int64_t n_tokens, uint32_t n_head, uint32_t hd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.3f);
  std::vector<float> q(static_cast<size_t>(n_tokens) * n_head * hd);
  for (float& x : q) x = d(rng);
  return q;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::abs(a[i] - b[i])));
  return m;
}

struct Case {
  uint32_t n_cells, n_head, n_head_kv, hd, window;
  int64_t n_tokens;
  int32_t pos0;
};

void check_against_reference(const Case& c, AttentionNumerics numerics, double tolerance) {
  const KvLayer L = make_layer(c.n_cells, c.n_head_kv, c.hd, c.pos0 + static_cast<int32_t>(c.n_tokens), 11);
  const auto q = random_queries(c.n_tokens, c.n_head, c.hd, 12);
  std::vector<float> out(q.size()), ref(q.size());
  AttentionBatch b{q.data(), c.n_tokens, c.pos0, c.n_head, c.window, out.data()};
  tensor::ThreadPool pool(3);
  AttentionScratch scratch;
  attention(L, b, numerics, pool, scratch);
  b.out = ref.data();
  attention_reference(L, b);
  EXPECT_LT(max_abs_diff(out, ref), tolerance) << "cells " << c.n_cells << " heads " << c.n_head << "/" << c.n_head_kv
                                               << " window " << c.window << " tokens " << c.n_tokens << " at " << c.pos0;
}

TEST(Attention, F32PathMatchesTheReference) {
  for (const Case& c : {Case{64, 4, 2, 32, 0, 5, 0}, Case{300, 16, 8, 64, 0, 70, 150}, Case{300, 16, 1, 128, 0, 3, 290},
                        Case{40, 4, 2, 32, 16, 30, 100}, Case{200, 8, 8, 32, 128, 130, 60}}) {
    check_against_reference(c, AttentionNumerics::kF32, 2e-5);
  }
}

TEST(Attention, F16AccumulatePathIsWithinHalfPrecisionOfTheReference) {
  for (const Case& c : {Case{64, 4, 2, 32, 0, 5, 0}, Case{300, 16, 8, 64, 0, 7, 250}, Case{300, 16, 1, 128, 0, 1, 299},
                        Case{40, 4, 2, 32, 16, 3, 120}}) {
    // Values are O(1); f16 keeps about 3 decimal digits through the online accumulation.
    check_against_reference(c, AttentionNumerics::kF16Accumulate, 1e-2);
  }
}

// Changing a key the query must not see leaves the output alone; changing one it must see changes it.
TEST(Attention, SlidingWindowSeesExactlyTheLastWindowPositions) {
  const uint32_t window = 8, hd = 32;
  const int32_t pos = 20;  // sees positions 13..20
  KvLayer L = make_layer(64, 1, hd, pos + 1, 3);
  const auto q = random_queries(1, 2, hd, 4);
  tensor::ThreadPool pool(1);
  AttentionScratch scratch;
  auto run = [&](const KvLayer& layer) {
    std::vector<float> out(q.size());
    AttentionBatch b{q.data(), 1, pos, 2, window, out.data()};
    attention(layer, b, AttentionNumerics::kF32, pool, scratch);
    return out;
  };
  const auto base = run(L);
  auto with_key_changed = [&](int32_t p) {
    KvLayer M = L;
    for (uint32_t i = 0; i < hd; ++i) {
      M.k_row(p)[i] = tensor::float_to_half(5.0f);
      M.v_row(p)[i] = tensor::float_to_half(-3.0f);
    }
    return run(M);
  };
  EXPECT_EQ(with_key_changed(pos - window), base);          // i - j == window: masked (llama.cpp: i - j >= n_swa)
  EXPECT_NE(with_key_changed(pos - window + 1), base);      // i - j == window - 1: visible
  EXPECT_NE(with_key_changed(pos), base);                   // the query's own position is visible
  EXPECT_EQ(with_key_changed(pos + 1), base);               // causal: the future is masked
}

TEST(Attention, FullLayersSeeEverythingUpToTheQuery) {
  const uint32_t hd = 32;
  const int32_t pos = 50;
  KvLayer L = make_layer(128, 1, hd, pos + 2, 5);
  const auto q = random_queries(1, 4, hd, 6);
  tensor::ThreadPool pool(2);
  AttentionScratch scratch;
  auto run = [&](const KvLayer& layer) {
    std::vector<float> out(q.size());
    AttentionBatch b{q.data(), 1, pos, 4, 0, out.data()};
    attention(layer, b, AttentionNumerics::kF16Accumulate, pool, scratch);
    return out;
  };
  const auto base = run(L);
  KvLayer first = L, future = L;
  first.v_row(0)[0] = tensor::float_to_half(50.0f);
  future.v_row(pos + 1)[0] = tensor::float_to_half(50.0f);
  EXPECT_NE(run(first), base);
  EXPECT_EQ(run(future), base);
}

// A bidirectional block (an image on a sliding layer): each query sees every key of the block, later ones
// included, and the window below it. Both numerics against the reference, over many shapes, positions, windows
// (smaller and larger than the block) and seeds.
TEST(Attention, BidirectionalBlocksMatchTheReference) {
  struct B { uint32_t n_head, n_head_kv, hd, window; int64_t n; int32_t pos0; };
  int checked = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    for (const B& c : {B{4, 2, 32, 16, 40, 5}, B{4, 2, 32, 128, 70, 100}, B{8, 8, 32, 24, 70, 0}, B{16, 8, 64, 256, 90, 300},
                       B{4, 1, 32, 8, 3, 20}, B{4, 2, 32, 64, 1, 7}}) {
      const uint32_t cells = c.window + static_cast<uint32_t>(c.n) + 4;
      const KvLayer L = make_layer(cells, c.n_head_kv, c.hd, c.pos0 + static_cast<int32_t>(c.n), seed);
      const auto q = random_queries(c.n, c.n_head, c.hd, seed + 100);
      for (AttentionNumerics num : {AttentionNumerics::kF32, AttentionNumerics::kF16Accumulate}) {
        std::vector<float> out(q.size()), ref(q.size());
        AttentionBatch b{q.data(), c.n, c.pos0, c.n_head, c.window, out.data()};
        b.key_end = c.pos0 + static_cast<int32_t>(c.n);
        tensor::ThreadPool pool(static_cast<int>(seed % 3) + 1);
        AttentionScratch scratch;
        attention(L, b, num, pool, scratch);
        b.out = ref.data();
        attention_reference(L, b);
        EXPECT_LT(max_abs_diff(out, ref), num == AttentionNumerics::kF32 ? 2e-5 : 1e-2)
            << "seed " << seed << " window " << c.window << " n " << c.n << " pos0 " << c.pos0;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 72);
}

// What a bidirectional query sees, key by key: the first query of the block sees the block's last key (a
// causal one would not), nothing past the block, and the window still masks below it.
TEST(Attention, BidirectionalBlockSeesItsLaterKeysButNotBeyond) {
  const uint32_t window = 8, hd = 32;
  const int32_t pos0 = 20, n = 5;  // the block is positions 20..24
  KvLayer L = make_layer(64, 1, hd, pos0 + n + 1, 9);
  const auto q = random_queries(n, 2, hd, 10);
  tensor::ThreadPool pool(2);
  AttentionScratch scratch;
  auto run = [&](const KvLayer& layer, bool bidirectional, AttentionNumerics num) {
    std::vector<float> out(q.size());
    AttentionBatch b{q.data(), n, pos0, 2, window, out.data()};
    if (bidirectional) b.key_end = pos0 + n;
    attention(layer, b, num, pool, scratch);
    return std::vector<float>(out.begin(), out.begin() + 2 * hd);  // the first query's output
  };
  auto changed = [&](int32_t p) {
    KvLayer M = L;
    for (uint32_t i = 0; i < hd; ++i) {
      M.k_row(p)[i] = tensor::float_to_half(5.0f);
      M.v_row(p)[i] = tensor::float_to_half(-3.0f);
    }
    return M;
  };
  for (AttentionNumerics num : {AttentionNumerics::kF32, AttentionNumerics::kF16Accumulate}) {
    const auto base = run(L, true, num);
    EXPECT_NE(run(changed(pos0 + n - 1), true, num), base);   // a later key of the block: visible
    EXPECT_EQ(run(changed(pos0 + n - 1), false, num), run(L, false, num));  // causally it is not
    EXPECT_EQ(run(changed(pos0 + n), true, num), base);       // past the block: never
    EXPECT_EQ(run(changed(pos0 - window), true, num), base);  // below the window: masked
    EXPECT_NE(run(changed(pos0 - window + 1), true, num), base);
  }
}

TEST(Attention, RingCellsGiveTheSameResultAsAFlatCache) {
  // A sliding layer's ring of window + batch cells after the positions have wrapped several times equals
  // a cache holding every position.
  const uint32_t window = 16, n_batch = 5, hd = 32, n_kv = 2, n_head = 4;
  const int32_t n_pos = 77;
  const KvLayer flat = make_layer(128, n_kv, hd, n_pos, 9);
  KvLayer ring = flat;
  ring.n_cells = window + n_batch;
  ring.k.assign(size_t{ring.n_cells} * n_kv * hd, 0);
  ring.v.assign(ring.k.size(), 0);
  for (int32_t p = 0; p < n_pos; ++p) {
    std::copy(flat.k_row(p), flat.k_row(p) + n_kv * hd, ring.k_row(p));
    std::copy(flat.v_row(p), flat.v_row(p) + n_kv * hd, ring.v_row(p));
  }
  const int32_t pos0 = n_pos - static_cast<int32_t>(n_batch);
  const auto q = random_queries(n_batch, n_head, hd, 10);
  tensor::ThreadPool pool(2);
  AttentionScratch scratch;
  for (AttentionNumerics numerics : {AttentionNumerics::kF32, AttentionNumerics::kF16Accumulate}) {
    std::vector<float> a(q.size()), b(q.size());
    attention(flat, {q.data(), n_batch, pos0, n_head, window, a.data()}, numerics, pool, scratch);
    attention(ring, {q.data(), n_batch, pos0, n_head, window, b.data()}, numerics, pool, scratch);
    EXPECT_EQ(a, b);
  }
}

TEST(Attention, QueryHeadsShareTheirGroupsKvHead) {
  // With 4 query heads over 2 KV heads, heads 0-1 read KV head 0 and heads 2-3 KV head 1: giving heads 0
  // and 2 the same query yields different outputs, heads 0 and 1 the same outputs.
  const uint32_t hd = 32;
  const KvLayer L = make_layer(16, 2, hd, 10, 13);
  auto q = random_queries(1, 4, hd, 14);
  for (uint32_t i = 0; i < hd; ++i) q[hd + i] = q[2 * hd + i] = q[i];
  std::vector<float> out(q.size());
  tensor::ThreadPool pool(1);
  AttentionScratch scratch;
  attention(L, {q.data(), 1, 9, 4, 0, out.data()}, AttentionNumerics::kF32, pool, scratch);
  for (uint32_t i = 0; i < hd; ++i) EXPECT_EQ(out[i], out[hd + i]);
  EXPECT_NE(std::vector<float>(out.begin(), out.begin() + hd), std::vector<float>(out.begin() + 2 * hd, out.begin() + 3 * hd));
}

TEST(Attention, ResultsDoNotDependOnTheThreadCount) {
  const KvLayer L = make_layer(300, 1, 128, 260, 15);
  const auto q = random_queries(2, 16, 128, 16);
  for (AttentionNumerics numerics : {AttentionNumerics::kF32, AttentionNumerics::kF16Accumulate}) {
    std::vector<float> one(q.size()), four(q.size());
    AttentionScratch s1, s4;
    tensor::ThreadPool p1(1), p4(4);
    attention(L, {q.data(), 2, 258, 16, 0, one.data()}, numerics, p1, s1);
    attention(L, {q.data(), 2, 258, 16, 0, four.data()}, numerics, p4, s4);
    EXPECT_EQ(one, four);
  }
}

TEST(Attention, PortableAndSimdLoopsAgree) {
  if (!attention_uses_avx2()) GTEST_SKIP() << "no AVX2/FMA/F16C on this CPU: only the portable loops run";
  const KvLayer L = make_layer(400, 2, 256, 390, 17);
  const auto q = random_queries(70, 16, 256, 18);
  tensor::ThreadPool pool(2);
  AttentionScratch scratch;
  for (AttentionNumerics numerics : {AttentionNumerics::kF32, AttentionNumerics::kF16Accumulate}) {
    for (uint32_t window : {0u, 128u}) {
      const int64_t n = numerics == AttentionNumerics::kF32 ? 70 : 3;
      std::vector<float> simd(q.size()), portable(q.size()), ref(q.size());
      attention(L, {q.data(), n, 320, 16, window, simd.data()}, numerics, pool, scratch);
      attention_force_portable(true);
      attention(L, {q.data(), n, 320, 16, window, portable.data()}, numerics, pool, scratch);
      attention_force_portable(false);
      attention_reference(L, {q.data(), n, 320, 16, window, ref.data()});
      const double tol = numerics == AttentionNumerics::kF32 ? 2e-5 : 1e-2;
      EXPECT_LT(max_abs_diff(simd, portable), tol) << "window " << window;
      EXPECT_LT(max_abs_diff(simd, ref), tol) << "window " << window;
      EXPECT_LT(max_abs_diff(portable, ref), tol) << "window " << window;
    }
  }
}

TEST(Attention, LlamaCppPicksTheTiledF32PathFrom64Tokens) {
  EXPECT_EQ(llama_cpp_attention_numerics(1), AttentionNumerics::kF16Accumulate);
  EXPECT_EQ(llama_cpp_attention_numerics(63), AttentionNumerics::kF16Accumulate);
  EXPECT_EQ(llama_cpp_attention_numerics(64), AttentionNumerics::kF32);
  EXPECT_EQ(llama_cpp_attention_numerics(512), AttentionNumerics::kF32);
}

}  // namespace
}  // namespace locus::model
