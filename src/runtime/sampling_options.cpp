#include "runtime/sampling_options.h"

#include <cmath>
#include <cstdio>

namespace locus::runtime {

int32_t default_num_ctx(uint64_t vram_bytes) {
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  if (vram_bytes >= 48 * kGiB) return 262144;
  if (vram_bytes >= 24 * kGiB) return 32768;
  return 4096;
}

namespace {

std::string format_float(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::optional<std::string> check_range(const char* name, float value, double lo, double hi,
                                       const char* range_text) {
  if (!std::isfinite(value) || value < lo || value > hi) {
    return std::string(name) + " must be in " + range_text + ", got " + format_float(value);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> validate(const SamplingOptions& o) {
  if (!std::isfinite(o.temperature) || o.temperature < 0.0f) {
    return "temperature must be a number >= 0 (0 = greedy), got " + format_float(o.temperature);
  }
  if (auto e = check_range("top_p", o.top_p, 0.0, 1.0, "[0, 1]")) return e;
  if (auto e = check_range("min_p", o.min_p, 0.0, 1.0, "[0, 1]")) return e;
  if (!std::isfinite(o.typical_p) || o.typical_p <= 0.0f || o.typical_p > 1.0f) {
    return "typical_p must be in (0, 1] (1 = off), got " + format_float(o.typical_p);
  }
  if (o.repeat_last_n < -1) {
    return "repeat_last_n must be >= -1 (0 = off, -1 = whole context), got " + std::to_string(o.repeat_last_n);
  }
  if (!std::isfinite(o.repeat_penalty) || o.repeat_penalty <= 0.0f) {
    return "repeat_penalty must be a number > 0 (1 = off), got " + format_float(o.repeat_penalty);
  }
  if (!std::isfinite(o.presence_penalty)) {
    return "presence_penalty must be a finite number, got " + format_float(o.presence_penalty);
  }
  if (!std::isfinite(o.frequency_penalty)) {
    return "frequency_penalty must be a finite number, got " + format_float(o.frequency_penalty);
  }
  if (o.num_ctx < 0) return "num_ctx must be >= 0 (0 = the engine's default), got " + std::to_string(o.num_ctx);
  if (o.num_keep < -1) return "num_keep must be >= -1 (-1 = the whole prompt), got " + std::to_string(o.num_keep);
  if (o.num_batch < 1) return "num_batch must be >= 1, got " + std::to_string(o.num_batch);
  return std::nullopt;
}

}  // namespace locus::runtime
