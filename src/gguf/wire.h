// Internal to src/gguf: the on-disk encoding of GGUF scalars (little-endian, IEEE floats) and layout arithmetic.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

namespace locus::gguf::wire {

// GGUF as written by llama.cpp is little-endian; a big-endian host would need byte swaps everywhere.
static_assert(std::endian::native == std::endian::little, "locus reads GGUF on little-endian hosts only");

constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;            // ggml's GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;           // arrays of arrays, bounded so recursion stays shallow
constexpr uint64_t kMaxArrayItems = 1u << 24;  // all metadata array items in one file, bounding memory

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T>
void store(std::vector<uint8_t>& out, T v) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

// Metadata floats are held as double. Converting a signalling NaN float to double and back quiets it
// on x86, which would change the file's bytes in a round trip, so NaNs move their payload bit for bit.
inline double f32_bits_to_double(uint32_t bits) {
  const uint32_t exponent = (bits >> 23) & 0xffu;
  const uint32_t mantissa = bits & 0x7fffffu;
  if (exponent != 0xffu || mantissa == 0) return static_cast<double>(std::bit_cast<float>(bits));
  const uint64_t sign = uint64_t{bits >> 31} << 63;
  return std::bit_cast<double>(sign | (uint64_t{0x7ff} << 52) | (uint64_t{mantissa} << 29));
}

inline uint32_t double_to_f32_bits(double v) {
  if (v == v) return std::bit_cast<uint32_t>(static_cast<float>(v));
  const uint64_t bits = std::bit_cast<uint64_t>(v);
  uint32_t mantissa = static_cast<uint32_t>((bits >> 29) & 0x7fffffu);
  if (mantissa == 0) mantissa = 0x400000u;  // payload only in the low bits: keep it a NaN, not infinity
  return static_cast<uint32_t>(bits >> 63) << 31 | 0xffu << 23 | mantissa;
}

inline bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Rounds up to a multiple of a power-of-two alignment; nullopt on overflow.
inline std::optional<uint64_t> align_up(uint64_t v, uint64_t alignment) {
  const uint64_t rem = v & (alignment - 1);
  if (rem == 0) return v;
  const uint64_t pad = alignment - rem;
  if (v > UINT64_MAX - pad) return std::nullopt;
  return v + pad;
}

}  // namespace locus::gguf::wire
