// Which SIMD kernels this CPU can run, and which ones the kernels actually use. The x86 variants are
// compiled in separate files with their own target flags and chosen at run time, so one binary runs
// everywhere; NEON is chosen at compile time (every AArch64 CPU has it).
#pragma once

namespace locus::tensor {

// Ordered: a level includes everything below it on the same architecture.
enum class SimdLevel : int {
  kScalar = 0,  // portable C++, the reference every other level is tested against
  kNeon = 1,    // AArch64 Advanced SIMD (with the dot-product extension when compiled for it)
  kAvx2 = 2,    // x86-64 AVX2 + FMA + F16C
  kAvx512 = 3,  // AVX-512 F/BW/VL + VNNI (Ice Lake, Zen 4 and later); BF16 used where present
};

const char* simd_level_name(SimdLevel level);

// Whether this build has kernels for the level and this CPU can run them.
bool simd_level_supported(SimdLevel level);

// The best supported level (LOCUS_SIMD=scalar|avx2|avx512|neon in the environment lowers it, for
// comparisons; an unsupported request is ignored).
SimdLevel best_simd_level();

// The level matmul uses now: best_simd_level() unless set_simd_level() chose another.
SimdLevel active_simd_level();

// For tests and benchmarks. Returns false (and changes nothing) for an unsupported level. Not safe
// while another thread is inside matmul.
bool set_simd_level(SimdLevel level);

// x86 sub-feature: AVX-512 BF16 (vdpbf16ps) for BF16 weights.
bool cpu_has_avx512_bf16();

}  // namespace locus::tensor
