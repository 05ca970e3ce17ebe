// resize_bicubic: Pillow's bicubic resampling as llama.cpp's mtmd-image.cpp computes it (the reference for parity):
// separable, horizontal pass first, each output pixel a normalized window of the bicubic filter (a = -0.5) whose
// support widens by the scale when shrinking (antialiasing), weights in 22-bit fixed point rounded half away from
// zero, sums started at one half and shifted back (round half up), clamped to 0..255 after each pass. An axis whose
// size does not change is not resampled.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "media/media.h"

namespace locus::media {
namespace {

constexpr int kPrecision = 22;  // 32 - 8 (pixel bits) - 2 (headroom)
constexpr double kSupport = 2.0;

double bicubic(double x) {
  constexpr double a = -0.5;
  if (x < 0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

struct Kernel {
  int size = 0;                 // taps per output pixel
  std::vector<int> first;       // first input index of each output pixel
  std::vector<int> count;       // taps used by each output pixel
  std::vector<int32_t> weight;  // out * size fixed-point weights
};

Kernel make_kernel(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = kSupport * filterscale;
  Kernel k;
  k.size = static_cast<int>(std::ceil(support)) * 2 + 1;
  k.first.resize(static_cast<size_t>(out_size));
  k.count.resize(static_cast<size_t>(out_size));
  k.weight.assign(static_cast<size_t>(out_size) * k.size, 0);
  std::vector<double> w(static_cast<size_t>(k.size));
  const double fixed_one = std::ldexp(1.0, kPrecision);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);  // truncation toward zero, as Pillow
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    const int n = std::min(xmax - xmin, k.size);
    double sum = 0;
    for (int x = 0; x < n; ++x) {
      w[static_cast<size_t>(x)] = bicubic((x + xmin - center + 0.5) * ss);
      sum += w[static_cast<size_t>(x)];
    }
    for (int x = 0; x < n; ++x) {
      const double v = sum != 0.0 ? w[static_cast<size_t>(x)] / sum : w[static_cast<size_t>(x)];
      k.weight[static_cast<size_t>(xx) * k.size + x] = static_cast<int32_t>(v * fixed_one + (v < 0 ? -0.5 : 0.5));
    }
    k.first[static_cast<size_t>(xx)] = xmin;
    k.count[static_cast<size_t>(xx)] = std::max(n, 0);
  }
  return k;
}

inline uint8_t clip8(int32_t v) {
  v >>= kPrecision;  // arithmetic shift (C++20)
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Width in -> out, every row.
std::vector<uint8_t> horizontal(const uint8_t* src, int in_w, int h, int out_w) {
  const Kernel k = make_kernel(in_w, out_w);
  std::vector<uint8_t> out(static_cast<size_t>(out_w) * h * 3);
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = src + static_cast<size_t>(y) * in_w * 3;
    uint8_t* dst = out.data() + static_cast<size_t>(y) * out_w * 3;
    for (int xx = 0; xx < out_w; ++xx) {
      const int32_t* wt = &k.weight[static_cast<size_t>(xx) * k.size];
      const uint8_t* p = row + static_cast<size_t>(k.first[static_cast<size_t>(xx)]) * 3;
      int32_t s0 = 1 << (kPrecision - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < k.count[static_cast<size_t>(xx)]; ++x, p += 3) {
        s0 += p[0] * wt[x];
        s1 += p[1] * wt[x];
        s2 += p[2] * wt[x];
      }
      dst[xx * 3 + 0] = clip8(s0);
      dst[xx * 3 + 1] = clip8(s1);
      dst[xx * 3 + 2] = clip8(s2);
    }
  }
  return out;
}

// Height in -> out, whole rows at a time.
std::vector<uint8_t> vertical(const uint8_t* src, int w, int in_h, int out_h) {
  const Kernel k = make_kernel(in_h, out_h);
  const size_t row = static_cast<size_t>(w) * 3;
  std::vector<uint8_t> out(row * out_h);
  std::vector<int32_t> acc(row);
  for (int yy = 0; yy < out_h; ++yy) {
    std::fill(acc.begin(), acc.end(), 1 << (kPrecision - 1));
    const int32_t* wt = &k.weight[static_cast<size_t>(yy) * k.size];
    for (int y = 0; y < k.count[static_cast<size_t>(yy)]; ++y) {
      const uint8_t* s = src + static_cast<size_t>(k.first[static_cast<size_t>(yy)] + y) * row;
      const int32_t c = wt[y];
      for (size_t i = 0; i < row; ++i) acc[i] += s[i] * c;
    }
    uint8_t* d = out.data() + static_cast<size_t>(yy) * row;
    for (size_t i = 0; i < row; ++i) d[i] = clip8(acc[i]);
  }
  return out;
}

}  // namespace

Image resize_bicubic(const Image& in, int width, int height) {
  if (in.width < 1 || in.height < 1 ||
      in.rgb.size() != static_cast<size_t>(in.width) * static_cast<size_t>(in.height) * 3) {
    throw MediaError("resize_bicubic: the picture is " + std::to_string(in.width) + "x" + std::to_string(in.height) +
                     " with " + std::to_string(in.rgb.size()) +
                     " bytes; expected at least 1x1 and width * height * 3 bytes");
  }
  if (width < 1 || height < 1 || width > 65536 || height > 65536) {
    throw MediaError("resize_bicubic: the target is " + std::to_string(width) + "x" + std::to_string(height) +
                     "; expected 1 to 65536 per side");
  }
  Image out;
  out.width = width;
  out.height = height;
  const bool h_pass = width != in.width;
  const bool v_pass = height != in.height;
  if (h_pass && v_pass) {
    const std::vector<uint8_t> tmp = horizontal(in.rgb.data(), in.width, in.height, width);
    out.rgb = vertical(tmp.data(), width, in.height, height);
  } else if (h_pass) {
    out.rgb = horizontal(in.rgb.data(), in.width, in.height, width);
  } else if (v_pass) {
    out.rgb = vertical(in.rgb.data(), in.width, in.height, height);
  } else {
    out.rgb = in.rgb;
  }
  return out;
}

}  // namespace locus::media
