// The element-wise pieces of the Gemma 4 forward pass: RMSNorm, GELU-gated MLP activation, NEOX RoPE and
// the final logit softcap. Each is computed the way llama.cpp's CPU backend computes it (same float
// operations in the same order, same intermediate roundings), because parity with llama.cpp is the test:
//  - RMSNorm sums the squares in double, takes the mean as a float, and scales by 1/sqrtf(mean + eps).
//  - GELU goes through ggml's f16 lookup table: the input is rounded to f16 and the result is the f16 value
//    of the tanh approximation at that point (inputs beyond +-10 short-cut to x or 0), 1 + a*x^2 fused
//    into one multiply-add as the compiler contracts it in ggml's build.
//  - RoPE angles come from theta_scale = powf(base, -2/n_rot) applied by repeated float multiplication,
//    divided by the per-pair frequency factor (proportional RoPE on full layers); the rotation fuses the
//    x0 products into multiply-adds as ggml's build does.
//  - The softcap multiplies by the float 1/cap, takes tanhf, multiplies by cap.
#pragma once

#include <cstdint>

namespace locus::model {

// y = x / sqrt(mean(x^2) + eps) * w over n values; w may be null (weightless norm). y may alias x.
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

// The tanh-approximation GELU in float (ggml_gelu_f32's formula).
float gelu_tanh_f32(float x);
// GELU as ggml's CPU backend applies it to f32 data (through the f16 table).
float gelu_like_ggml(float x);
// out[i] = gelu(gate[i]) * up[i]; out may alias gate or up.
void geglu(const float* gate, const float* up, float* out, int64_t n);

// The cos/sin pairs of one position: cache[2i] = cos(theta_i), cache[2i+1] = sin(theta_i) for the
// n_rot/2 rotated pairs. freq_factors (n_rot/2 values) may be null.
void rope_angles(int32_t pos, int n_rot, float base, const float* freq_factors, float* cache);
// Rotates one head in place, NEOX pairing (i, i + n_rot/2) for i < n_rot/2; dims >= n_rot are untouched.
void rope_neox(float* head, int n_rot, const float* cache);

// x = cap * tanh(x / cap) over n values (cap > 0).
void softcap(float* x, int64_t n, float cap);

}  // namespace locus::model
