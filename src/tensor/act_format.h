// Activation rows as the matmul kernels read them: one token's f32 row converted to the partner type
// llama.cpp pairs with the weight type (vec_dot_type), with the same values llama.cpp computes, but laid
// out for SIMD: the int8 quants of a row contiguous and 64-byte aligned, the per-block scales and sums in
// their own arrays after them. Scratch only; never stored.
//
//   q8_0 / q8_1 (32-blocks): qs[n] | d[n/32] f32 | nsum[n/32] i32 | (q8_1) s[n/32] f32
//   q8_K (256-blocks):       qs[n] | d[n/256] f32 | bsums[n/16] i16 | sum32[n/32] i16
//   f16, bf16:               n uint16
//   f32:                     n float
//
// d is the scale as llama.cpp uses it: for q8_0/q8_1 the value of the fp16 it stores (so rounded), for
// q8_K the f32. nsum is minus the sum of the block's quants (what offset formats like Q4_0 subtract, ready
// to seed an integer accumulator), s is q8_1's fp16 d*sum as a float, bsums are q8_K's sums of 16 and
// sum32 the sums of 32 (what Q4_K and Q5_K multiply their sub-block mins with). All sums are over
// values in element order, whatever order the quants are stored in.
//
// The quants are stored in element order except where a weight format packs nibbles so that whole
// vectors of them line up with a permutation of the activations; storing the activations permuted the
// same way saves shuffles in the kernels:
//   kK4 (Q4_K, Q5_K): a 64-byte run of qs holds elements 0-31 and 64-95 in its low nibbles, 32-63 and
//     96-127 in the high ones, so in each 128 quants the 32-quant quarters are stored as 0, 2, 1, 3.
//   kQuad (Q4_0, IQ4_NL): four 32-blocks A-D have their elements 0-15 in the low nibbles and 16-31 in
//     the high ones, so each whole 128 quants are stored as A0-15 B0-15 C0-15 D0-15 A16-31 ... D16-31
//     (a trailing part of fewer than 128 stays in element order).
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/tensor_type.h"

namespace locus::tensor {

inline constexpr size_t kActAlign = 64;

// static: the SIMD files include this header too (see kernels_x86.h).
static inline constexpr size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

enum class ActOrder : uint8_t {
  kNatural,
  kK4,    // per 128 quants, quarters stored 0, 2, 1, 3
  kQuad,  // per whole 128 quants, the 16-quant halves of four 32-blocks grouped by half
};

// Where element i of a row of n is stored.
static inline int64_t act_position(ActOrder order, int64_t i, int64_t n) {
  switch (order) {
    case ActOrder::kNatural: return i;
    case ActOrder::kK4: {
      static constexpr int64_t kQuarter[4] = {0, 2, 1, 3};
      return (i & ~int64_t{127}) | kQuarter[(i >> 5) & 3] << 5 | (i & 31);
    }
    case ActOrder::kQuad:
      if ((i | 127) >= n) return i;
      return (i & ~int64_t{127}) | (i & 16) << 2 | (i & 0x60) >> 1 | (i & 15);
  }
  return i;
}

struct ActLayout {
  size_t d_offset = 0;     // f32 scales
  size_t sum_offset = 0;   // i32 nsum (q8_0/q8_1) or i16 bsums (q8_K)
  size_t sum32_offset = 0; // i16 sums of 32 (q8_K)
  size_t s_offset = 0;     // f32 (q8_1)
  size_t row_bytes = 0;    // stride between tokens, a multiple of kActAlign
};

// Layout of one row of n values of the activation type `act` (one of Q8_0, Q8_1, Q8_K, F16, BF16, F32).
static inline ActLayout act_layout(gguf::GgmlType act, int64_t n) {
  const size_t un = static_cast<size_t>(n);
  ActLayout l;
  switch (act) {
    case gguf::GgmlType::Q8_0:
    case gguf::GgmlType::Q8_1: {
      const size_t nb = un / 32;
      l.d_offset = align_up(un, kActAlign);
      l.sum_offset = l.d_offset + align_up(4 * nb, kActAlign);
      l.s_offset = l.sum_offset + align_up(4 * nb, kActAlign);
      l.row_bytes = act == gguf::GgmlType::Q8_1 ? l.s_offset + align_up(4 * nb, kActAlign) : l.s_offset;
      break;
    }
    case gguf::GgmlType::Q8_K: {
      l.d_offset = align_up(un, kActAlign);
      l.sum_offset = l.d_offset + align_up(4 * (un / 256), kActAlign);
      l.sum32_offset = l.sum_offset + align_up(2 * (un / 16), kActAlign);
      l.row_bytes = l.sum32_offset + align_up(2 * (un / 32), kActAlign);
      break;
    }
    case gguf::GgmlType::F16:
    case gguf::GgmlType::BF16: l.row_bytes = align_up(2 * un, kActAlign); break;
    default: l.row_bytes = align_up(4 * un, kActAlign); break;
  }
  return l;
}

// Typed pointers into one q8_K activation row: read by the dot kernels, written by the converters.
struct Q8KAct {
  const int8_t* qs;
  const float* d;
  const int16_t* bsums;
  const int16_t* sum32;
};
inline Q8KAct q8k_act(const uint8_t* act, int64_t n) {
  const ActLayout l = act_layout(gguf::GgmlType::Q8_K, n);
  return {reinterpret_cast<const int8_t*>(act), reinterpret_cast<const float*>(act + l.d_offset),
          reinterpret_cast<const int16_t*>(act + l.sum_offset), reinterpret_cast<const int16_t*>(act + l.sum32_offset)};
}
struct Q8KActOut {
  int8_t* qs;
  float* d;
  int16_t* bsums;
  int16_t* sum32;
};
inline Q8KActOut q8k_act_out(uint8_t* act, int64_t n) {
  const ActLayout l = act_layout(gguf::GgmlType::Q8_K, n);
  return {reinterpret_cast<int8_t*>(act), reinterpret_cast<float*>(act + l.d_offset),
          reinterpret_cast<int16_t*>(act + l.sum_offset), reinterpret_cast<int16_t*>(act + l.sum32_offset)};
}

}  // namespace locus::tensor
