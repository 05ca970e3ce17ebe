// resize_bicubic against a plain double-precision implementation of the same filter (Pillow's published
// algorithm), on many sizes and seeds, plus cases worked by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "media/media.h"
#include "media/test_media.h"

namespace locus::media {
namespace {

double cubic(double x) {
  const double a = -0.5;
  x = std::fabs(x);
  if (x < 1) return (a + 2) * x * x * x - (a + 3) * x * x + 1;
  if (x < 2) return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
  return 0;
}

// One axis in double precision: output i takes the input pixels whose centres fall within the (widened)
// support around (i + 0.5) * scale, weighted by the cubic, weights normalized to sum 1; rounded half up and
// clamped to 0..255 (8-bit output after each pass).
std::vector<uint8_t> reference_axis(const std::vector<uint8_t>& in, int n_in, int n_out, int lines, bool along_rows,
                                    int other) {
  // along_rows: the image is `lines` rows of n_in pixels (3 channels); else `lines` = width, columns of n_in.
  const double scale = static_cast<double>(n_in) / n_out;
  const double fs = std::max(1.0, scale);
  const double support = 2.0 * fs;
  std::vector<uint8_t> out(static_cast<size_t>(n_out) * lines * 3);
  (void)other;
  for (int i = 0; i < n_out; ++i) {
    const double center = (i + 0.5) * scale;
    const int lo = std::max(0, static_cast<int>(center - support + 0.5));
    const int hi = std::min(n_in, static_cast<int>(center + support + 0.5));
    std::vector<double> w;
    double sum = 0;
    for (int j = lo; j < hi; ++j) {
      w.push_back(cubic((j - center + 0.5) / fs));
      sum += w.back();
    }
    for (double& v : w) v /= sum;
    for (int l = 0; l < lines; ++l) {
      for (int c = 0; c < 3; ++c) {
        double acc = 0;
        for (int j = lo; j < hi; ++j) {
          const size_t idx =
              along_rows ? (static_cast<size_t>(l) * n_in + j) * 3 + c : (static_cast<size_t>(j) * lines + l) * 3 + c;
          acc += w[static_cast<size_t>(j - lo)] * in[idx];
        }
        const double r = std::floor(acc + 0.5);
        const auto v = static_cast<uint8_t>(std::clamp(r, 0.0, 255.0));
        const size_t o =
            along_rows ? (static_cast<size_t>(l) * n_out + i) * 3 + c : (static_cast<size_t>(i) * lines + l) * 3 + c;
        out[o] = v;
      }
    }
  }
  return out;
}

Image reference_resize(const Image& in, int w, int h) {
  std::vector<uint8_t> cur = in.rgb;
  int cw = in.width;
  if (w != in.width) {
    cur = reference_axis(cur, in.width, w, in.height, true, 0);
    cw = w;
  }
  if (h != in.height) cur = reference_axis(cur, in.height, h, cw, false, 0);
  Image out;
  out.width = w;
  out.height = h;
  out.rgb = std::move(cur);
  return out;
}

Image random_image(int w, int h, uint32_t seed, int kind) {
  std::mt19937 rng(seed);
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        int v;
        switch (kind) {
          case 0:
            v = static_cast<int>(rng() % 256);
            break;  // noise
          case 1:
            v = ((x / 3 + y / 2) % 2) ? 255 : 0;
            break;  // hard edges: ringing clamps
          default:
            v = (x * 255 / std::max(1, w - 1) + y * 7 + c * 40) % 256;
            break;  // ramps
        }
        img.rgb[(static_cast<size_t>(y) * w + x) * 3 + c] = static_cast<uint8_t>(v);
      }
    }
  }
  return img;
}

TEST(ResizeBicubic, EachPassMatchesTheDoubleReference) {
  std::mt19937 rng(2024);
  size_t values = 0, off = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const int w = 1 + static_cast<int>(rng() % 97), h = 1 + static_cast<int>(rng() % 83);
    const int n = 1 + static_cast<int>(rng() % 130);
    const bool widthwise = trial % 2 == 0;
    const int tw = widthwise ? n : w, th = widthwise ? h : n;
    const Image in = random_image(w, h, static_cast<uint32_t>(trial), trial % 3);
    const Image got = resize_bicubic(in, tw, th);
    const Image want = reference_resize(in, tw, th);
    ASSERT_EQ(got.width, tw);
    ASSERT_EQ(got.height, th);
    ASSERT_EQ(got.rgb.size(), want.rgb.size());
    // 22-bit weights can move a sum sitting on a rounding boundary by one step, nothing more.
    ASSERT_LE(testing::max_abs_diff(got.rgb, want.rgb), 1) << w << "x" << h << " -> " << tw << "x" << th;
    for (size_t i = 0; i < got.rgb.size(); ++i) off += got.rgb[i] != want.rgb[i];
    values += got.rgb.size();
  }
  EXPECT_LT(static_cast<double>(off) / static_cast<double>(values), 0.002) << off << " of " << values;
}

