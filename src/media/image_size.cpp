// The two size rules for Gemma 4's vision projector, and fit_image (gemma4.md section 8.2).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "media/media.h"

namespace locus::media {
namespace {

constexpr int kLadder[] = {70, 140, 280, 560, 1120};

void check_picture_size(int width, int height, const char* who) {
  if (width < 1 || height < 1) {
    throw MediaError(std::string(who) + ": the picture is " + std::to_string(width) + "x" + std::to_string(height) +
                     "; expected at least 1x1");
  }
}

void check_image(const Image& in, const char* who) {
  check_picture_size(in.width, in.height, who);
  if (in.rgb.size() != static_cast<size_t>(in.width) * static_cast<size_t>(in.height) * 3) {
    throw MediaError(std::string(who) + ": the picture is " + std::to_string(in.width) + "x" +
                     std::to_string(in.height) + " but holds " + std::to_string(in.rgb.size()) +
                     " bytes; expected width * height * 3");
  }
}

}  // namespace

Size google_size(int width, int height, int max_soft_tokens) {
  check_picture_size(width, height, "google_size");
  if (std::find(std::begin(kLadder), std::end(kLadder), max_soft_tokens) == std::end(kLadder)) {
    throw MediaError("the image token budget is " + std::to_string(max_soft_tokens) +
                     "; Google's size rule takes 70, 140, 280, 560 or 1120");
  }
  // Google's processor, step by step in double precision as its Python does: 16-pixel patches pooled 3x3, so a
  // budget of max_soft_tokens * 9 patches of 256 pixels and sides in multiples of 48.
  const int64_t max_patches = int64_t{max_soft_tokens} * 9;
  const double target_px = static_cast<double>(max_patches * 256);
  const double total_px = static_cast<double>(int64_t{width} * int64_t{height});
  const double factor = std::sqrt(target_px / total_px);
  const double ideal_h = factor * height;
  const double ideal_w = factor * width;
  int64_t h = static_cast<int64_t>(std::floor(ideal_h / kPatch)) * kPatch;
  int64_t w = static_cast<int64_t>(std::floor(ideal_w / kPatch)) * kPatch;
  // A side that rounds to nothing (aspect ratios beyond the budget): one patch row or column, and the other side
  // floor(ratio) patches, at most the budget's worth.
  const int64_t max_side = (max_patches / 9) * kPatch;
  if (h == 0 && w == 0) {
    // Not reachable with the ladder (it needs a budget under one patch); kept as the processor keeps it.
    throw MediaError("google_size: a " + std::to_string(width) + "x" + std::to_string(height) +
                     " picture resizes to 0x0");
  }
  if (h == 0) {
    h = kPatch;
    w = std::min(static_cast<int64_t>(std::floor(static_cast<double>(width) / height)) * kPatch, max_side);
  } else if (w == 0) {
    w = kPatch;
    h = std::min(static_cast<int64_t>(std::floor(static_cast<double>(height) / width)) * kPatch, max_side);
  }
  return Size{static_cast<int>(w), static_cast<int>(h)};
}

Size llama_cpp_size(int width, int height, int min_tokens, int max_tokens) {
  check_picture_size(width, height, "llama_cpp_size");
  if (min_tokens < 1 || max_tokens < min_tokens || max_tokens > 1 << 20) {
    throw MediaError("llama_cpp_size: the token range is " + std::to_string(min_tokens) + ".." +
                     std::to_string(max_tokens) + "; expected 1 <= min <= max <= 1048576");
  }
  // llama.cpp's smart resize (mtmd-image.cpp, calc_size_preserved_ratio), in single precision as it computes it:
  // round each side to a multiple of 48 (at least 48), then scale down with floor when over max_pixels or up
  // with ceil when under min_pixels. Products are 64-bit here (llama.cpp's int overflows past 46340 x 46340).
  const int64_t min_pixels = int64_t{min_tokens} * kPatch * kPatch;
  const int64_t max_pixels = int64_t{max_tokens} * kPatch * kPatch;
  const auto by = [](float x, float (*op)(float)) {
    return static_cast<int64_t>(op(x / static_cast<float>(kPatch))) * kPatch;
  };
  const auto round_f = [](float x) { return std::round(x); };
  const auto ceil_f = [](float x) { return std::ceil(x); };
  const auto floor_f = [](float x) { return std::floor(x); };
  int64_t w = std::max<int64_t>(kPatch, by(static_cast<float>(width), round_f));
  int64_t h = std::max<int64_t>(kPatch, by(static_cast<float>(height), round_f));
  if (w * h > max_pixels) {
    const float beta =
        std::sqrt(static_cast<float>(height) * static_cast<float>(width) / static_cast<float>(max_pixels));
    h = std::max<int64_t>(kPatch, by(static_cast<float>(height) / beta, floor_f));
    w = std::max<int64_t>(kPatch, by(static_cast<float>(width) / beta, floor_f));
  } else if (w * h < min_pixels) {
    const float beta =
        std::sqrt(static_cast<float>(min_pixels) / (static_cast<float>(height) * static_cast<float>(width)));
    h = by(static_cast<float>(height) * beta, ceil_f);
    w = by(static_cast<float>(width) * beta, ceil_f);
  }
  // Where a side is held at one patch (aspect ratios past about max_tokens:1), llama.cpp's rule gives more than
  // max_tokens patches along the other side; that side is cut to the budget here.
  int64_t cols = std::max<int64_t>(1, w / kPatch);
  int64_t rows = std::max<int64_t>(1, h / kPatch);
  if (cols * rows > max_tokens) {
    if (rows <= cols) {
      cols = std::max<int64_t>(1, max_tokens / rows);
    } else {
      rows = std::max<int64_t>(1, max_tokens / cols);
    }
  }
  return Size{static_cast<int>(cols * kPatch), static_cast<int>(rows * kPatch)};
}

Image fit_image(const Image& in, SizeRule rule, int max_tokens) {
  check_image(in, "fit_image");
  if (rule == SizeRule::kGoogle) {
    const Size s = google_size(in.width, in.height, max_tokens);
    return resize_bicubic(in, s.width, s.height);
  }
  if (max_tokens < 70 || max_tokens > 1120) {
    throw MediaError("the image token budget is " + std::to_string(max_tokens) +
                     "; llama.cpp's size rule takes 70 to 1120");
  }
  const Size s = llama_cpp_size(in.width, in.height, 70, max_tokens);
  if (s.width == in.width && s.height == in.height) return in;
  // Letterbox (llama.cpp's PAD_CEIL): scale to fit inside, sides rounded up, centred on black.
  const float scale = std::min(static_cast<float>(s.width) / static_cast<float>(in.width),
                               static_cast<float>(s.height) / static_cast<float>(in.height));
  const int nw = std::min(static_cast<int>(std::ceil(static_cast<float>(in.width) * scale)), s.width);
  const int nh = std::min(static_cast<int>(std::ceil(static_cast<float>(in.height) * scale)), s.height);
  const Image r = resize_bicubic(in, nw, nh);
  Image out;
  out.width = s.width;
  out.height = s.height;
  out.rgb.assign(static_cast<size_t>(s.width) * static_cast<size_t>(s.height) * 3, 0);
  const int ox = (s.width - nw) / 2;
  const int oy = (s.height - nh) / 2;
  for (int y = 0; y < nh; ++y) {
    std::memcpy(&out.rgb[(static_cast<size_t>(y + oy) * s.width + ox) * 3], &r.rgb[static_cast<size_t>(y) * nw * 3],
                static_cast<size_t>(nw) * 3);
  }
  return out;
}

}  // namespace locus::media
