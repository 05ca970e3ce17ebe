// Scalar arithmetic shared by the (de)quantization kernels: half and bfloat16 conversion, and the
// exact rounding rules llama.cpp's reference quantizers use. Inline because they sit in per-weight
// loops; bit-exactness with llama.cpp depends on every one of them.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace locus::tensor {

inline uint32_t float_bits(float f) { return std::bit_cast<uint32_t>(f); }
inline float bits_float(uint32_t bits) { return std::bit_cast<float>(bits); }

inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24 is exact in f32.
    return bits_float(sign | float_bits(static_cast<float>(mantissa) * 0x1p-24f));
  }
  if (exponent == 31) {
    // Infinity, or NaN with its payload kept and the quiet bit set, as ggml's conversion does.
    const uint32_t quiet = mantissa != 0 ? 0x00400000u : 0u;
    return bits_float(sign | 0x7f800000u | quiet | (mantissa << 13));
  }
  return bits_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// Round to nearest even. NaN becomes the canonical quiet NaN (sign kept), as in ggml.
inline uint16_t float_to_half(float f) {
  const uint32_t bits = float_bits(f);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);
  // 65520 is halfway between 65504 (largest half) and 65536; ties go to the even side, infinity.
  if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
  if (magnitude < 0x38800000u) {
    // Below 2^-14 the result is subnormal: adding 0.5 puts the value where the f32 ulp is 2^-24,
    // the half subnormal step, so the FPU's own round-to-nearest-even produces the mantissa.
    const uint32_t steps = float_bits(bits_float(magnitude) + 0.5f) - float_bits(0.5f);
    return static_cast<uint16_t>(sign | steps);
  }
  // Normal: drop 13 mantissa bits rounding to nearest even (a carry may bump the exponent, which
  // is right), then rebias the exponent from 127 to 15.
  const uint32_t rounded = magnitude + 0xfffu + ((magnitude >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - (112u << 23)) >> 13));
}

inline float bf16_bits_to_float(uint16_t h) { return bits_float(uint32_t{h} << 16); }

// Round to nearest even; NaN keeps its top payload bits and is made quiet.
inline uint16_t float_to_bf16_bits(float f) {
  const uint32_t bits = float_bits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// Nearest integer, ties to even, for |x| < 2^22 (what the K-quant and IQ reference quantizers
// use). Adding 1.5 * 2^23 leaves no fraction bits, so the addition itself rounds; unlike lrintf
// this compiles to two integer ops after one add and vectorizes.
inline int round_nearest_even(float x) {
  const float shifted = x + 12582912.0f;
  return static_cast<int>(float_bits(shifted) & 0x007fffffu) - 0x00400000;
}

// The same rounding with the result left as a float (exact: an integer below 2^22), for search
// loops that go on computing in float; saves two conversions and lets clamps be float min/max.
inline float round_nearest_even_as_float(float x) { return (x + 12582912.0f) - 12582912.0f; }

// Clamp written as max-then-min, which maps onto the SIMD min/max instructions (std::clamp's
// comparisons compile to compare-and-blend sequences).
inline float clamp_float(float v, float lo, float hi) { return std::min(std::max(v, lo), hi); }

// C's (int)x as compiled for x86-64 (cvttss2si): truncation toward zero, and INT_MIN for NaN and
// values out of int range. The reference quantizers do reach that case: when a block's largest
// magnitude is subnormal, 1 / scale overflows to infinity and every quant comes from it.
inline int truncate_to_int(float x) {
  return std::fabs(x) < 2147483648.0f ? static_cast<int>(x) : std::numeric_limits<int>::min();
}

// (int)roundf(x): ties away from zero, out of range as truncate_to_int. Exact without a libm
// call: x - trunc(x) is exact, so the tie test is too.
inline int round_half_away(float x) {
  if (!(std::fabs(x) < 2147483648.0f)) return std::numeric_limits<int>::min();
  const int truncated = static_cast<int>(x);
  const float fraction = x - static_cast<float>(truncated);
  return truncated + (fraction >= 0.5f ? 1 : 0) - (fraction <= -0.5f ? 1 : 0);
}

// The C conversions (int8_t)f and (uint8_t)f of the reference quantizers: to int, keep the low byte.
inline int8_t truncate_to_int8(float x) { return static_cast<int8_t>(truncate_to_int(x)); }
inline uint8_t truncate_to_uint8(float x) { return static_cast<uint8_t>(truncate_to_int(x)); }

}  // namespace locus::tensor