TEST(ResizeBicubic, HorizontalThenVerticalWithEightBitsBetween) {
  std::mt19937 rng(99);
  size_t values = 0, off = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const int w = 1 + static_cast<int>(rng() % 90), h = 1 + static_cast<int>(rng() % 90);
    const int tw = 1 + static_cast<int>(rng() % 120), th = 1 + static_cast<int>(rng() % 120);
    const Image in = random_image(w, h, static_cast<uint32_t>(trial + 1000), trial % 3);
    const Image got = resize_bicubic(in, tw, th);
    // Exactly the two single-axis resizes in that order (Pillow's order, u8 in between) ...
    ASSERT_EQ(got.rgb, resize_bicubic(resize_bicubic(in, tw, h), tw, th).rgb)
        << w << "x" << h << " -> " << tw << "x" << th;
    // ... and so close to the double reference: one step from each pass at most.
    const Image want = reference_resize(in, tw, th);
    ASSERT_LE(testing::max_abs_diff(got.rgb, want.rgb), 2);
    for (size_t i = 0; i < got.rgb.size(); ++i) off += got.rgb[i] != want.rgb[i];
    values += got.rgb.size();
  }
  EXPECT_LT(static_cast<double>(off) / static_cast<double>(values), 0.005) << off << " of " << values;
}

TEST(ResizeBicubic, WorkedByHand) {
  // 2 -> 4 pixels, [0, 255]: output 1 takes 0.8672 and 0.2266 (sum 1.0938): 255 * 0.2071 = 52.8 -> 53; output
  // 2 mirrors it: 202.2 -> 202; outputs 0 and 3 overshoot (weights 1.088 / -0.088) and clamp to 0 and 255.
  Image in;
  in.width = 2;
  in.height = 1;
  in.rgb = {0, 0, 0, 255, 255, 255};
  const Image out = resize_bicubic(in, 4, 1);
  const std::vector<uint8_t> want = {0, 0, 0, 53, 53, 53, 202, 202, 202, 255, 255, 255};
  EXPECT_EQ(out.rgb, want);
}

TEST(ResizeBicubic, ConstantStaysConstantAndSameSizeIsACopy) {
  for (int v : {0, 1, 77, 254, 255}) {
    Image in;
    in.width = 37;
    in.height = 23;
    in.rgb.assign(37 * 23 * 3, static_cast<uint8_t>(v));
    for (const auto& [w, h] : {std::pair{5, 3}, {100, 90}, {37, 7}, {1, 1}, {500, 2}}) {
      const Image out = resize_bicubic(in, w, h);
      ASSERT_EQ(out.rgb, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3, static_cast<uint8_t>(v))) << v;
    }
  }
  const Image noise = random_image(31, 17, 5, 0);
  EXPECT_EQ(resize_bicubic(noise, 31, 17).rgb, noise.rgb);
}

TEST(ResizeBicubic, OneAxisOnlyLeavesTheOtherAlone) {
  // Only the width changes: every row resampled independently, the same as a one-row image.
  const Image in = random_image(40, 9, 8, 0);
  const Image out = resize_bicubic(in, 17, 9);
  for (int y = 0; y < 9; ++y) {
    Image row;
    row.width = 40;
    row.height = 1;
    row.rgb.assign(in.rgb.begin() + y * 40 * 3, in.rgb.begin() + (y + 1) * 40 * 3);
    const Image r = resize_bicubic(row, 17, 1);
    ASSERT_TRUE(std::equal(r.rgb.begin(), r.rgb.end(), out.rgb.begin() + y * 17 * 3)) << y;
  }
}

TEST(ResizeBicubic, RefusesBadSizes) {
  const Image in = random_image(4, 4, 1, 0);
  EXPECT_NE(testing::error_of([&] { resize_bicubic(in, 0, 4); }).find("0x4"), std::string::npos);
  EXPECT_NE(testing::error_of([&] { resize_bicubic(in, 70000, 4); }).find("65536"), std::string::npos);
  Image empty;
  EXPECT_NE(testing::error_of([&] { resize_bicubic(empty, 4, 4); }).find("0x0"), std::string::npos);
}

}  // namespace
}  // namespace locus::media
