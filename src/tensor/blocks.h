// Block layouts of the quantized ggml weight formats, byte for byte as stored in GGUF files.
// Every struct is one block: a run of `kElements` weights sharing scales. Fields holding an
// IEEE half are plain uint16_t bits (decoded with fp16_to_fp32); all multi-byte fields are
// little-endian, which is the only byte order this project runs on.
//
// Where a layout packs values non-obviously (interleaved nibbles, split scale bits) the comment
// gives the element order, since every kernel must agree on it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace locus::tensor {

// Weights per K-quant super-block.
inline constexpr int kSuperBlock = 256;

// ---- Legacy formats: 32 weights per block, one scale (and maybe a min). -----------------------
// Element j < 16 sits in the low nibble of qs[j], element j + 16 in its high nibble.

// w = d * (q - 8), q in [0, 15].
struct BlockQ4_0 {
  static constexpr int kElements = 32;
  uint16_t d;
  uint8_t qs[16];
};

// w = d * q + m, q in [0, 15].
struct BlockQ4_1 {
  static constexpr int kElements = 32;
  uint16_t d;
  uint16_t m;
  uint8_t qs[16];
};

// w = d * (q - 16), q in [0, 31]: low 4 bits as in Q4_0, bit 4 of element j is bit j of qh
// (qh read as one little-endian uint32).
struct BlockQ5_0 {
  static constexpr int kElements = 32;
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};

// w = d * q + m, q in [0, 31], bits laid out as in Q5_0.
struct BlockQ5_1 {
  static constexpr int kElements = 32;
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};

// w = d * q, q a signed byte.
struct BlockQ8_0 {
  static constexpr int kElements = 32;
  uint16_t d;
  int8_t qs[32];
};

// Q8_0 plus s = d * sum(q), which lets dot products against Q4_1/Q5_1 fold in the min.
struct BlockQ8_1 {
  static constexpr int kElements = 32;
  uint16_t d;
  uint16_t s;
  int8_t qs[32];
};

// ---- K-quants: 256-weight super-blocks of 16 or 32-weight sub-blocks whose scales are
// themselves quantized against one or two fp16 super-scales. ----------------------------------

// 2-bit, 16 sub-blocks of 16: w = d * (scales[s] & 15) * q - dmin * (scales[s] >> 4).
// qs: in each 128-weight half, byte l (0..31) holds the weights l, l+32, l+64, l+96 at bit
// offsets 0, 2, 4, 6.
struct BlockQ2_K {
  static constexpr int kElements = kSuperBlock;
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d;
  uint16_t dmin;
};

// 3-bit, 16 sub-blocks of 16, symmetric: w = d * (sc[s] - 32) * (q - 4).
// Low 2 bits of q as in Q2_K; the high bit of weight j is bit (j / 32) of hmask[j % 32].
// The 16 six-bit scales: low nibbles of sc[0..7] in scales[0..7] low, sc[8..15] in scales[0..7]
// high; the top 2 bits of sc[s] at bit 2 * (s / 4) of scales[8 + s % 4].
struct BlockQ3_K {
  static constexpr int kElements = kSuperBlock;
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};

// 4-bit, 8 sub-blocks of 32: w = d * sc[s] * q - dmin * mn[s], q in [0, 15].
// Six-bit sc/mn packed in 12 bytes: for s < 4, sc in scales[s] and mn in scales[s + 4] (low 6
// bits); for s >= 4, the low nibbles in scales[s + 4] (sc low, mn high) and the top 2 bits in
// bits 6..7 of scales[s - 4] (sc) and scales[s] (mn).
// qs: each 64-weight chunk takes 32 bytes, first 32 weights in the low nibbles.
struct BlockQ4_K {
  static constexpr int kElements = kSuperBlock;
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};

// 5-bit, as Q4_K with q in [0, 31]; bit 4 of weight 64 * c + j (j < 32) is bit 2c of qh[j], and
// of weight 64 * c + 32 + j bit 2c + 1.
struct BlockQ5_K {
  static constexpr int kElements = kSuperBlock;
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};

// 6-bit, 16 sub-blocks of 16, symmetric: w = d * scales[s] * (q - 32).
// In each 128-weight half (64 ql bytes, 32 qh bytes), for l < 32: weights l and l+64 take the
// low/high nibble of ql[l], weights l+32 and l+96 of ql[l+32]; qh[l] holds their top 2 bits at
// offsets 0 (l), 2 (l+32), 4 (l+64), 6 (l+96).
struct BlockQ6_K {
  static constexpr int kElements = kSuperBlock;
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};

