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
