#include "model/attention.h"

#include <algorithm>
#include <atomic>
#include <cassert>
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
  int32_t key_end = 0;          // > 0: a bidirectional block, query i's last key is key_end - 1 whatever i
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
inline double softmax_tile(float* sc, int32_t a, int32_t z, float m) {
  double sum = 0.0;
  for (int32_t j = 0; j < kKeyTile; ++j) {
    const float p = j >= a && j <= z ? std::exp(sc[j] - m) : 0.0f;
    sum += p;
    sc[j] = p;
  }
  return sum;
}
inline float mul(float a, float b) { return a * b; }
inline float add(float a, float b) { return a + b; }

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
// ggml's AVX-512 builds (the CPU variant llama.cpp loads where the CPU has AVX-512F) sum in 16-lane registers,
// its AVX2 builds in 8-lane ones.
bool ggml_sums_16_lanes() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
}
// The key-query dot product in ggml_vec_dot_f16's order (llama.cpp's per-row flash attention): per lane,
// four accumulator registers fed in turn from blocks of four registers' worth of values; the registers
// summed (0 + 2, 1 + 3, then those two); the lanes summed as that build reduces a register; what is left
// over (n not a multiple of a block) added in double. The AVX-512 layout is emulated with pairs of 8-lane
// registers: a fused multiply-add is the same per lane whatever the register width.
inline float dot(const float* a, const float* b, uint32_t n) {
  double sum = 0.0;
  uint32_t i = 0;
  if (ggml_sums_16_lanes()) {
    __m256 acc[4][2];
    for (auto& r : acc) r[0] = r[1] = _mm256_setzero_ps();
    for (; i + 64 <= n; i += 64) {
      for (uint32_t j = 0; j < 4; ++j) {
        for (uint32_t h = 0; h < 2; ++h) {
          const uint32_t o = i + 16 * j + 8 * h;
          acc[j][h] = _mm256_fmadd_ps(_mm256_loadu_ps(a + o), _mm256_loadu_ps(b + o), acc[j][h]);
        }
      }
    }
    for (uint32_t h = 0; h < 2; ++h) {
      acc[0][h] = _mm256_add_ps(acc[0][h], acc[2][h]);
      acc[1][h] = _mm256_add_ps(acc[1][h], acc[3][h]);
      acc[0][h] = _mm256_add_ps(acc[0][h], acc[1][h]);
    }
    // _mm512_reduce_add_ps: lanes k + (k + 8), then k + (k + 4), then k + (k + 2), then 0 + 1.
    const __m256 t8 = _mm256_add_ps(acc[0][1], acc[0][0]);
    __m128 t4 = _mm_add_ps(_mm256_extractf128_ps(t8, 1), _mm256_castps256_ps128(t8));
    t4 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
    t4 = _mm_add_ss(t4, _mm_movehdup_ps(t4));
    sum = _mm_cvtss_f32(t4);
  } else {
    __m256 acc[4];
    for (auto& r : acc) r = _mm256_setzero_ps();
    for (; i + 32 <= n; i += 32) {
      for (uint32_t j = 0; j < 4; ++j) {
        acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * j), _mm256_loadu_ps(b + i + 8 * j), acc[j]);
      }
    }
    acc[0] = _mm256_add_ps(acc[0], acc[2]);
    acc[1] = _mm256_add_ps(acc[1], acc[3]);
    acc[0] = _mm256_add_ps(acc[0], acc[1]);
    // GGML_F32x8_REDUCE: the two halves, then two horizontal adds.
    __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(acc[0]), _mm256_extractf128_ps(acc[0], 1));
    t4 = _mm_hadd_ps(t4, t4);
    t4 = _mm_hadd_ps(t4, t4);
    sum = _mm_cvtss_f32(t4);
  }
  for (; i < n; ++i) sum += static_cast<double>(a[i] * b[i]);
  return static_cast<float>(sum);
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

