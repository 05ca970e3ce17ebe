// Shared by the x86 SIMD kernel files only (each compiled with its own target flags). Everything here
// has internal linkage, so no copy compiled for one ISA can stand in for another's at link time.
#pragma once

// GCC 12.2 reports -W(maybe-)uninitialized inside several AVX-512 intrinsics (their "undefined" source
// operand; GCC bug 105593, fixed in 12.3). Off for the SIMD files only.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "tensor/act_format.h"
#include "tensor/kernels.h"

namespace locus::tensor::kernels {

// Per-file registration, called by register_avx2 / register_avx512.
void register_avx2_act(KernelSet& set);
void register_avx2_gemv(KernelSet& set);
void register_avx512_act(KernelSet& set);
void register_avx512_gemv_k(KernelSet& set);
void register_avx512_gemv_legacy(KernelSet& set);
void register_avx512_gemv_float(KernelSet& set);
void register_avx512_bf16(KernelSet& set);
void register_avx512_gemm(KernelSet& set);

namespace {

inline TypeKernels& slot(KernelSet& set, GgmlType t) { return set.types[static_cast<int>(t)]; }

inline uint16_t load_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// The GEMV kernels stream weights from RAM once per token. The hardware prefetchers stop at every 4 KiB
// page edge, so each kernel also asks, as it reads a block, for the bytes kPrefetchAhead further on: the
// memory system then always has the next pages in flight (about +20% of bandwidth on one thread here).
// Into L2 only: in L1 the weights would evict the activations, which rows 15360 wide barely fit (the
// FFN down projection ran 35% slower with L1 prefetches).
inline constexpr size_t kPrefetchAhead = 6144;
inline void prefetch_ahead(const void* block, size_t bytes) {
  const char* p = static_cast<const char*>(block) + kPrefetchAhead;
  for (size_t i = 0; i < bytes; i += 64) _mm_prefetch(p + i, _MM_HINT_T1);
}

// A GEMV entry point (kernels.h) from a kernel templated on the token count: K<NT>::run for NT = 1..4.
static_assert(kMaxGemvTokens == 4);
template <template <int> class K>
void dispatch_nt(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                 size_t act_row_bytes, int n_tok, float* y, int64_t y_stride) {
  switch (n_tok) {
    case 1: return K<1>::run(w, w_row_bytes, n_rows, n, act, act_row_bytes, y, y_stride);
    case 2: return K<2>::run(w, w_row_bytes, n_rows, n, act, act_row_bytes, y, y_stride);
    case 3: return K<3>::run(w, w_row_bytes, n_rows, n, act, act_row_bytes, y, y_stride);
    default: return K<4>::run(w, w_row_bytes, n_rows, n, act, act_row_bytes, y, y_stride);
  }
}

// Views of one activation row (act_format.h).
struct Q8Act {
  const int8_t* qs;
  const float* d;
  const int32_t* sum;  // minus each block's sum (act_format.h)
  const float* s;
};
inline Q8Act q8_act(const uint8_t* act, int64_t n, GgmlType type) {
  const ActLayout l = act_layout(type, n);
  return {reinterpret_cast<const int8_t*>(act), reinterpret_cast<const float*>(act + l.d_offset),
          reinterpret_cast<const int32_t*>(act + l.sum_offset), reinterpret_cast<const float*>(act + l.s_offset)};
}


// Q4_K / Q5_K packed six-bit scales and mins (blocks.h) as bytes: out[0..1] = sc[0..7], out[2..3] = m[0..7].
inline void unpack_k4_scales(const uint8_t* packed, uint32_t out[4]) {
  uint32_t u0, u1, u2;
  std::memcpy(&u0, packed, 4);
  std::memcpy(&u1, packed + 4, 4);
  std::memcpy(&u2, packed + 8, 4);
  out[0] = u0 & 0x3f3f3f3fu;
  out[1] = (u2 & 0x0f0f0f0fu) | ((u0 >> 2) & 0x30303030u);
  out[2] = u1 & 0x3f3f3f3fu;
  out[3] = ((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 2) & 0x30303030u);
}

}  // namespace
}  // namespace locus::tensor::kernels
