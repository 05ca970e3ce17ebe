// Checks the tensor formats against llama.cpp itself: its prebuilt libggml-base.so (from the
// node-llama-cpp npm package that scripts/setup installs) is loaded with dlopen and its exported C
// functions are compared with ours, bit for bit, on block geometry, dequantization, reference
// quantization and fp16 / bf16 conversion.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/tensor_type.h"
#include "tensor/blocks.h"
#include "tensor/quantize.h"

namespace locus::tensor {
namespace {

using gguf::ggml_type_info;

constexpr const char* kOracleLibrary =
    LOCUS_TOOLS_DIR "/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so";

using ToFloatFn = void (*)(const void*, float*, int64_t);
using FromFloatFn = void (*)(const float*, void*, int64_t);
using TypeSizeFn = size_t (*)(int);
using BlockSizeFn = int64_t (*)(int);

// The library stays loaded for the whole run; nullptr with a reason when it cannot be.
struct Oracle {
  void* handle = nullptr;
  std::string error;

  static const Oracle& get() {
    static const Oracle oracle = [] {
      Oracle o;
      if (!std::filesystem::exists(kOracleLibrary)) {
        o.error = "absent";
        return o;
      }
      o.handle = dlopen(kOracleLibrary, RTLD_NOW | RTLD_LOCAL);
      if (o.handle == nullptr) o.error = dlerror();
      return o;
    }();
    return oracle;
  }

