// Matmul kernels at the shapes of the 12B Gemma 4 model (3840 wide, FFN 15360, vocabulary 262,144).
//
// Gemv (one token, generation): weight bytes streamed per second. Each benchmark rotates through enough
// copies of the matrix that none stays in cache, as in a real forward pass over 7 GB of weights. The
// "decode_tok/s" counter divides the rate by the bytes one token reads in the whole model of that type
// (perf-baseline.md: 7.37 GB Q4_K_M, 6.96 GB Q4_0, 12.65 GB Q8_0); it ignores everything but matmuls.
//
// Gemm (512 tokens, prompt processing): multiply-adds per second as GFLOP/s (2 per weight and token),
// and "prompt_tok/s", the rate divided by the 2 x 10.9 G flops a token takes in the 12B model's layers
// (the output head runs for the last token only).
//
// Arguments: threads, then the SIMD level (0 scalar, 2 avx2, 3 avx512). Example:
//   matmul_bench --benchmark_filter='Gemv/q4_K' --benchmark_min_time=2
#include <benchmark/benchmark.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <sys/mman.h>

#include <atomic>
#include <cstring>
#include <new>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gguf/tensor_type.h"
#include "tensor/cpu_features.h"
#include "tensor/kernel_test_data.h"
#include "tensor/matmul.h"

namespace {

using locus::gguf::GgmlType;
using namespace locus::tensor;

constexpr double kLayerFlopsPerToken = 2 * 10.9e9;

double model_bytes(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0: return 6.96e9;
    case GgmlType::Q8_0: return 12.65e9;
    default: return 7.37e9;  // Q4_K_M (Q4_K and Q6_K tensors)
  }
}

// Anonymous memory on transparent huge pages where the kernel gives them, as the model's weights are
// held (gguf::GgufFile::load_resident).
class HugeBytes {
 public:
  explicit HugeBytes(size_t n) : len_((n + kHuge - 1) / kHuge * kHuge + kHuge) {
    void* p = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    base_ = static_cast<uint8_t*>(p);
    data_ = base_ + (kHuge - reinterpret_cast<uintptr_t>(base_) % kHuge) % kHuge;
#ifdef MADV_HUGEPAGE
    madvise(data_, len_ - kHuge, MADV_HUGEPAGE);
#endif
  }
  HugeBytes(const HugeBytes&) = delete;
  HugeBytes& operator=(const HugeBytes&) = delete;
  ~HugeBytes() { munmap(base_, len_); }
  uint8_t* data() const { return data_; }

 private:
  static constexpr size_t kHuge = size_t{2} << 20;
  size_t len_;
  uint8_t* base_;
  uint8_t* data_;
};

// Copies of one random matrix, enough to exceed the last-level cache several times over.
struct Weights {
  GgmlType type;
  int64_t n_in, n_out;
  uint64_t row_bytes;
  std::vector<std::unique_ptr<HugeBytes>> copies;
  MatrixView view(size_t i) const { return {type, copies[i % copies.size()]->data(), n_in, n_out, row_bytes}; }
};

const Weights& weights(GgmlType type, int64_t n_in, int64_t n_out, bool cached = false) {
  static std::vector<std::unique_ptr<Weights>> cache;
  for (const auto& w : cache) {
    if (w->type == type && w->n_in == n_in && w->n_out == n_out && (w->copies.size() == 1) == cached) return *w;
  }
  auto w = std::make_unique<Weights>();
  w->type = type, w->n_in = n_in, w->n_out = n_out;
  w->row_bytes = *locus::gguf::ggml_row_bytes(type, static_cast<uint64_t>(n_in));
  const uint64_t bytes = w->row_bytes * static_cast<uint64_t>(n_out);
  const uint64_t want = 256ull << 20;
  const size_t n_copies = bytes >= want || cached ? 1 : static_cast<size_t>((want + bytes - 1) / bytes);
  for (size_t i = 0; i < n_copies; ++i) {
    const std::vector<uint8_t> bytes_i = testing::weights(type, n_out, n_in, 1 + i, true);
    w->copies.push_back(std::make_unique<HugeBytes>(bytes_i.size()));
    std::memcpy(w->copies.back()->data(), bytes_i.data(), bytes_i.size());
  }
  cache.push_back(std::move(w));
  return *cache.back();
}

ThreadPool& pool(int threads) {
  static ThreadPool p1(1), p2(2);
  return threads == 1 ? p1 : p2;
}

bool use_level(benchmark::State& state, int64_t level_arg) {
  const auto level = static_cast<SimdLevel>(level_arg);
  if (!set_simd_level(level)) {
    state.SkipWithError("SIMD level not supported here");
    return false;
  }
  state.SetLabel(simd_level_name(level));
  return true;
}

// cached: one copy of about 384 KiB per thread, which stays in L2: the kernel's compute ceiling.
void gemv(benchmark::State& state, GgmlType type, int64_t n_in, int64_t n_out, bool cached) {
  const int threads = static_cast<int>(state.range(0));
  if (!use_level(state, state.range(1))) return;
  if (cached) {
    n_out = threads * (384 << 10) / static_cast<int64_t>(*locus::gguf::ggml_row_bytes(type, static_cast<uint64_t>(n_in)));
  }
  const Weights& w = weights(type, n_in, n_out, cached);
  const std::vector<float> x = testing::activations(n_in, 3);
  std::vector<float> y(static_cast<size_t>(n_out));
  MatmulScratch scratch;
  size_t i = 0;
  for (auto _ : state) {
    matmul(w.view(i++), x.data(), 1, y.data(), pool(threads), scratch);
    benchmark::DoNotOptimize(y.data());
  }
  const double bytes = static_cast<double>(w.row_bytes) * static_cast<double>(n_out);
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["decode_tok/s"] =
      benchmark::Counter(bytes / model_bytes(type), benchmark::Counter::kIsIterationInvariantRate);
}

