#include "tensor/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace locus::tensor {
namespace {

#if defined(__x86_64__) || defined(__i386__)
bool cpu_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool cpu_avx512() {
  __builtin_cpu_init();
  return cpu_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}
#endif

SimdLevel detect() {
  SimdLevel best = SimdLevel::kScalar;
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_avx2()) best = SimdLevel::kAvx2;
  if (cpu_avx512()) best = SimdLevel::kAvx512;
#elif defined(__ARM_NEON) && defined(__aarch64__)
  best = SimdLevel::kNeon;
#endif
  if (const char* env = std::getenv("LOCUS_SIMD")) {
    for (SimdLevel l : {SimdLevel::kScalar, SimdLevel::kNeon, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
      if (std::strcmp(env, simd_level_name(l)) == 0 && static_cast<int>(l) <= static_cast<int>(best) &&
          simd_level_supported(l)) {
        best = l;
      }
    }
  }
  return best;
}

std::atomic<int> g_active{-1};

}  // namespace

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar: return "scalar";
    case SimdLevel::kNeon: return "neon";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "?";
}

bool simd_level_supported(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar: return true;
#if defined(__x86_64__) || defined(__i386__)
    case SimdLevel::kAvx2: return cpu_avx2();
    case SimdLevel::kAvx512: return cpu_avx512();
    case SimdLevel::kNeon: return false;
#elif defined(__ARM_NEON) && defined(__aarch64__)
    case SimdLevel::kNeon: return true;
    default: return false;
#else
    default: return false;
#endif
  }
  return false;
}

bool cpu_has_avx512_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return cpu_avx512() && __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

SimdLevel best_simd_level() {
  static const SimdLevel best = detect();
  return best;
}

SimdLevel active_simd_level() {
  const int l = g_active.load(std::memory_order_relaxed);
  return l < 0 ? best_simd_level() : static_cast<SimdLevel>(l);
}

bool set_simd_level(SimdLevel level) {
  if (!simd_level_supported(level)) return false;
  g_active.store(static_cast<int>(level), std::memory_order_relaxed);
  return true;
}

}  // namespace locus::tensor
