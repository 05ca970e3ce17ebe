// Random weights and activations for the kernel and matmul tests, and the error bound they use.
#pragma once

#include <cstdint>
#include <vector>

#include "gguf/tensor_type.h"
#include "tensor/cpu_features.h"

namespace locus::tensor::testing {

using gguf::GgmlType;

// n values from N(0, 1), every 32 of them scaled by a factor between 1/16 and 16 so block scales vary.
std::vector<float> activations(int64_t n, uint64_t seed);

// n_rows rows of n values of `type`. raw_bytes: random block bytes (every bit pattern of quants and
// sub-scales, with finite fp16 scales); else Gaussian weights quantized with quantize_row.
std::vector<uint8_t> weights(GgmlType type, int64_t n_rows, int64_t n, uint64_t seed, bool raw_bytes);

// The weight types with a dot-product kernel in the scalar table (and so in every level's).
std::vector<GgmlType> kernel_types();

// Levels this CPU and build support, scalar first.
std::vector<SimdLevel> supported_levels();

// Bound for comparing two float evaluations of the same dot product that differ in summation order:
// rel * sum |w_i x_i| computed from the dequantized weight row and activation row (converted for `type`).
double sum_abs_products(GgmlType type, const uint8_t* w_row, const uint8_t* act, int64_t n);

}  // namespace locus::tensor::testing
