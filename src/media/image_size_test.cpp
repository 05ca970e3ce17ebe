// The two size rules (Google's processor and llama.cpp's smart resize) and fit_image's letterbox.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "media/media.h"
#include "media/test_media.h"

namespace locus::media {
namespace {

using testing::error_of;

struct Case {
  int w, h, budget, want_w, want_h;
};

// Worked by hand from the formulas in gemma4.md 8.2 (the first two rows of each table are gemma4.md's own
// examples).
TEST(GoogleSize, Table) {
  const Case cases[] = {
      {1024, 768, 280, 912, 672},     // 19 x 14 = 266 tokens
      {4000, 3000, 280, 912, 672},    //
      {1024, 768, 70, 432, 336},      // f = sqrt(161280 / 786432): 463.7 and 347.8 px
      {1024, 768, 1120, 1824, 1344},  // 38 x 28 = 1064
      {1920, 1080, 280, 1056, 576},   // 22 x 12 = 264
      {1, 1, 280, 768, 768},          // f = 803.2: 16 x 16
      {48, 48, 70, 384, 384},         // f = sqrt(70): 8 x 8
      {10000, 10, 280, 13440, 48},    // height floors to 0: one row, min(1000, 280) columns
      {10, 10000, 280, 48, 13440},    // width floors to 0: one column
      {1000, 10, 280, 8016, 48},      // f = 8.03: 8031.9 x 80.3 -> 167 x 1 (not the edge case)
      {3, 1, 70, 672, 192},           // f = 231.9: 695.6 x 231.9 -> 14 x 4
  };
  for (const Case& c : cases) {
    const Size s = google_size(c.w, c.h, c.budget);
    EXPECT_EQ(s.width, c.want_w) << c.w << "x" << c.h << " @" << c.budget;
    EXPECT_EQ(s.height, c.want_h) << c.w << "x" << c.h << " @" << c.budget;
  }
  EXPECT_EQ(google_size(1024, 768, 280).tokens(), 266);
}

TEST(GoogleSize, RulesHoldOnRandomSizes) {
  std::mt19937 rng(7);
  const int ladder[] = {70, 140, 280, 560, 1120};
  for (int i = 0; i < 20000; ++i) {
    const int w = 1 + static_cast<int>(rng() % (i % 3 == 0 ? 40000 : 4000));
    const int h = 1 + static_cast<int>(rng() % (i % 5 == 0 ? 40000 : 4000));
    const int budget = ladder[rng() % 5];
    const Size s = google_size(w, h, budget);
    ASSERT_EQ(s.width % kPatch, 0);
    ASSERT_EQ(s.height % kPatch, 0);
    ASSERT_GE(s.width, kPatch);
    ASSERT_GE(s.height, kPatch);
    ASSERT_LE(s.tokens(), budget) << w << "x" << h;
    // Away from the one-row/one-column edge, each side is the scaled side floored to 48 (long double here).
    const long double f = std::sqrt(static_cast<long double>(budget) * 9 * 256 / (static_cast<long double>(w) * h));
    const long double iw = f * w / kPatch, ih = f * h / kPatch;
    if (ih >= 1.001L && iw >= 1.001L && std::fabs(iw - std::round(iw)) > 1e-6L &&
        std::fabs(ih - std::round(ih)) > 1e-6L) {
      ASSERT_EQ(s.width, static_cast<int>(std::floor(iw)) * kPatch) << w << "x" << h << " @" << budget;
      ASSERT_EQ(s.height, static_cast<int>(std::floor(ih)) * kPatch) << w << "x" << h << " @" << budget;
    }
  }
}

TEST(GoogleSize, RefusesWhatItCannotSize) {
  EXPECT_NE(error_of([] { google_size(100, 100, 300); }).find("70, 140, 280, 560 or 1120"), std::string::npos);
  EXPECT_NE(error_of([] { google_size(0, 100, 280); }).find("0x100"), std::string::npos);
  EXPECT_NE(error_of([] { google_size(100, -1, 280); }).find("100x-1"), std::string::npos);
}

// llama.cpp's smart resize with align 48, min 70 and max 1120 tokens, worked by hand.
TEST(LlamaCppSize, Table) {
  const Case cases[] = {
      {1024, 768, 1120, 1008, 768},    // round(21.33) x 16: 336 tokens (gemma4.md)
      {4000, 3000, 1120, 1824, 1344},  // over max: beta = 2.156, floor: 38 x 28 = 1064 (gemma4.md)
      {1920, 1080, 1120, 1920, 1104},  // 22.5 rounds half away from zero: 40 x 23 = 920
      {1024, 768, 280, 912, 672},      // over 280 * 2304: beta = 1.104, floor: 19 x 14
      {1, 1, 1120, 432, 432},          // under min: beta = 401.6, ceil(8.37) = 9 per side
      {48, 48, 1120, 432, 432},        //
      {10000, 10, 1120, 9984, 48},     // 208 x 1, within range
      {100000, 10, 1120, 53760, 48},   // llama.cpp: 3346 x 1 (over the budget); cut to 1120 x 1 here
      {10, 100000, 1120, 48, 53760},   //
      {2000, 1, 1120, 18000, 48},      // under min: beta = 8.98, ceil(374.2) = 375 x 1
  };
  for (const Case& c : cases) {
    const Size s = llama_cpp_size(c.w, c.h, 70, c.budget);
    EXPECT_EQ(s.width, c.want_w) << c.w << "x" << c.h << " @" << c.budget;
    EXPECT_EQ(s.height, c.want_h) << c.w << "x" << c.h << " @" << c.budget;
  }
  EXPECT_EQ(llama_cpp_size(1024, 768).tokens(), 336);
}

TEST(LlamaCppSize, RulesHoldOnRandomSizes) {
  std::mt19937 rng(11);
  for (int i = 0; i < 20000; ++i) {
    const int w = 1 + static_cast<int>(rng() % (i % 3 == 0 ? 40000 : 4000));
    const int h = 1 + static_cast<int>(rng() % (i % 7 == 0 ? 40000 : 4000));
    const int max_tokens = 70 + static_cast<int>(rng() % 1051);
    const Size s = llama_cpp_size(w, h, 70, max_tokens);
    ASSERT_EQ(s.width % kPatch, 0);
    ASSERT_EQ(s.height % kPatch, 0);
    ASSERT_GE(s.width, kPatch);
    ASSERT_GE(s.height, kPatch);
    ASSERT_LE(s.tokens(), max_tokens) << w << "x" << h;
    // Sizes already on the grid and inside the range stay as they are.
    const int gw = std::max(kPatch, (w / kPatch) * kPatch), gh = std::max(kPatch, (h / kPatch) * kPatch);
    const long long t = static_cast<long long>(gw / kPatch) * (gh / kPatch);
    if (t >= 70 && t <= max_tokens) {
      const Size g = llama_cpp_size(gw, gh, 70, max_tokens);
      ASSERT_EQ(g.width, gw);
      ASSERT_EQ(g.height, gh);
    }
  }
}

TEST(LlamaCppSize, RefusesBadRanges) {
  EXPECT_NE(error_of([] { llama_cpp_size(10, 10, 0, 10); }).find("token range"), std::string::npos);
  EXPECT_NE(error_of([] { llama_cpp_size(10, 10, 100, 70); }).find("token range"), std::string::npos);
  EXPECT_NE(error_of([] { llama_cpp_size(0, 10); }).find("0x10"), std::string::npos);
}

Image random_image(int w, int h, uint32_t seed, int lo = 0) {
  std::mt19937 rng(seed);
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (auto& v : img.rgb) v = static_cast<uint8_t>(lo + static_cast<int>(rng() % static_cast<unsigned>(256 - lo)));
  return img;
}

TEST(FitImage, LlamaCppLetterboxesCentredOnBlack) {
  // 1024x768 -> 1008x768: scaled by 0.984375 to 1008x756, 6 black rows above and below (gemma4.md).
  const Image in = random_image(1024, 768, 3, 30);
  const Image out = fit_image(in, SizeRule::kLlamaCpp, 1120);
  ASSERT_EQ(out.width, 1008);
  ASSERT_EQ(out.height, 768);
  const Image inner = resize_bicubic(in, 1008, 756);
  for (int y = 0; y < 768; ++y) {
    for (int x = 0; x < 1008; ++x) {
      for (int c = 0; c < 3; ++c) {
        const uint8_t got = out.rgb[(static_cast<size_t>(y) * 1008 + x) * 3 + c];
        const uint8_t want = (y < 6 || y >= 762) ? 0 : inner.rgb[(static_cast<size_t>(y - 6) * 1008 + x) * 3 + c];
        ASSERT_EQ(got, want) << x << "," << y;
      }
    }
  }
}

TEST(FitImage, LlamaCppPadsTheOtherAxisAndKeepsExactSizes) {
  // 500x500: smart size 480x480; scale 0.96 both ways: no bars.
  const Image a = random_image(500, 500, 4, 30);
  const Image fa = fit_image(a, SizeRule::kLlamaCpp, 1120);
  EXPECT_EQ(fa.width, 480);
  EXPECT_EQ(fa.height, 480);
  EXPECT_EQ(fa.rgb, resize_bicubic(a, 480, 480).rgb);
  // 300x1000: 288x1008; scale min(0.96, 1.008) = 0.96 -> 288x960, 24 rows of black above and below.
  const Image b = random_image(300, 1000, 5, 30);
  const Image fb = fit_image(b, SizeRule::kLlamaCpp, 1120);
  ASSERT_EQ(fb.width, 288);
  ASSERT_EQ(fb.height, 1008);
  EXPECT_EQ(testing::mean(fb, 0, 0, 0, 288, 24), 0);
  EXPECT_EQ(testing::mean(fb, 1, 0, 984, 288, 1008), 0);
  EXPECT_GT(testing::mean(fb, 2, 0, 24, 288, 984), 29);
  // Already on the grid: unchanged.
  const Image c = random_image(480, 384, 6);
  EXPECT_EQ(fit_image(c, SizeRule::kLlamaCpp, 1120).rgb, c.rgb);
}

TEST(FitImage, GoogleResizesWithoutPadding) {
  for (int budget : {70, 280, 1120}) {
    const Image in = random_image(333, 517, 9 + budget);
    const Image out = fit_image(in, SizeRule::kGoogle, budget);
    const Size s = google_size(333, 517, budget);
    ASSERT_EQ(out.width, s.width);
    ASSERT_EQ(out.height, s.height);
    EXPECT_EQ(out.rgb, resize_bicubic(in, s.width, s.height).rgb);
  }
}

TEST(FitImage, RefusesBadInput) {
  Image bad;
  bad.width = 4;
  bad.height = 4;
  bad.rgb.resize(10);
  EXPECT_NE(error_of([&] { fit_image(bad, SizeRule::kGoogle, 280); }).find("holds 10 bytes"), std::string::npos);
  const Image ok = random_image(64, 64, 1);
  EXPECT_NE(error_of([&] { fit_image(ok, SizeRule::kLlamaCpp, 2000); }).find("70 to 1120"), std::string::npos);
  EXPECT_NE(error_of([&] { fit_image(ok, SizeRule::kGoogle, 100); }).find("280"), std::string::npos);
}

}  // namespace
}  // namespace locus::media
