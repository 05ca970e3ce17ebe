// The matmul kernel table: for each weight type, how activations are converted (act_format.h) and the
// dot-product kernels that read the stored weights in place. Each SIMD level registers its kernels from
// its own file, compiled with that level's target flags; a level inherits every kernel it does not
// provide from the level below (scalar at the bottom), so a table is always complete. Tests run every
// kernel of every supported level against the scalar one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/tensor_type.h"
#include "tensor/act_format.h"
#include "tensor/cpu_features.h"

namespace locus::tensor::kernels {

using gguf::GgmlType;

// Enough slots for every GgmlType value.
inline constexpr int kTypeSlots = 64;

// Tokens one gemv call handles at once (weights decoded once, dotted with each).
inline constexpr int kMaxGemvTokens = 4;

// One f32 row of n values to the activation format of act_format.h at dst (64-byte aligned).
using QuantizeActFn = void (*)(const float* x, uint8_t* dst, int64_t n);

// y[t * y_stride + r] = dot(weight row r, activation row t) for r < n_rows and t < n_tok, with
// 1 <= n_tok <= kMaxGemvTokens. Weight row r starts at w + r * w_row_bytes (the stored layout), activation
// row t at act + t * act_row_bytes.
using GemvFn = void (*)(const uint8_t* w, size_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
                        size_t act_row_bytes, int n_tok, float* y, int64_t y_stride);

// Products with many tokens: a panel of up to `panel_rows` weight rows is repacked (per thread, into
// scratch) into a layout where one vector holds a few weights of every row, then dotted with any number
// of tokens. Activations come from quantize_act (in element order, ActOrder::kNatural, whatever the gemv
// kernels use) with their int8 quants then stored biased (q + 128, as uint8), which matmul does before
// calling compute.
struct GemmKernels {
  int panel_rows = 0;                     // 0: none; matmul uses gemv for every token count
  int min_tokens = 0;                     // below this many tokens gemv is faster (packing costs)
  QuantizeActFn quantize_act = nullptr;   // set by the registry
  size_t (*panel_bytes)(int64_t n) = nullptr;
  void (*pack)(const uint8_t* w, size_t w_row_bytes, int n_rows, int64_t n, uint8_t* panel) = nullptr;
  // y[t * y_stride + r] for r < n_rows, t < n_tok.
  void (*compute)(const uint8_t* panel, int64_t n, const uint8_t* act, size_t act_row_bytes, int64_t n_tok,
                  float* y, int64_t y_stride, int n_rows) = nullptr;
};

struct TypeKernels {
  GgmlType act_type = GgmlType::F32;  // llama.cpp's vec_dot_type for the weight type
  ActOrder act_order = ActOrder::kNatural;
  QuantizeActFn quantize_act = nullptr;
  GemvFn gemv = nullptr;              // nullptr: matmul falls back to dequantizing rows
  GemmKernels gemm;
};

struct ActQuantizers {
  QuantizeActFn q8_0 = nullptr, q8_0_quad = nullptr;  // q8_0_quad: ActOrder::kQuad
  QuantizeActFn q8_1 = nullptr, q8_k = nullptr, q8_k_k4 = nullptr;  // q8_k_k4: ActOrder::kK4
  QuantizeActFn f16 = nullptr, bf16 = nullptr, f32 = nullptr;
};

struct KernelSet {
  SimdLevel level = SimdLevel::kScalar;
  ActQuantizers act;
  TypeKernels types[kTypeSlots];
  TypeKernels& operator[](GgmlType t) { return types[static_cast<int>(t)]; }
  const TypeKernels& operator[](GgmlType t) const { return types[static_cast<int>(t)]; }
};

// The complete table of a supported level (built on first use).
const KernelSet& kernel_set(SimdLevel level);

// The kernels matmul uses for a weight type now (active_simd_level()); gemv is nullptr for types
// without a dot-product kernel.
const TypeKernels& active_kernels(GgmlType type);

// The f32 values an activation row stands for (quants times scales), for reference products and the
// fallback for weight types without a dot-product kernel.
void dequantize_act(GgmlType act_type, ActOrder order, const uint8_t* act, int64_t n, float* out);

// Registration, one function per level file. Each overwrites the entries it implements.
void register_scalar(KernelSet& set);
void register_avx2(KernelSet& set);    // kernels_avx2*.cpp; a no-op where not compiled
void register_avx512(KernelSet& set);  // kernels_avx512*.cpp
void register_neon(KernelSet& set);    // kernels_neon.cpp (AArch64 only)

}  // namespace locus::tensor::kernels