// One float operation each: the empty asm keeps the compiler from fusing a product into a following add
// (it contracts a * b + c into a multiply-add under this target, which llama.cpp's build does not do there).
inline float mul(float a, float b) {
  float p = a * b;
  __asm__("" : "+x"(p));
  return p;
}
inline float add(float a, float b) { return a + b; }

// ggml_v_expf, the exponential of llama.cpp's vectorized softmax: x = n ln2 + b with n = round(x / ln2)
// (through the 1.5 * 2^23 shifter) and ln2 in two parts, e^b by a degree-5 polynomial, then scaled by 2^n.
// Its AVX-512 and AVX2 builds evaluate the last steps differently (and so round differently); both are
// here, on 8 lanes. Softmax arguments are <= 0, and exponents below -126 (results under 2^-126, too small
// to change any sum they enter) only need to come out tiny: they are computed in double.
inline __m256 exp_poly(__m256 b, __m256 u, bool with_one) {
  const __m256 hi = _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                                    _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f)));
  const __m256 lo = with_one ? _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f))
                             : _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b);
  return _mm256_fmadd_ps(hi, u, lo);
}
inline __m256 exp_ggml(__m256 x, bool avx512_build) {
  const __m256 shifter = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shifter);
  const __m256 n = _mm256_sub_ps(z, shifter);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = exp_poly(b, u, avx512_build);
  const __m256 abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  // 2^n for |n| <= 126, from the shifter's low bits.
  const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
  const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.0f))));
  // AVX-512: j * 2^n (scalef, one rounding); AVX2: k + k * j.
  const __m256 fast = avx512_build ? _mm256_mul_ps(j, k) : _mm256_fmadd_ps(k, j, k);
  if (_mm256_movemask_ps(_mm256_cmp_ps(abs_n, _mm256_set1_ps(126.0f), _CMP_GT_OQ)) == 0) return fast;
  alignas(32) float xs[8], ns[8], js[8], out[8];
  _mm256_store_ps(xs, x);
  _mm256_store_ps(ns, n);
  _mm256_store_ps(js, j);
  _mm256_store_ps(out, fast);
  for (int i = 0; i < 8; ++i) {
    if (!(std::abs(ns[i]) > 126.0f)) continue;
    if (std::abs(ns[i]) > 192.0f || std::isnan(ns[i])) {
      out[i] = ns[i] <= 0.0f || std::isnan(xs[i]) ? 0.0f : std::numeric_limits<float>::infinity();
    } else {
      const double scaled = std::ldexp(avx512_build ? double(js[i]) : 1.0 + double(js[i]), static_cast<int>(ns[i]));
      out[i] = static_cast<float>(scaled);
    }
  }
  return _mm256_load_ps(out);
}
// The lanes of one register summed as the build reduces it: AVX-512's 16 lanes k + (k + 8), k + (k + 4),
// k + (k + 2), 0 + 1; AVX2's 8 lanes k + (k + 4), k + (k + 2), 0 + 1.
inline float reduce_lanes(__m256 lo, __m256 hi, bool avx512_build) {
  const __m256 v = avx512_build ? _mm256_add_ps(hi, lo) : lo;
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}
inline double softmax_tile(float* sc, int32_t a, int32_t z, float m) {
  static_assert(kKeyTile % 16 == 0, "whole AVX-512 registers");
  const bool wide = ggml_sums_16_lanes();
  for (int32_t j = 0; j < kKeyTile; ++j) {
    if (j < a || j > z) sc[j] = -std::numeric_limits<float>::infinity();  // exp gives 0
  }
  const __m256 mv = _mm256_set1_ps(m);
  double sum = 0.0;
  for (int32_t j = 0; j < kKeyTile; j += 16) {
    const __m256 lo = exp_ggml(_mm256_sub_ps(_mm256_loadu_ps(sc + j), mv), wide);
    const __m256 hi = exp_ggml(_mm256_sub_ps(_mm256_loadu_ps(sc + j + 8), mv), wide);
    _mm256_storeu_ps(sc + j, lo);
    _mm256_storeu_ps(sc + j + 8, hi);
    if (wide) {
      sum += reduce_lanes(lo, hi, true);
    } else {
      sum += reduce_lanes(lo, hi, false);
      sum += reduce_lanes(hi, lo, false);
    }
  }
  return sum;
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
    t.key_end = b.key_end;
    const Buffers buf = carve(scratch.thread_buffer(thread), kv.head_dim, t.n_tokens * heads_per_task);
    (numerics == AttentionNumerics::kF32 ? fn.f32 : fn.f16_accumulate)(kv, b, t, buf);
  });
}

