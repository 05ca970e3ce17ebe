// Deterministic random values for the weights of a random model. Each (tensor, chunk) pair gets its own
// stream, so the file is the same whatever the thread count.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "model/gemma4_config.h"

namespace locus::mkmodel {

class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  float uniform();   // [0, 1)
  float normal();    // approximately N(0, 1): sum of four uniforms, scaled (cheap, bounded tails)

 private:
  uint64_t s_[4];
};

uint64_t stream_seed(uint64_t seed, std::string_view tensor_name, uint64_t chunk);

// How a tensor's values are drawn, chosen so activations stay O(1) through the layers and the
// attention softmax (scale 1.0 in Gemma 4) is neither flat nor saturated.
struct FillRule {
  enum class Kind { kNormal, kAroundOne, kRopeFreqs } kind = Kind::kNormal;
  float scale = 1.0f;  // standard deviation for kNormal, spread for kAroundOne
  float center = 1.0f; // mean for kAroundOne
};

FillRule fill_rule(const model::TensorSpec& t, const model::Gemma4Config& c);

// Fills `out` with elements [first, first + out.size()) of the tensor; `rng` is the chunk's stream.
void fill(const FillRule& rule, const model::TensorSpec& t, uint64_t first, std::span<float> out, Rng& rng);

}  // namespace locus::mkmodel
