#include "random_fill.h"

#include <cmath>

namespace locus::mkmodel {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next() {  // xoshiro256+
  const uint64_t result = s_[0] + s_[3];
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

float Rng::uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }

float Rng::normal() {
  // Four 16-bit uniforms from one draw: their sum has variance 4/12, so scale by sqrt(3).
  const uint64_t r = next();
  const float sum = static_cast<float>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48));
  return (sum * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

uint64_t stream_seed(uint64_t seed, std::string_view tensor_name, uint64_t chunk) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the name
  for (char ch : tensor_name) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ull;
  }
  uint64_t x = seed ^ h;
  uint64_t a = splitmix64(x);
  x = a ^ (chunk * 0xD1B54A32D192ED03ull);
  return splitmix64(x);
}

FillRule fill_rule(const model::TensorSpec& t, const model::Gemma4Config& c) {
  using model::TensorRole;
  using Kind = FillRule::Kind;
  switch (t.role) {
    case TensorRole::kRopeFreqs:
      return {Kind::kRopeFreqs};
    case TensorRole::kNorm:
      return {Kind::kAroundOne, 0.1f, 1.0f};
    case TensorRole::kQkNorm: {
      // Scores are q.k with scale 1: weights near hd^-1/4 keep their spread near 1.
      const float w = 1.0f / std::sqrt(std::sqrt(static_cast<float>(t.shape[0])));
      return {Kind::kAroundOne, 0.2f * w, w};
    }
    case TensorRole::kScale:
      return {Kind::kAroundOne, 0.1f, 0.9f};
    case TensorRole::kTokenEmbedding:
    case TensorRole::kPerLayerEmbedding:
      return {Kind::kNormal, 1.0f / std::sqrt(static_cast<float>(t.shape[0]))};
    default:
      // Projections keep the variance of their input: std 1/sqrt(fan-in) = 1/sqrt(row length).
      (void)c;
      return {Kind::kNormal, 1.0f / std::sqrt(static_cast<float>(t.shape[0]))};
  }
}

void fill(const FillRule& rule, const model::TensorSpec& t, uint64_t first, std::span<float> out, Rng& rng) {
  switch (rule.kind) {
    case FillRule::Kind::kNormal:
      for (float& v : out) v = rng.normal() * rule.scale;
      break;
    case FillRule::Kind::kAroundOne:
      for (float& v : out) v = rule.center + (rng.uniform() * 2.0f - 1.0f) * rule.scale;
      break;
    case FillRule::Kind::kRopeFreqs: {
      // Proportional RoPE: the first quarter of the full-layer frequency pairs rotate (factor 1),
      // the rest get a huge divisor so their angle is ~0, as the converter writes it.
      const uint64_t n_pairs = t.shape[0];
      const uint64_t n_rot = static_cast<uint64_t>(static_cast<double>(n_pairs) * 2 * 0.25 / 2);
      for (size_t i = 0; i < out.size(); ++i) out[i] = (first + i) < n_rot ? 1.0f : 1e30f;
      break;
    }
  }
}

}  // namespace locus::mkmodel