void gemm(benchmark::State& state, GgmlType type, int64_t n_in, int64_t n_out) {
  constexpr int64_t kTokens = 512;
  const int threads = static_cast<int>(state.range(0));
  if (!use_level(state, state.range(1))) return;
  const Weights& w = weights(type, n_in, n_out);
  const std::vector<float> x = testing::activations(kTokens * n_in, 3);
  std::vector<float> y(static_cast<size_t>(kTokens * n_out));
  MatmulScratch scratch;
  size_t i = 0;
  for (auto _ : state) {
    matmul(w.view(i++), x.data(), kTokens, y.data(), pool(threads), scratch);
    benchmark::DoNotOptimize(y.data());
  }
  const double flops = 2.0 * static_cast<double>(n_in) * static_cast<double>(n_out) * kTokens;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["prompt_tok/s"] =
      benchmark::Counter(flops / kLayerFlopsPerToken, benchmark::Counter::kIsIterationInvariantRate);
}

// The machine's read bandwidth for reference: threads sum disjoint halves of a 1 GiB buffer.
#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t sum_bytes(const uint8_t* p, size_t n) {
  __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
  for (size_t i = 0; i + 64 <= n; i += 64) {
    acc0 = _mm256_add_epi64(acc0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    acc1 = _mm256_add_epi64(acc1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
  }
  acc0 = _mm256_add_epi64(acc0, acc1);
  return static_cast<uint64_t>(_mm256_extract_epi64(acc0, 0) + _mm256_extract_epi64(acc0, 3));
}
#else
uint64_t sum_bytes(const uint8_t* p, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i < n; i += 8) s += *reinterpret_cast<const uint64_t*>(p + i);
  return s;
}
#endif

void read_bandwidth(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  constexpr size_t kBytes = 1ull << 30;
  static HugeBytes buf(kBytes);
  static bool filled = false;
  if (!filled) {
    for (size_t i = 0; i < kBytes; ++i) buf.data()[i] = static_cast<uint8_t>(i * 7);
    filled = true;
  }
  uint64_t sink = 0;
  for (auto _ : state) {
    std::atomic<uint64_t> total{0};
    pool(threads).parallel_for(64, [&](int64_t task, int) {
      total += sum_bytes(buf.data() + task * (kBytes / 64), kBytes / 64);
    });
    sink += total.load();
  }
  benchmark::DoNotOptimize(sink);
  state.counters["GB/s"] = benchmark::Counter(kBytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  benchmark::RegisterBenchmark("ReadBandwidth", read_bandwidth)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
  const std::vector<int64_t> levels = {3, 2};
  struct Shape {
    const char* name;
    GgmlType type;
    int64_t n_in, n_out;
  };
  const Shape gemv_shapes[] = {
      {"q4_K/3840x15360", GgmlType::Q4_K, 3840, 15360}, {"q4_K/15360x3840", GgmlType::Q4_K, 15360, 3840},
      {"q5_K/3840x15360", GgmlType::Q5_K, 3840, 15360}, {"q6_K/3840x15360", GgmlType::Q6_K, 3840, 15360},
      {"q6_K/3840x262144", GgmlType::Q6_K, 3840, 262144}, {"q4_0/3840x15360", GgmlType::Q4_0, 3840, 15360},
      {"q4_0/15360x3840", GgmlType::Q4_0, 15360, 3840}, {"q8_0/3840x15360", GgmlType::Q8_0, 3840, 15360},
      {"q8_0/15360x3840", GgmlType::Q8_0, 15360, 3840}, {"f16/3840x3840", GgmlType::F16, 3840, 3840},
      {"bf16/3840x3840", GgmlType::BF16, 3840, 3840}, {"f32/3840x3840", GgmlType::F32, 3840, 3840},
  };
  for (bool cached : {false, true}) {
    for (const Shape& s : gemv_shapes) {
      auto* b = benchmark::RegisterBenchmark((std::string(cached ? "GemvL2/" : "Gemv/") + s.name).c_str(),
                                             [s, cached](benchmark::State& st) { gemv(st, s.type, s.n_in, s.n_out, cached); });
      for (int64_t level : levels) {
        for (int64_t threads : {1, 2}) b->Args({threads, level});
      }
      b->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
  }
  const Shape gemm_shapes[] = {
      {"q4_K/3840x15360", GgmlType::Q4_K, 3840, 15360}, {"q6_K/3840x15360", GgmlType::Q6_K, 3840, 15360},
      {"q4_0/3840x15360", GgmlType::Q4_0, 3840, 15360}, {"q8_0/3840x15360", GgmlType::Q8_0, 3840, 15360},
      {"q5_K/3840x15360", GgmlType::Q5_K, 3840, 15360}, {"f16/3840x3840", GgmlType::F16, 3840, 3840},
  };
  for (const Shape& s : gemm_shapes) {
    auto* b = benchmark::RegisterBenchmark((std::string("Gemm512/") + s.name).c_str(),
                                           [s](benchmark::State& st) { gemm(st, s.type, s.n_in, s.n_out); });
    for (int64_t level : levels) {
      for (int64_t threads : {1, 2}) b->Args({threads, level});
    }
    b->UseRealTime()->Unit(benchmark::kMillisecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  std::printf("best SIMD level here: %s\n", simd_level_name(best_simd_level()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
