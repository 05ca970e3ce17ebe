#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/quant_math.h"

namespace locus::model {

namespace {

using tensor::float_to_half;
using tensor::half_to_float;

// Keys are visited in tiles of this many positions, aligned to multiples of it, like llama.cpp's tiled
// flash attention (the tile only changes when the running maximum is refreshed).
constexpr int32_t kKeyTile = 64;

inline float round_to_f16(float x) { return half_to_float(float_to_half(x)); }

inline void widen_f16(const uint16_t* src, float* dst, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) dst[i] = half_to_float(src[i]);
}

inline float dot(const float* a, const float* b, uint32_t n) {
  float s = 0.0f;
  for (uint32_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

struct Task {
  int64_t token;
  uint32_t kv_head;
  uint32_t head0, n_heads;  // the query heads of this task (all in kv_head's group)
  int32_t first_key, last_key;  // positions, inclusive
};

// Layout of a thread's buffer: widened key, widened value, then per query head its (f16-rounded) query,
// accumulator and one tile of scores, then the running maxima and sums.
struct Buffers {
  float* k;
  float* v;
  float* q;
  float* acc;
  float* scores;
  float* m;
  float* s;
};

Buffers carve(float* base, uint32_t hd, uint32_t heads) {
  Buffers b;
  b.k = base;
  b.v = b.k + hd;
  b.q = b.v + hd;
  b.acc = b.q + size_t{heads} * hd;
  b.scores = b.acc + size_t{heads} * hd;
  b.m = b.scores + size_t{heads} * kKeyTile;
  b.s = b.m + heads;
  return b;
}

size_t buffer_floats(uint32_t hd, uint32_t heads) {
  return 2 * size_t{hd} + 2 * size_t{heads} * hd + size_t{heads} * kKeyTile + 2 * size_t{heads} + 16;
}

void run_f32(const KvLayer& kv, const AttentionBatch& b, const Task& t, Buffers buf) {
  const uint32_t hd = kv.head_dim;
  const float* q0 = b.q + (t.token * b.n_head + t.head0) * hd;
  std::fill(buf.acc, buf.acc + size_t{t.n_heads} * hd, 0.0f);
  for (uint32_t h = 0; h < t.n_heads; ++h) {
    buf.m[h] = -std::numeric_limits<float>::infinity();
    buf.s[h] = 0.0f;
  }
  const int32_t tile0 = t.first_key - t.first_key % kKeyTile;
  for (int32_t tile = tile0; tile <= t.last_key; tile += kKeyTile) {
    const int32_t j0 = std::max(tile, t.first_key), j1 = std::min(tile + kKeyTile - 1, t.last_key);
    const int32_t n = j1 - j0 + 1;
    for (int32_t j = j0; j <= j1; ++j) {
      widen_f16(kv.k_row(j) + size_t{t.kv_head} * hd, buf.k, hd);
      for (uint32_t h = 0; h < t.n_heads; ++h) buf.scores[h * kKeyTile + (j - j0)] = dot(q0 + size_t{h} * hd, buf.k, hd);
    }
    for (uint32_t h = 0; h < t.n_heads; ++h) {
      float* sc = buf.scores + h * kKeyTile;
      float tile_max = -std::numeric_limits<float>::infinity();
      for (int32_t i = 0; i < n; ++i) tile_max = std::max(tile_max, sc[i]);
      const float m_new = std::max(buf.m[h], tile_max);
      if (m_new > buf.m[h]) {
        const float ms = std::exp(buf.m[h] - m_new);
        float* acc = buf.acc + size_t{h} * hd;
        for (uint32_t d = 0; d < hd; ++d) acc[d] *= ms;
        buf.s[h] *= ms;
      }
      buf.m[h] = m_new;
      double sum = 0.0;
      for (int32_t i = 0; i < n; ++i) {
        sc[i] = std::exp(sc[i] - m_new);
        sum += sc[i];
      }
      buf.s[h] = static_cast<float>(static_cast<double>(buf.s[h]) + sum);
    }
    for (int32_t j = j0; j <= j1; ++j) {
      widen_f16(kv.v_row(j) + size_t{t.kv_head} * hd, buf.v, hd);
      for (uint32_t h = 0; h < t.n_heads; ++h) {
        const float p = buf.scores[h * kKeyTile + (j - j0)];
        float* acc = buf.acc + size_t{h} * hd;
        for (uint32_t d = 0; d < hd; ++d) acc[d] += p * buf.v[d];
      }
    }
  }
  for (uint32_t h = 0; h < t.n_heads; ++h) {
    const float inv = buf.s[h] == 0.0f ? 0.0f : 1.0f / buf.s[h];
    float* out = b.out + (t.token * b.n_head + t.head0 + h) * hd;
    const float* acc = buf.acc + size_t{h} * hd;
    for (uint32_t d = 0; d < hd; ++d) out[d] = acc[d] * inv;
  }
}

void run_f16_accumulate(const KvLayer& kv, const AttentionBatch& b, const Task& t, Buffers buf) {
  const uint32_t hd = kv.head_dim;
  const float* q0 = b.q + (t.token * b.n_head + t.head0) * hd;
  for (size_t i = 0; i < size_t{t.n_heads} * hd; ++i) buf.q[i] = round_to_f16(q0[i]);
  std::fill(buf.acc, buf.acc + size_t{t.n_heads} * hd, 0.0f);
  for (uint32_t h = 0; h < t.n_heads; ++h) {
    buf.m[h] = -std::numeric_limits<float>::infinity();
    buf.s[h] = 0.0f;
  }
  for (int32_t j = t.first_key; j <= t.last_key; ++j) {
    widen_f16(kv.k_row(j) + size_t{t.kv_head} * hd, buf.k, hd);
    widen_f16(kv.v_row(j) + size_t{t.kv_head} * hd, buf.v, hd);
    for (uint32_t h = 0; h < t.n_heads; ++h) {
      const float score = dot(buf.q + size_t{h} * hd, buf.k, hd);
      float* acc = buf.acc + size_t{h} * hd;  // holds f16 values
      float ms = 1.0f, vs = 1.0f;
      if (score > buf.m[h]) {
        const float m_old = buf.m[h];
        buf.m[h] = score;
        ms = std::exp(m_old - score);
        for (uint32_t d = 0; d < hd; ++d) acc[d] = round_to_f16(acc[d] * ms);
      } else {
        vs = std::exp(score - buf.m[h]);
      }
      for (uint32_t d = 0; d < hd; ++d) acc[d] = round_to_f16(acc[d] + buf.v[d] * vs);
      buf.s[h] = buf.s[h] * ms + vs;
    }
  }
  for (uint32_t h = 0; h < t.n_heads; ++h) {
    const float inv = buf.s[h] == 0.0f ? 0.0f : 1.0f / buf.s[h];
    float* out = b.out + (t.token * b.n_head + t.head0 + h) * hd;
    const float* acc = buf.acc + size_t{h} * hd;
    for (uint32_t d = 0; d < hd; ++d) out[d] = acc[d] * inv;
  }
}

}  // namespace

void AttentionScratch::reserve(int n_threads, uint32_t max_head_dim, uint32_t max_group) {
  per_thread_ = buffer_floats(max_head_dim, max_group);
  const size_t need = per_thread_ * static_cast<size_t>(std::max(1, n_threads));
  if (buf_.size() < need) buf_.resize(need);
}

void attention(const KvLayer& kv, const AttentionBatch& b, AttentionNumerics numerics, tensor::ThreadPool& pool,
               AttentionScratch& scratch) {
  const uint32_t group = b.n_head / kv.n_head_kv;
  // Split a KV head's query heads over several tasks when there are too few tasks to keep the threads
  // busy (one-token steps on full layers with a single KV head); each task then widens the keys itself.
  uint32_t n_sub = 1;
  while (static_cast<int64_t>(b.n_tokens) * kv.n_head_kv * n_sub < 2 * pool.size() && group % (n_sub * 2) == 0) {
    n_sub *= 2;
  }
  const uint32_t heads_per_task = group / n_sub;
  if (scratch.per_thread() < buffer_floats(kv.head_dim, heads_per_task)) {
    scratch.reserve(pool.size(), kv.head_dim, heads_per_task);
  }
  const int64_t n_tasks = b.n_tokens * kv.n_head_kv * n_sub;
  pool.parallel_for(n_tasks, [&](int64_t task, int thread) {
    Task t;
    t.token = task / (kv.n_head_kv * n_sub);
    t.kv_head = static_cast<uint32_t>((task / n_sub) % kv.n_head_kv);
    t.n_heads = heads_per_task;
    t.head0 = t.kv_head * group + static_cast<uint32_t>(task % n_sub) * heads_per_task;
    const int32_t pos = b.pos0 + static_cast<int32_t>(t.token);
    t.last_key = pos;
    t.first_key = b.window == 0 ? 0 : std::max<int32_t>(0, pos - static_cast<int32_t>(b.window) + 1);
    const Buffers buf = carve(scratch.thread_buffer(thread), kv.head_dim, heads_per_task);
    if (numerics == AttentionNumerics::kF32) {
      run_f32(kv, b, t, buf);
    } else {
      run_f16_accumulate(kv, b, t, buf);
    }
  });
}

void attention_reference(const KvLayer& kv, const AttentionBatch& b) {
  const uint32_t hd = kv.head_dim;
  const uint32_t group = b.n_head / kv.n_head_kv;
  for (int64_t t = 0; t < b.n_tokens; ++t) {
    const int32_t pos = b.pos0 + static_cast<int32_t>(t);
    const int32_t first = b.window == 0 ? 0 : std::max<int32_t>(0, pos - static_cast<int32_t>(b.window) + 1);
    for (uint32_t h = 0; h < b.n_head; ++h) {
      const uint32_t g = h / group;
      const float* q = b.q + (t * b.n_head + h) * hd;
      std::vector<double> s;
      for (int32_t j = first; j <= pos; ++j) {
        const uint16_t* k = kv.k_row(j) + size_t{g} * hd;
        double acc = 0;
        for (uint32_t d = 0; d < hd; ++d) acc += double(q[d]) * half_to_float(k[d]);
        s.push_back(acc);
      }
      const double m = *std::max_element(s.begin(), s.end());
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - m));
      float* out = b.out + (t * b.n_head + h) * hd;
      for (uint32_t d = 0; d < hd; ++d) {
        double acc = 0;
        for (int32_t j = first; j <= pos; ++j) acc += s[j - first] * half_to_float(kv.v_row(j)[size_t{g} * hd + d]);
        out[d] = static_cast<float>(acc / sum);
      }
    }
  }
}

}  // namespace locus::model