void attention_rows(std::span<const AttentionRow> rows, uint32_t n_head, uint32_t window, AttentionNumerics numerics,
                    tensor::ThreadPool& pool, AttentionScratch& scratch) {
  if (rows.empty()) return;
  const KvLayer& kv0 = *rows[0].kv;
  const uint32_t group = n_head / kv0.n_head_kv;
  const int64_t n_rows = static_cast<int64_t>(rows.size());
  // As in attention(): split a KV head's query heads when (rows x KV heads) would leave threads idle.
  // Heads are computed independently, so the split does not change any result.
  uint32_t n_sub = 1;
  while (n_rows * kv0.n_head_kv * n_sub < 2 * pool.size() && group % (n_sub * 2) == 0) n_sub *= 2;
  const uint32_t heads_per_task = group / n_sub;
  if (scratch.per_thread() < buffer_floats(kv0.head_dim, heads_per_task) || scratch.threads() < pool.size()) {
    scratch.reserve_rows(pool.size(), kv0.head_dim, heads_per_task);
  }
  const int64_t per_row = int64_t{kv0.n_head_kv} * n_sub;
  const Kernels fn = kernels();
  pool.parallel_for(n_rows * per_row, [&](int64_t task, int thread) {
    const AttentionRow& row = rows[static_cast<size_t>(task / per_row)];
    assert(row.kv->n_head_kv == kv0.n_head_kv && row.kv->head_dim == kv0.head_dim);
    AttentionBatch b;
    b.q = row.q;
    b.n_tokens = 1;
    b.pos0 = row.pos;
    b.n_head = n_head;
    b.window = window;
    b.out = row.out;
    Task t;
    t.token = 0;
    t.n_tokens = 1;
    t.kv_head = static_cast<uint32_t>((task % per_row) / n_sub);
    t.n_heads = heads_per_task;
    t.head0 = t.kv_head * group + static_cast<uint32_t>(task % n_sub) * heads_per_task;
    t.last_key = row.pos;
    t.first_key = window == 0 ? 0 : row.pos - static_cast<int32_t>(window) + 1;
    const Buffers buf = carve(scratch.thread_buffer(thread), kv0.head_dim, heads_per_task);
    (numerics == AttentionNumerics::kF32 ? fn.f32 : fn.f16_accumulate)(*row.kv, b, t, buf);
  });
}

void attention_reference(const KvLayer& kv, const AttentionBatch& b) {
  const uint32_t hd = kv.head_dim;
  const uint32_t group = b.n_head / kv.n_head_kv;
  for (int64_t t = 0; t < b.n_tokens; ++t) {
    const int32_t pos = b.pos0 + static_cast<int32_t>(t);
    const int32_t first = b.window == 0 ? 0 : std::max<int32_t>(0, pos - static_cast<int32_t>(b.window) + 1);
    const int32_t last = b.key_end > 0 ? b.key_end - 1 : pos;
    for (uint32_t h = 0; h < b.n_head; ++h) {
      const uint32_t g = h / group;
      const float* q = b.q + (t * b.n_head + h) * hd;
      std::vector<double> s;
      for (int32_t j = first; j <= last; ++j) {
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
        for (int32_t j = first; j <= last; ++j) acc += s[j - first] * half_to_float(kv.v_row(j)[size_t{g} * hd + d]);
        out[d] = static_cast<float>(acc / sum);
      }
    }
  }
}

}  // namespace locus::model