  template <typename Fn>
  Fn symbol(const std::string& name) const {
    return reinterpret_cast<Fn>(dlsym(handle, name.c_str()));
  }
};

class GgmlOracle : public ::testing::Test {
 protected:
  void SetUp() override {
    const Oracle& oracle = Oracle::get();
    if (oracle.error == "absent") {
      GTEST_SKIP() << "llama.cpp oracle library not found at " << kOracleLibrary
                   << "; run scripts/setup to install the npm tools";
    }
    ASSERT_NE(oracle.handle, nullptr) << "dlopen(" << kOracleLibrary << ") failed: " << oracle.error;
  }
  const Oracle& oracle() const { return Oracle::get(); }
};

std::vector<GgmlType> all_types() {
  std::vector<GgmlType> types;
  for (uint32_t raw = 0; raw < 256; ++raw) {
    if (auto info = ggml_type_info(raw)) types.push_back(info->type);
  }
  return types;
}

std::string type_name(GgmlType type) { return std::string(ggml_type_info(type).name); }

int64_t block_elements(GgmlType type) { return ggml_type_info(type).block_elements; }
size_t block_bytes(GgmlType type) { return ggml_type_info(type).block_bytes; }

std::string hex_bytes(const uint8_t* p, size_t n) {
  std::ostringstream out;
  for (size_t i = 0; i < n; ++i) out << std::hex << std::setw(2) << std::setfill('0') << int{p[i]};
  return out.str();
}

// ---- (a) block geometry ---------------------------------------------------------------------------

TEST_F(GgmlOracle, EveryTypeHasLlamaCppBlockGeometry) {
  const auto type_size = oracle().symbol<TypeSizeFn>("ggml_type_size");
  const auto blck_size = oracle().symbol<BlockSizeFn>("ggml_blck_size");
  ASSERT_NE(type_size, nullptr);
  ASSERT_NE(blck_size, nullptr);
  for (GgmlType type : all_types()) {
    const int raw = static_cast<int>(type);
    EXPECT_EQ(type_size(raw), block_bytes(type)) << type_name(type);
    EXPECT_EQ(blck_size(raw), block_elements(type)) << type_name(type);
  }
}

// ---- (b) dequantization ----------------------------------------------------------------------------

enum class ScaleField { Fp16, F32 };
struct ScaleSlot {
  size_t offset;
  ScaleField kind;
};

// Where each format keeps float scales: random bytes there could be NaN or infinity, which would
// only test NaN propagation, so they get finite values of every magnitude instead. Bytes not
// listed (quants, packed sub-scales, E8M0 / E4M3 scales) stay random.
std::vector<ScaleSlot> scale_slots(GgmlType type) {
  auto half = [](size_t offset) { return ScaleSlot{offset, ScaleField::Fp16}; };
  switch (type) {
    case GgmlType::F16: return {half(0)};
    case GgmlType::Q4_0: return {half(offsetof(BlockQ4_0, d))};
    case GgmlType::Q4_1: return {half(offsetof(BlockQ4_1, d)), half(offsetof(BlockQ4_1, m))};
    case GgmlType::Q5_0: return {half(offsetof(BlockQ5_0, d))};
    case GgmlType::Q5_1: return {half(offsetof(BlockQ5_1, d)), half(offsetof(BlockQ5_1, m))};
    case GgmlType::Q8_0: return {half(offsetof(BlockQ8_0, d))};
    case GgmlType::Q8_1: return {half(offsetof(BlockQ8_1, d)), half(offsetof(BlockQ8_1, s))};
    case GgmlType::Q2_K: return {half(offsetof(BlockQ2_K, d)), half(offsetof(BlockQ2_K, dmin))};
    case GgmlType::Q3_K: return {half(offsetof(BlockQ3_K, d))};
    case GgmlType::Q4_K: return {half(offsetof(BlockQ4_K, d)), half(offsetof(BlockQ4_K, dmin))};
    case GgmlType::Q5_K: return {half(offsetof(BlockQ5_K, d)), half(offsetof(BlockQ5_K, dmin))};
    case GgmlType::Q6_K: return {half(offsetof(BlockQ6_K, d))};
    case GgmlType::Q8_K: return {{offsetof(BlockQ8_K, d), ScaleField::F32}};
    case GgmlType::IQ4_NL: return {half(offsetof(BlockIq4Nl, d))};
    case GgmlType::IQ4_XS: return {half(offsetof(BlockIq4Xs, d))};
    case GgmlType::TQ1_0: return {half(offsetof(BlockTq1_0, d))};
    case GgmlType::TQ2_0: return {half(offsetof(BlockTq2_0, d))};
    case GgmlType::Q1_0: return {half(offsetof(BlockQ1_0, d))};
    case GgmlType::Q2_0: return {half(offsetof(BlockQ2_0, d))};
    default: return {};
  }
}

// A finite half of any magnitude: zeros, subnormals, the largest values, and everything between.
uint16_t finite_half(std::mt19937_64& rng) {
  const uint16_t sign = (rng() & 1) ? 0x8000 : 0;
  const uint16_t mantissa = rng() & 0x3ff;
  switch (rng() % 8) {
    case 0: return sign;                                          // +-0
    case 1: return static_cast<uint16_t>(sign | mantissa);        // subnormal
    case 2: return static_cast<uint16_t>(sign | (30 << 10) | mantissa);  // near 65504
    default: return static_cast<uint16_t>(sign | ((rng() % 30 + 1) << 10) | mantissa);
  }
}

float finite_float(std::mt19937_64& rng) {
  const uint32_t sign = (rng() & 1) ? 0x80000000u : 0;
  const uint32_t exponent = static_cast<uint32_t>(rng() % 255);  // 0 (subnormal) .. 254
  const uint32_t bits = sign | (exponent << 23) | static_cast<uint32_t>(rng() & 0x7fffff);
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

std::vector<uint8_t> random_blocks(GgmlType type, int64_t n_blocks, std::mt19937_64& rng) {
  const size_t bytes = block_bytes(type);
  std::vector<uint8_t> data(static_cast<size_t>(n_blocks) * bytes);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  // Elementwise float types: every element is a "scale".
  if (type == GgmlType::F16) {
    for (size_t i = 0; i < data.size(); i += 2) {
      const uint16_t h = finite_half(rng);
      std::memcpy(&data[i], &h, 2);
    }
    return data;
  }
  if (type == GgmlType::BF16 || type == GgmlType::F32) {
    // Leave the bits random but steer clear of NaN (exponent all ones).
    const size_t width = type == GgmlType::BF16 ? 2 : 4;
    for (size_t i = 0; i < data.size(); i += width) {
      uint8_t& top = data[i + width - 1];
      if ((top & 0x7f) == 0x7f) top &= 0xfe;
    }
    return data;
  }
  for (int64_t b = 0; b < n_blocks; ++b) {
    uint8_t* block = data.data() + b * bytes;
    for (const ScaleSlot& slot : scale_slots(type)) {
      if (slot.kind == ScaleField::Fp16) {
        const uint16_t h = finite_half(rng);
        std::memcpy(block + slot.offset, &h, 2);
      } else {
        const float f = finite_float(rng);
        std::memcpy(block + slot.offset, &f, 4);
      }
    }
  }
  return data;
}

// Q8_1 has no to-float function in ggml; its d and qs decode exactly as Q8_0's.
std::vector<uint8_t> q8_1_as_q8_0(const std::vector<uint8_t>& q8_1) {
  const size_t n_blocks = q8_1.size() / sizeof(BlockQ8_1);
  std::vector<uint8_t> q8_0(n_blocks * sizeof(BlockQ8_0));
  for (size_t b = 0; b < n_blocks; ++b) {
    BlockQ8_1 in;
    std::memcpy(&in, &q8_1[b * sizeof(BlockQ8_1)], sizeof(in));
    BlockQ8_0 out;
    out.d = in.d;
    std::memcpy(out.qs, in.qs, sizeof(out.qs));
    std::memcpy(&q8_0[b * sizeof(BlockQ8_0)], &out, sizeof(out));
  }
  return q8_0;
}

std::string dequantize_symbol(GgmlType type) {
  switch (type) {
    case GgmlType::F16: return "ggml_fp16_to_fp32_row";
    case GgmlType::BF16: return "ggml_bf16_to_fp32_row";
    case GgmlType::Q8_1: return "dequantize_row_q8_0";
    default: return "dequantize_row_" + type_name(type);
  }
}

class GgmlOracleDequantize : public GgmlOracle, public ::testing::WithParamInterface<GgmlType> {};

TEST_P(GgmlOracleDequantize, MatchesLlamaCppBitForBit) {
  const GgmlType type = GetParam();
  ASSERT_TRUE(can_dequantize(type));
  std::mt19937_64 rng(0x5eed0000u + static_cast<uint32_t>(type));
  const int64_t n_blocks = std::max<int64_t>(4096, (1 << 20) / block_elements(type));
  const int64_t n = n_blocks * block_elements(type);
  const std::vector<uint8_t> blocks = random_blocks(type, n_blocks, rng);

  std::vector<float> ours(static_cast<size_t>(n));
  ASSERT_TRUE(dequantize_row(type, blocks.data(), ours.data(), n));
  std::vector<float> theirs(static_cast<size_t>(n), -1.0f);
  if (type == GgmlType::F32) {
    std::memcpy(theirs.data(), blocks.data(), blocks.size());  // ggml's f32 "conversion" is a copy
  } else {
    const auto fn = oracle().symbol<ToFloatFn>(dequantize_symbol(type));
    ASSERT_NE(fn, nullptr) << dequantize_symbol(type);
    const std::vector<uint8_t> input = type == GgmlType::Q8_1 ? q8_1_as_q8_0(blocks) : blocks;
    fn(input.data(), theirs.data(), n);
  }

  if (std::memcmp(ours.data(), theirs.data(), ours.size() * sizeof(float)) != 0) {
    for (int64_t i = 0; i < n; ++i) {
      if (std::memcmp(&ours[i], &theirs[i], sizeof(float)) != 0) {
        const int64_t b = i / block_elements(type);
        FAIL() << type_name(type) << ": element " << i << " (block " << b << ", index "
               << i % block_elements(type) << ") ours " << ours[i] << " llama.cpp " << theirs[i]
               << "\nblock bytes " << hex_bytes(blocks.data() + b * block_bytes(type), block_bytes(type));
      }
    }
  }
}

std::vector<GgmlType> dequantizable_types() {
  std::vector<GgmlType> types;
  for (GgmlType type : all_types()) {
    if (can_dequantize(type)) types.push_back(type);
  }
  return types;
}

std::string param_name(const ::testing::TestParamInfo<GgmlType>& info) { return type_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Types, GgmlOracleDequantize, ::testing::ValuesIn(dequantizable_types()), param_name);

// ---- (c) reference quantization ----------------------------------------------------------------------

enum class Shape {
  Gaussian,
  Uniform,
  Zero,
  Outlier,       // Gaussian plus one value a thousand times larger
  Tiny,          // magnitudes around 1e-8, and some below the formats' all-zero threshold
  Subnormal,     // f32 subnormals
  NegativeOnly,
  PositiveOnly,
  Constant,
  Sparse,        // mostly exact zeros
  SmallIntegers, // k * 2^e: exact ratios, so rounding ties actually occur
  Mixed,         // a different shape for every 16 weights
};
constexpr Shape kShapes[] = {Shape::Gaussian, Shape::Uniform,      Shape::Zero,     Shape::Outlier,
                             Shape::Tiny,     Shape::Subnormal,    Shape::NegativeOnly, Shape::PositiveOnly,
                             Shape::Constant, Shape::Sparse,       Shape::SmallIntegers, Shape::Mixed};

const char* shape_name(Shape shape) {
  switch (shape) {
    case Shape::Gaussian: return "gaussian";
    case Shape::Uniform: return "uniform";
    case Shape::Zero: return "zero";
    case Shape::Outlier: return "outlier";
    case Shape::Tiny: return "tiny";
    case Shape::Subnormal: return "subnormal";
    case Shape::NegativeOnly: return "negative-only";
    case Shape::PositiveOnly: return "positive-only";
    case Shape::Constant: return "constant";
    case Shape::Sparse: return "sparse";
    case Shape::SmallIntegers: return "small-integers";
    case Shape::Mixed: return "mixed";
  }
  return "?";
}

void fill_segment(Shape shape, float* x, int n, std::mt19937_64& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  // Scales over seven decades, so fp16 rounding of the block scales varies.
  const float scale = std::pow(10.0f, std::uniform_real_distribution<float>(-4.0f, 3.0f)(rng));
  switch (shape) {
    case Shape::Gaussian:
      for (int i = 0; i < n; ++i) x[i] = scale * normal(rng);
      break;
    case Shape::Uniform:
      for (int i = 0; i < n; ++i) x[i] = scale * unit(rng);
      break;
    case Shape::Zero:
      for (int i = 0; i < n; ++i) x[i] = 0.0f;
      break;
    case Shape::Outlier:
      for (int i = 0; i < n; ++i) x[i] = scale * normal(rng);
      x[rng() % n] = scale * 1000.0f * ((rng() & 1) ? 1.0f : -1.0f);
      break;
    case Shape::Tiny: {
      const float tiny = (rng() & 1) ? 1e-8f : 1e-17f;
      for (int i = 0; i < n; ++i) x[i] = tiny * normal(rng);
      break;
    }
    case Shape::Subnormal:
      for (int i = 0; i < n; ++i) x[i] = 1e-39f * normal(rng);
      break;
    case Shape::NegativeOnly:
      for (int i = 0; i < n; ++i) x[i] = -scale * std::fabs(normal(rng));
      break;
    case Shape::PositiveOnly:
      for (int i = 0; i < n; ++i) x[i] = scale * std::fabs(normal(rng)) + scale * 0.1f;
      break;
    case Shape::Constant: {
      const float v = scale * normal(rng);
      for (int i = 0; i < n; ++i) x[i] = v;
      break;
    }
    case Shape::Sparse:
      for (int i = 0; i < n; ++i) x[i] = rng() % 8 == 0 ? scale * normal(rng) : 0.0f;
      break;
    case Shape::SmallIntegers: {
      const float unit_step = std::ldexp(1.0f, static_cast<int>(rng() % 12) - 6);
      const int range = 1 + static_cast<int>(rng() % 40);
      for (int i = 0; i < n; ++i) {
        x[i] = unit_step * static_cast<float>(static_cast<int>(rng() % (2 * range + 1)) - range);
      }
      break;
    }
    case Shape::Mixed:
      for (int i = 0; i < n; i += 16) {
        const Shape part = kShapes[rng() % (std::size(kShapes) - 1)];
        fill_segment(part, x + i, std::min(16, n - i), rng);
      }
      break;
  }
}

std::vector<float> make_input(Shape shape, int64_t n, int block, std::mt19937_64& rng) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i += block) {
    fill_segment(shape, x.data() + i, static_cast<int>(std::min<int64_t>(block, n - i)), rng);
  }
  return x;
}

std::string quantize_symbol(GgmlType type) {
  switch (type) {
    case GgmlType::F16: return "ggml_fp32_to_fp16_row";
    case GgmlType::BF16: return "ggml_fp32_to_bf16_row_ref";
    default: return "quantize_row_" + type_name(type) + "_ref";
  }
}

// llama.cpp's IQ4_NL reference does not write the codes of a block below its all-zero threshold
// (they are left over from the previous block, or uninitialized); only its scale (zero) is
// defined there.
size_t defined_bytes(GgmlType type, const float* block_input, int64_t elements) {
  if (type == GgmlType::IQ4_NL) {
    float amax = 0;
    for (int64_t i = 0; i < elements; ++i) amax = std::max(amax, std::fabs(block_input[i]));
    if (amax < 1e-15f) return offsetof(BlockIq4Nl, qs);
  }
  return block_bytes(type);
}

class GgmlOracleQuantize : public GgmlOracle, public ::testing::WithParamInterface<GgmlType> {};

TEST_P(GgmlOracleQuantize, MatchesReferenceQuantizerByteForByte) {
  const GgmlType type = GetParam();
  const auto fn = oracle().symbol<FromFloatFn>(quantize_symbol(type));
  ASSERT_NE(fn, nullptr) << quantize_symbol(type);
  const int64_t elements = block_elements(type);
  const size_t bytes = block_bytes(type);
  // One shape per block (Mixed varies it every 16 weights, so K-quant sub-blocks differ).
  const int segment = static_cast<int>(std::max<int64_t>(elements, 16));
  // An odd block count, so kernels that batch several blocks also run a partial batch.
  const int64_t n_blocks = std::max<int64_t>(64, 65536 / elements) + 3;
  const int64_t n = n_blocks * elements;
  std::mt19937_64 rng(0xfeed0000u + static_cast<uint32_t>(type));

  for (Shape shape : kShapes) {
    for (int round = 0; round < 4; ++round) {
      const std::vector<float> x = make_input(shape, n, segment, rng);
      std::vector<uint8_t> ours(static_cast<size_t>(n_blocks) * bytes, 0);
      std::vector<uint8_t> theirs(ours.size(), 0);
      ASSERT_TRUE(quantize_row(type, x.data(), ours.data(), n));
      fn(x.data(), theirs.data(), n);
      for (int64_t b = 0; b < n_blocks; ++b) {
        const size_t compared = defined_bytes(type, x.data() + b * elements, elements);
        const uint8_t* o = ours.data() + b * bytes;
        const uint8_t* t = theirs.data() + b * bytes;
        if (std::memcmp(o, t, compared) != 0) {
          std::ostringstream input;
          for (int64_t i = 0; i < std::min<int64_t>(elements, 64); ++i) {
            input << std::setprecision(9) << x[static_cast<size_t>(b * elements + i)] << ' ';
          }
          FAIL() << type_name(type) << " on " << shape_name(shape) << " input, block " << b
                 << "\n ours     " << hex_bytes(o, bytes) << "\n llama.cpp " << hex_bytes(t, bytes)
                 << "\n input (first 64): " << input.str();
        }
      }
    }
  }
}

std::vector<GgmlType> quantizable_types() {
  std::vector<GgmlType> types;
  for (GgmlType type : all_types()) {
    if (can_quantize(type) && type != GgmlType::F32) types.push_back(type);
  }
  return types;
}

INSTANTIATE_TEST_SUITE_P(Types, GgmlOracleQuantize, ::testing::ValuesIn(quantizable_types()), param_name);

// ---- (d) fp16 / bf16 conversions ---------------------------------------------------------------------

using HalfToFloatFn = void (*)(const uint16_t*, float*, int64_t);
using FloatToHalfFn = void (*)(const float*, uint16_t*, int64_t);

TEST_F(GgmlOracle, HalfAndBfloat16ToFloatMatchForAllBitPatterns) {
  for (const char* name : {"ggml_fp16_to_fp32_row", "ggml_bf16_to_fp32_row"}) {
    const bool is_bf16 = std::string(name).find("bf16") != std::string::npos;
    const auto fn = oracle().symbol<HalfToFloatFn>(name);
    ASSERT_NE(fn, nullptr) << name;
    std::vector<uint16_t> all(65536);
    for (uint32_t i = 0; i < 65536; ++i) all[i] = static_cast<uint16_t>(i);
    std::vector<float> theirs(65536);
    fn(all.data(), theirs.data(), 65536);
    for (uint32_t i = 0; i < 65536; ++i) {
      const float ours = is_bf16 ? bf16_to_fp32(all[i]) : fp16_to_fp32(all[i]);
      ASSERT_EQ(std::memcmp(&ours, &theirs[i], sizeof(float)), 0)
          << name << " of 0x" << std::hex << i << ": ours " << ours << " llama.cpp " << theirs[i];
    }
  }
}

void expect_float_conversions_match(const Oracle& oracle, const std::vector<float>& x) {
  const auto to_half = oracle.symbol<FloatToHalfFn>("ggml_fp32_to_fp16_row");
  const auto to_bf16 = oracle.symbol<FloatToHalfFn>("ggml_fp32_to_bf16_row_ref");
  ASSERT_NE(to_half, nullptr);
  ASSERT_NE(to_bf16, nullptr);
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint16_t> theirs_half(x.size());
  std::vector<uint16_t> theirs_bf16(x.size());
  to_half(x.data(), theirs_half.data(), n);
  to_bf16(x.data(), theirs_bf16.data(), n);
  for (size_t i = 0; i < x.size(); ++i) {
    if (fp32_to_fp16(x[i]) != theirs_half[i] || fp32_to_bf16(x[i]) != theirs_bf16[i]) {
      uint32_t bits;
      std::memcpy(&bits, &x[i], sizeof(bits));
      FAIL() << "f32 0x" << std::hex << bits << ": fp16 ours " << fp32_to_fp16(x[i]) << " llama.cpp "
             << theirs_half[i] << ", bf16 ours " << fp32_to_bf16(x[i]) << " llama.cpp " << theirs_bf16[i];
    }
  }
}

float from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// Every sign and exponent, with mantissas spread by a prime stride, random ones, and for every bit
// position an exact tie (that bit set, all below clear) with its two neighbours: ties land at
// bit 12 (fp16 normals), 15 (bf16) and higher bits for fp16 subnormals.
TEST_F(GgmlOracle, FloatToHalfAndBfloat16MatchOnEveryExponentAndTie) {
  std::vector<float> x;
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += 4093) x.push_back(from_bits(static_cast<uint32_t>(bits)));
  std::mt19937_64 rng(7);
  for (int i = 0; i < (1 << 20); ++i) x.push_back(from_bits(static_cast<uint32_t>(rng())));
  for (uint32_t sign_exponent = 0; sign_exponent < 512; ++sign_exponent) {
    for (int bit = 0; bit < 23; ++bit) {
      for (int r = 0; r < 8; ++r) {
        const uint32_t above = static_cast<uint32_t>(rng()) & (0x7fffffu << (bit + 1)) & 0x7fffffu;
        const uint32_t tie = (sign_exponent << 23) | above | (1u << bit);
        for (uint32_t t : {tie - 1, tie, tie + 1}) x.push_back(from_bits(t));
      }
    }
  }
  expect_float_conversions_match(oracle(), x);
}

// Every f32 bit pattern (NaNs, infinities, subnormals, every tie); about half a minute, so run on
// request: --gtest_also_run_disabled_tests.
TEST_F(GgmlOracle, DISABLED_FloatToHalfAndBfloat16MatchForAllFloatBitPatterns) {
  constexpr uint32_t kSlice = 1u << 22;
  std::vector<float> x(kSlice);
  for (uint64_t start = 0; start < (uint64_t{1} << 32); start += kSlice) {
    for (uint32_t i = 0; i < kSlice; ++i) x[i] = from_bits(static_cast<uint32_t>(start + i));
    expect_float_conversions_match(oracle(), x);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace locus::tensor