// Activation-side format for K-quant dot products: f32 scale, signed bytes, and the sum of each
// 16 quants precomputed.
struct BlockQ8_K {
  static constexpr int kElements = kSuperBlock;
  float d;
  int8_t qs[256];
  int16_t bsums[16];
};

// ---- Non-linear and float-4 formats. ------------------------------------------------------------

// 4-bit indices into kIq4nlValues: w = d * kIq4nlValues[q]. Nibble order as in Q4_0.
struct BlockIq4Nl {
  static constexpr int kElements = 32;
  uint16_t d;
  uint8_t qs[16];
};

// IQ4_NL over 8 sub-blocks of 32 with six-bit sub-scales: w = d * (ls[s] - 32) * kIq4nlValues[q].
// ls[s]: low nibble from scales_l[s / 2] (low nibble for even s), top 2 bits at bit 2s of
// scales_h. Each sub-block's 16 qs bytes are ordered as in Q4_0.
struct BlockIq4Xs {
  static constexpr int kElements = kSuperBlock;
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};

// OCP microscaling FP4: E2M1 values with one E8M0 (power of two) scale per 32.
// w = 2^(e - 127) * e2m1(q); nibble order as in Q4_0.
struct BlockMxfp4 {
  static constexpr int kElements = 32;
  uint8_t e;
  uint8_t qs[16];
};

// NVIDIA FP4: E2M1 values with an unsigned E4M3 scale per 16. Four sub-blocks; sub-block s takes
// qs[8s .. 8s+7], element j < 8 in the low nibble of qs[8s + j], element j + 8 in the high one.
struct BlockNvfp4 {
  static constexpr int kElements = 64;
  uint8_t d[4];
  uint8_t qs[32];
};

// ---- Ternary and sub-2-bit formats. -------------------------------------------------------------

// Ternary q in {-1, 0, 1}, w = d * q, packed base 3 at 5 trits per byte (3^5 = 243 < 256) as a
// fixed-point fraction, byte = ceil(v * 256 / 243) for the base-3 number v, so that trit n (most
// significant first) is (((byte * 3^n) mod 256) * 3) >> 8 without any division.
// qs[m], m < 32, holds weights m + 32n (n = 0..4); qs[32 + m], m < 16, weights 160 + m + 16n;
// qh[j] holds weights 240 + j + 4n (n = 0..3) in its top four trits.
struct BlockTq1_0 {
  static constexpr int kElements = kSuperBlock;
  uint8_t qs[48];
  uint8_t qh[4];
  uint16_t d;
};

// Ternary stored as 2 bits (q + 1): byte m of each 32-byte group holds weights m + 32n at bit 2n.
struct BlockTq2_0 {
  static constexpr int kElements = kSuperBlock;
  uint8_t qs[64];
  uint16_t d;
};

// Sign bits: w = +d if bit j (of qs[j / 8], from the low bit) is set, else -d.
struct BlockQ1_0 {
  static constexpr int kElements = 128;
  uint16_t d;
  uint8_t qs[16];
};

// 2-bit codes c in [0, 3], w = d * (c - 1); weight j at bit 2 * (j % 4) of qs[j / 4].
struct BlockQ2_0 {
  static constexpr int kElements = 64;
  uint16_t d;
  uint8_t qs[16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIq4Nl) == 18);
static_assert(sizeof(BlockIq4Xs) == 136);
static_assert(sizeof(BlockMxfp4) == 17);
static_assert(sizeof(BlockNvfp4) == 36);
static_assert(sizeof(BlockTq1_0) == 54);
static_assert(sizeof(BlockTq2_0) == 66);
static_assert(sizeof(BlockQ1_0) == 18);
static_assert(sizeof(BlockQ2_0) == 18);

// The 16 levels of IQ4_NL / IQ4_XS, a non-uniform grid fitted to normally distributed weights.
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// E2M1 (FP4) values doubled so they are integers: codes 0..7 are +{0, .5, 1, 1.5, 2, 3, 4, 6},
// 8..15 the same negated. Scales are halved to compensate.
inline constexpr int8_t kE2m1DoubledValues[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

}  // namespace locus::tensor
