#include "model/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "tensor/quant_math.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace locus::model {

namespace {

using tensor::float_to_half;
using tensor::half_to_float;

// Keys are visited in tiles of this many positions, aligned to multiples of it, like llama.cpp's tiled
// flash attention (the tile only changes when the running maximum is refreshed).
constexpr int32_t kKeyTile = 64;

// Queries per task on the f32 path: they share the widened, transposed key tiles.
constexpr uint32_t kQueryBlock = 16;

struct Task {
  int64_t token;                // first query (row of the batch)
  uint32_t n_tokens;            // consecutive queries: 1, or up to kQueryBlock on the f32 path
  uint32_t kv_head;
  uint32_t head0, n_heads;      // the query heads of this task (all in kv_head's group)
  int32_t first_key, last_key;  // keys the first query sees (positions, inclusive); query i sees
                                // [first_key + i, last_key + i] with a window, [first_key, last_key + i] without
};

// A thread's buffer: widened key and value, a tile of keys transposed, then per (query, head) row its
// (f16-rounded) query, accumulator and one tile of scores, then the running maxima and sums.
struct Buffers {
  float* k;
  float* v;
  float* kt;
  float* q;
  float* acc;
  float* scores;
  float* m;
  float* s;
};

Buffers carve(float* base, uint32_t hd, uint32_t rows) {
  Buffers b;
  b.k = base;
  b.v = b.k + hd;
  b.kt = b.v + hd;
  b.q = b.kt + size_t{hd} * kKeyTile;
  b.acc = b.q + size_t{rows} * hd;
  b.scores = b.acc + size_t{rows} * hd;
  b.m = b.scores + size_t{rows} * kKeyTile;
  b.s = b.m + rows;
  return b;
}

size_t buffer_floats(uint32_t hd, uint32_t rows) {
  return 2 * size_t{hd} + size_t{hd} * kKeyTile + 2 * size_t{rows} * hd + size_t{rows} * kKeyTile + 2 * size_t{rows} + 16;
}

using TaskFn = void (*)(const KvLayer&, const AttentionBatch&, const Task&, const Buffers&);

namespace portable {

inline void widen(const uint16_t* src, float* dst, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) dst[i] = half_to_float(src[i]);
}
inline void round_f16(const float* src, float* dst, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) dst[i] = half_to_float(float_to_half(src[i]));
}
inline float dot(const float* a, const float* b, uint32_t n) {
  float s = 0.0f;
  for (uint32_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
inline void axpy(float* acc, const float* v, float p, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) acc[i] += v[i] * p;
}
inline void axpy_f16(float* acc, const float* v, float p, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) acc[i] = half_to_float(float_to_half(acc[i] + v[i] * p));
}
inline void scale(float* acc, float s, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) acc[i] *= s;
}
inline void scale_f16(float* acc, float s, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) acc[i] = half_to_float(float_to_half(acc[i] * s));
}
inline void tile_scores(const float* q, const float* kt, uint32_t hd, float* out) {
  std::fill(out, out + kKeyTile, 0.0f);
  for (uint32_t d = 0; d < hd; ++d) {
    for (int32_t j = 0; j < kKeyTile; ++j) out[j] += q[d] * kt[size_t{d} * kKeyTile + j];
  }
}

#include "model/attention_kernels.inc"

}  // namespace portable

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
namespace avx2 {

// Same roundings as the portable helpers, eight lanes at a time, with fused multiply-adds (as llama.cpp's
// x86 kernels use them).
inline void widen(const uint16_t* src, float* dst, uint32_t n) {
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  }
  for (; i < n; ++i) dst[i] = half_to_float(src[i]);
}
inline __m256 to_f16_and_back(__m256 x) { return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT)); }
inline void round_f16(const float* src, float* dst, uint32_t n) {
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, to_f16_and_back(_mm256_loadu_ps(src + i)));
  for (; i < n; ++i) dst[i] = half_to_float(float_to_half(src[i]));
}
inline float dot(const float* a, const float* b, uint32_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  uint32_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  s0 = _mm256_add_ps(s0, s1);
  __m128 r = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  float s = _mm_cvtss_f32(r);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}
