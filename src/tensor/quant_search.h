// Scale searches of the K-quant reference quantizers: for a group of weights, try a grid of
// candidate scales, quantize with each, and keep the one whose least-squares refit errs least.
// They reproduce llama.cpp's make_qkx2_quants and make_qx_quants (rmse_type 1, no importance
// weights) bit for bit: every float operation of every sum happens in llama.cpp's order. Speed
// comes from running the searches of many sub-blocks side by side in the inner loop, which gives
// each its own accumulation chain and lets the compiler vectorize across them without reordering
// any single sum.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "tensor/quant_math.h"

namespace locus::tensor {

// Groups whose largest magnitude is below this are treated as all zero.
inline constexpr float kGroupMaxEps = 1e-15f;

// Weights of kGroups groups of kN, stored transposed: x[i][g] is weight i of group g. The search
// runs every group's arithmetic in lockstep, group g in lane g: each group is computed exactly as
// llama.cpp computes it alone (same operations, same order), but the inner loops over groups have
// no dependencies, so they vectorize and hide float latency. Decisions become per-lane selects.
template <int kN, int kGroups>
using GroupedWeights = float[kN][kGroups];

// Transposes `groups` consecutive groups of kN weights into lanes; lanes past them are zero (a
// zero group is valid input whose result is simply not used).
template <int kN, int kGroups>
void load_groups(const float* x, int groups, GroupedWeights<kN, kGroups>& lanes) {
  for (int g = 0; g < kGroups; ++g) {
    for (int i = 0; i < kN; ++i) lanes[i][g] = g < groups ? x[kN * g + i] : 0.0f;
  }
}

// make_qkx2_quants: fits x ~ scale * L - the_min per group, L in [0, nmax], the_min >= 0 (a group
// that is all positive gets no offset). After the initial guess (the value range mapped onto
// [0, nmax]), candidates map it onto nmax + rmin + rdelta * k, k = 0..kSteps, keeping a candidate
// whose least-squares refit has smaller w-weighted error (squared, or absolute when kAbsError).
// A winner also moves the offset the next candidates start from, so candidates run in order.
template <int kN, int kGroups, int kSteps, bool kAbsError>
void fit_affine(const GroupedWeights<kN, kGroups>& x, const GroupedWeights<kN, kGroups>& w, int nmax, float rmin,
                float rdelta, uint8_t (&L)[kN][kGroups], float (&scale)[kGroups], float (&the_min)[kGroups]) {
  const auto error_of = [](float diff) { return kAbsError ? std::fabs(diff) : diff * diff; };
  // Levels are kept as floats (exact small integers): that is how they enter every sum.
  const float top = static_cast<float>(nmax);
  float min[kGroups];
  float max[kGroups];
  float sum_w[kGroups];
  float sum_x[kGroups];
  for (int g = 0; g < kGroups; ++g) {
    min[g] = x[0][g];
    max[g] = x[0][g];
    sum_w[g] = w[0][g];
    sum_x[g] = sum_w[g] * x[0][g];
  }
  for (int i = 1; i < kN; ++i) {
    for (int g = 0; g < kGroups; ++g) {
      min[g] = x[i][g] < min[g] ? x[i][g] : min[g];
      max[g] = x[i][g] > max[g] ? x[i][g] : max[g];
      sum_w[g] += w[i][g];
      sum_x[g] += w[i][g] * x[i][g];
    }
  }
  // A flat group (max == min after clamping min to <= 0) gets all-zero levels; its lanes compute
  // garbage below that is replaced at the end.
  bool flat[kGroups];
  for (int g = 0; g < kGroups; ++g) {
    min[g] = min[g] > 0 ? 0 : min[g];
    flat[g] = max[g] == min[g];
  }

  // The levels of the best candidate so far are recomputed at the end from the inverse scale and
  // offset that produced them, rather than copied on every win.
  float best_iscale[kGroups];
  float best_shift[kGroups];
  float best_error[kGroups];
  for (int g = 0; g < kGroups; ++g) {
    best_iscale[g] = static_cast<float>(nmax) / (max[g] - min[g]);
    best_shift[g] = min[g];
    scale[g] = 1 / best_iscale[g];
    best_error[g] = 0;
  }
  for (int i = 0; i < kN; ++i) {
    for (int g = 0; g < kGroups; ++g) {
      const float l = clamp_float(round_nearest_even_as_float(best_iscale[g] * (x[i][g] - min[g])), 0.0f, top);
      best_error[g] += w[i][g] * error_of(scale[g] * l + min[g] - x[i][g]);
    }
  }

  for (int step = 0; step <= kSteps; ++step) {
    float iscale[kGroups];
    float sum_l[kGroups] = {};
    float sum_l2[kGroups] = {};
    float sum_xl[kGroups] = {};
    float levels[kN][kGroups];
    for (int g = 0; g < kGroups; ++g) {
      iscale[g] = (rmin + rdelta * static_cast<float>(step) + static_cast<float>(nmax)) / (max[g] - min[g]);
    }
    for (int i = 0; i < kN; ++i) {
      for (int g = 0; g < kGroups; ++g) {
        const float l = clamp_float(round_nearest_even_as_float(iscale[g] * (x[i][g] - min[g])), 0.0f, top);
        levels[i][g] = l;
        const float wl = w[i][g] * l;
        sum_l[g] += wl;
        sum_l2[g] += wl * l;
        sum_xl[g] += wl * x[i][g];
      }
    }
    // Weighted least squares for scale and offset given the levels; an offset the format cannot
    // store (positive min) falls back to a scale-only fit.
    float trial_scale[kGroups];
    float trial_min[kGroups];
    bool solvable[kGroups];
    for (int g = 0; g < kGroups; ++g) {
      const float det = sum_w[g] * sum_l2[g] - sum_l[g] * sum_l[g];
      solvable[g] = det > 0;
      const float s = (sum_w[g] * sum_xl[g] - sum_x[g] * sum_l[g]) / det;
      const float m = (sum_l2[g] * sum_x[g] - sum_l[g] * sum_xl[g]) / det;
      trial_scale[g] = m > 0 ? sum_xl[g] / sum_l2[g] : s;
      trial_min[g] = m > 0 ? 0.0f : m;
    }
    float error[kGroups] = {};
    for (int i = 0; i < kN; ++i) {
      for (int g = 0; g < kGroups; ++g) {
        error[g] += w[i][g] * error_of(trial_scale[g] * levels[i][g] + trial_min[g] - x[i][g]);
      }
    }
    for (int g = 0; g < kGroups; ++g) {
      const bool better = !flat[g] && solvable[g] && error[g] < best_error[g];
      best_iscale[g] = better ? iscale[g] : best_iscale[g];
      best_shift[g] = better ? min[g] : best_shift[g];
      best_error[g] = better ? error[g] : best_error[g];
      scale[g] = better ? trial_scale[g] : scale[g];
      min[g] = better ? trial_min[g] : min[g];
    }
  }

  for (int i = 0; i < kN; ++i) {
    for (int g = 0; g < kGroups; ++g) {
      const int l = std::clamp(round_nearest_even(best_iscale[g] * (x[i][g] - best_shift[g])), 0, nmax);
      L[i][g] = static_cast<uint8_t>(flat[g] ? 0 : l);
    }
  }
  for (int g = 0; g < kGroups; ++g) {
    scale[g] = flat[g] ? 0.0f : scale[g];
    the_min[g] = -min[g];
  }
}

// make_qx_quants with rmse_type 1: fits x ~ scale * (L - nmax) per group, L - nmax in
// [-nmax, nmax - 1], weighting each error by x^2 so the large weights that dominate a dot product
// come out most accurate. The value of largest magnitude goes to -nmax; candidates scale it to
// -(nmax + k / 10), k = -9..9, and are independent of each other. A group whose largest magnitude
// is below kGroupMaxEps gets scale 0 and levels 0.
template <int kN, int kGroups>
void fit_symmetric(const GroupedWeights<kN, kGroups>& x, int nmax, int8_t (&L)[kN][kGroups], float (&scale)[kGroups]) {
  float amax[kGroups] = {};
  float max[kGroups] = {};
  for (int i = 0; i < kN; ++i) {
    for (int g = 0; g < kGroups; ++g) {
      const bool larger = std::fabs(x[i][g]) > amax[g];
      amax[g] = larger ? std::fabs(x[i][g]) : amax[g];
      max[g] = larger ? x[i][g] : max[g];
    }
  }

  const float low = static_cast<float>(-nmax);
  const float high = static_cast<float>(nmax - 1);
  float best_iscale[kGroups];
  float best[kGroups];
  // The plain guess first, then llama.cpp's order of candidates.
  constexpr int kCandidates[] = {0, -9, -8, -7, -6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  for (int k : kCandidates) {
    float iscale[kGroups];
    for (int g = 0; g < kGroups; ++g) {
      iscale[g] = k == 0 ? static_cast<float>(-nmax) / max[g]
                         : -(static_cast<float>(nmax) + 0.1f * static_cast<float>(k)) / max[g];
    }
    float sum_lx[kGroups] = {};
    float sum_l2[kGroups] = {};
    for (int i = 0; i < kN; ++i) {
      for (int g = 0; g < kGroups; ++g) {
        const float l = clamp_float(round_nearest_even_as_float(iscale[g] * x[i][g]), low, high);
        const float w = x[i][g] * x[i][g];
        sum_lx[g] += w * x[i][g] * l;
        sum_l2[g] += w * l * l;
      }
    }
    for (int g = 0; g < kGroups; ++g) {
      if (k == 0) {
        scale[g] = sum_l2[g] != 0.0f ? sum_lx[g] / sum_l2[g] : 0.0f;
        best[g] = scale[g] * sum_lx[g];
        best_iscale[g] = iscale[g];
      } else {
        const bool better = sum_l2[g] > 0 && sum_lx[g] * sum_lx[g] > best[g] * sum_l2[g];
        const float s = sum_lx[g] / sum_l2[g];
        scale[g] = better ? s : scale[g];
        best[g] = better ? s * sum_lx[g] : best[g];
        best_iscale[g] = better ? iscale[g] : best_iscale[g];
      }
    }
  }

  for (int i = 0; i < kN; ++i) {
    for (int g = 0; g < kGroups; ++g) {
      const int l = std::clamp(round_nearest_even(best_iscale[g] * x[i][g]), -nmax, nmax - 1) + nmax;
      L[i][g] = static_cast<int8_t>(amax[g] < kGroupMaxEps ? 0 : l);
    }
  }
  for (int g = 0; g < kGroups; ++g) scale[g] = amax[g] < kGroupMaxEps ? 0.0f : scale[g];
}

}  // namespace locus::tensor