inline void axpy(float* acc, const float* v, float p, uint32_t n) {
  const __m256 pv = _mm256_set1_ps(p);
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(_mm256_loadu_ps(v + i), pv, _mm256_loadu_ps(acc + i)));
  }
  for (; i < n; ++i) acc[i] = std::fma(v[i], p, acc[i]);
}
inline void axpy_f16(float* acc, const float* v, float p, uint32_t n) {
  const __m256 pv = _mm256_set1_ps(p);
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(acc + i, to_f16_and_back(_mm256_fmadd_ps(_mm256_loadu_ps(v + i), pv, _mm256_loadu_ps(acc + i))));
  }
  for (; i < n; ++i) acc[i] = half_to_float(float_to_half(std::fma(v[i], p, acc[i])));
}
inline void scale(float* acc, float s, uint32_t n) {
  const __m256 sv = _mm256_set1_ps(s);
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(acc + i, _mm256_mul_ps(_mm256_loadu_ps(acc + i), sv));
  for (; i < n; ++i) acc[i] *= s;
}
inline void scale_f16(float* acc, float s, uint32_t n) {
  const __m256 sv = _mm256_set1_ps(s);
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(acc + i, to_f16_and_back(_mm256_mul_ps(_mm256_loadu_ps(acc + i), sv)));
  for (; i < n; ++i) acc[i] = half_to_float(float_to_half(acc[i] * s));
}
inline void tile_scores(const float* q, const float* kt, uint32_t hd, float* out) {
  static_assert(kKeyTile == 64, "eight registers of eight keys");
  __m256 a[8];
  for (int r = 0; r < 8; ++r) a[r] = _mm256_setzero_ps();
  for (uint32_t d = 0; d < hd; ++d) {
    const __m256 qd = _mm256_set1_ps(q[d]);
    const float* row = kt + size_t{d} * kKeyTile;
    for (int r = 0; r < 8; ++r) a[r] = _mm256_fmadd_ps(_mm256_loadu_ps(row + 8 * r), qd, a[r]);
  }
  for (int r = 0; r < 8; ++r) _mm256_storeu_ps(out + 8 * r, a[r]);
}

#include "model/attention_kernels.inc"

}  // namespace avx2
#pragma GCC pop_options
#endif

struct Kernels {
  TaskFn f32;
  TaskFn f16_accumulate;
};

bool cpu_has_avx2() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return has;
#else
  return false;
#endif
}

std::atomic<bool> force_portable{false};

Kernels kernels() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu_has_avx2() && !force_portable.load(std::memory_order_relaxed)) {
    return Kernels{avx2::run_f32, avx2::run_f16_accumulate};
  }
#endif
  return Kernels{portable::run_f32, portable::run_f16_accumulate};
}

}  // namespace

bool attention_uses_avx2() { return cpu_has_avx2() && !force_portable.load(std::memory_order_relaxed); }

void attention_force_portable(bool on) { force_portable.store(on, std::memory_order_relaxed); }

void AttentionScratch::reserve(int n_threads, uint32_t max_head_dim, uint32_t max_group) {
  reserve_rows(n_threads, max_head_dim, kQueryBlock * max_group);
}

void AttentionScratch::reserve_rows(int n_threads, uint32_t head_dim, uint32_t rows) {
  per_thread_ = std::max(per_thread_, buffer_floats(head_dim, rows));
  const size_t need = per_thread_ * static_cast<size_t>(std::max(1, n_threads));
  if (buf_.size() < need) buf_.resize(need);
}

void attention(const KvLayer& kv, const AttentionBatch& b, AttentionNumerics numerics, tensor::ThreadPool& pool,
               AttentionScratch& scratch) {
  const uint32_t group = b.n_head / kv.n_head_kv;
  // The f32 path takes blocks of queries; the f16 one (small batches) one query per task.
  const uint32_t block = numerics == AttentionNumerics::kF32 ? kQueryBlock : 1;
  const int64_t n_blocks = (b.n_tokens + block - 1) / block;
  // Split a KV head's query heads over several tasks when there are too few tasks to keep the threads
  // busy (one-token steps on full layers with a single KV head); each task then widens the keys itself.
  uint32_t n_sub = 1;
  while (n_blocks * kv.n_head_kv * n_sub < 2 * pool.size() && group % (n_sub * 2) == 0) n_sub *= 2;
  const uint32_t heads_per_task = group / n_sub;
  if (scratch.per_thread() < buffer_floats(kv.head_dim, block * heads_per_task) ||
      scratch.threads() < pool.size()) {
    scratch.reserve_rows(pool.size(), kv.head_dim, block * heads_per_task);
  }
  const int64_t n_tasks = n_blocks * kv.n_head_kv * n_sub;
  const Kernels fn = kernels();
  pool.parallel_for(n_tasks, [&](int64_t task, int thread) {
    Task t;
    const int64_t blk = task / (kv.n_head_kv * n_sub);
    t.token = blk * block;
    t.n_tokens = static_cast<uint32_t>(std::min<int64_t>(block, b.n_tokens - t.token));
    t.kv_head = static_cast<uint32_t>((task / n_sub) % kv.n_head_kv);
    t.n_heads = heads_per_task;
    t.head0 = t.kv_head * group + static_cast<uint32_t>(task % n_sub) * heads_per_task;
    const int32_t pos = b.pos0 + static_cast<int32_t>(t.token);
    t.last_key = pos;
    t.first_key = b.window == 0 ? 0 : pos - static_cast<int32_t>(b.window) + 1;
    const Buffers buf = carve(scratch.thread_buffer(thread), kv.head_dim, t.n_tokens * heads_per_task);
    (numerics == AttentionNumerics::kF32 ? fn.f32 : fn.f16_accumulate)(kv, b, t, buf);
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
