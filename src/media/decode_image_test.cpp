// decode_image and probe: every image format round-trips, and the bad inputs of issue 13 get their defined result.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "media/media.h"
#include "media/media_internal.h"
#include "media/test_media.h"
#include "synth.h"

namespace locus::media {
namespace {

using mkmedia::ImageSpec;
using mkmedia::Pixels;
using testing::error_of;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct Stored {
  const char* format;
  Pixels pixels;
};

// Lossless formats and layouts: the decoded RGB is the stored picture exactly (16-bit: within 1).
TEST(DecodeImage, LosslessFormatsRoundTripExactly) {
  const Stored stored[] = {
      {"png", Pixels::kRgb},     {"png", Pixels::kRgba},    {"png", Pixels::kGray},   {"png", Pixels::kGray16},
      {"png", Pixels::kRgb48},   {"png", Pixels::kPalette}, {"bmp", Pixels::kRgb},    {"bmp", Pixels::kRgba},
      {"bmp", Pixels::kGray},    {"bmp", Pixels::kPalette}, {"tiff", Pixels::kRgb},   {"tiff", Pixels::kRgba},
      {"tiff", Pixels::kGray},   {"tiff", Pixels::kGray16}, {"tiff", Pixels::kRgb48}, {"tiff", Pixels::kPalette},
      {"gif", Pixels::kPalette}, {"webp", Pixels::kRgb},    {"webp", Pixels::kRgba},
  };
  const std::pair<int, int> sizes[] = {{1, 1}, {7, 5}, {64, 48}, {333, 17}, {2, 300}};
  uint32_t seed = 1;
  for (const Stored& s : stored) {
    for (const auto& [w, h] : sizes) {
      ImageSpec spec;
      spec.format = s.format;
      spec.pixels = s.pixels;
      spec.width = w;
      spec.height = h;
      spec.seed = ++seed;
      spec.lossless = true;
      const std::string bytes = mkmedia::encode_image(spec);
      const std::string what = std::string(s.format) + "/" + mkmedia::pixels_name(s.pixels) + " " + std::to_string(w) +
                               "x" + std::to_string(h);
      ASSERT_EQ(probe(bytes), Kind::kImage) << what;
      const Image img = decode_image(bytes);
      ASSERT_EQ(img.width, w) << what;
      ASSERT_EQ(img.height, h) << what;
      const auto want = mkmedia::expected_rgb(mkmedia::synth_picture(w, h, spec.seed), s.pixels);
      const bool deep = s.pixels == Pixels::kGray16 || s.pixels == Pixels::kRgb48;
      EXPECT_LE(testing::max_abs_diff(img.rgb, want), deep ? 1 : 0) << what;
    }
  }
}

// JPEG and lossy WebP: the colours survive within the codec's error.
TEST(DecodeImage, LossyFormatsKeepTheColours) {
  for (const char* format : {"jpeg", "webp"}) {
    for (uint32_t seed = 1; seed <= 6; ++seed) {
      ImageSpec spec;
      spec.format = format;
      spec.width = 96 + 16 * static_cast<int>(seed);
      spec.height = 64 + 8 * static_cast<int>(seed);
      spec.seed = seed;
      const Image img = decode_image(mkmedia::encode_image(spec));
      ASSERT_EQ(img.width, spec.width);
      ASSERT_EQ(img.height, spec.height);
      const auto pic = mkmedia::synth_picture(spec.width, spec.height, seed);
      EXPECT_LT(testing::mean_abs_diff(img.rgb, mkmedia::expected_rgb(pic, Pixels::kRgb)), 14) << format << seed;
      for (int q = 0; q < 4; ++q) {
        EXPECT_LT(testing::max_channel_gap(testing::quadrant(img, q), pic.base[q]), 10)
            << format << " seed " << seed << " q" << q;
      }
    }
  }
}

TEST(DecodeImage, AnimationsGiveTheirFirstFrame) {
  for (const char* format : {"gif", "png", "webp"}) {
    for (bool lossless : {true, false}) {
      if (!lossless && std::string(format) != "webp") continue;
      ImageSpec spec;
      spec.format = format;
      spec.pixels = std::string(format) == "gif" ? Pixels::kPalette : Pixels::kRgb;
      spec.width = 40;
      spec.height = 30;
      spec.seed = 5;
      spec.frames = 4;
      spec.lossless = lossless;
      const std::string bytes = mkmedia::encode_image(spec);
      ASSERT_EQ(probe(bytes), Kind::kImage) << format;
      const Image img = decode_image(bytes);
      ASSERT_EQ(img.width, 40);
      ASSERT_EQ(img.height, 30);
      const auto first = mkmedia::expected_rgb(mkmedia::synth_picture(40, 30, 5), spec.pixels);
      const auto second = mkmedia::expected_rgb(mkmedia::synth_picture(40, 30, 6), spec.pixels);
      if (lossless) {
        EXPECT_EQ(img.rgb, first) << format;
      } else {
        EXPECT_LT(testing::mean_abs_diff(img.rgb, first), 14) << format;
      }
      EXPECT_GT(testing::mean_abs_diff(img.rgb, second), 20) << format;
    }
  }
}

// ---- Orientation ----

// Where the stored picture's top-left and top-right corners are shown under each EXIF orientation (from the
// EXIF definitions: "the 0th row is the visual ..., the 0th column is the visual ...").
struct Corners {
  int top_left, top_right;  // quadrant shown: 0 TL, 1 TR, 2 BL, 3 BR
};
constexpr Corners kShown[9] = {{}, {0, 1}, {1, 0}, {3, 2}, {2, 3}, {0, 2}, {1, 3}, {3, 1}, {2, 0}};

TEST(DecodeImage, JpegExifOrientationIsApplied) {
  ImageSpec thumb_spec;
  thumb_spec.format = "jpeg";
  thumb_spec.width = 16;
  thumb_spec.height = 16;
  const std::string thumbnail = mkmedia::encode_image(thumb_spec);
  for (int o = 1; o <= 8; ++o) {
    ImageSpec spec;
    spec.format = "jpeg";
    spec.width = 80;
    spec.height = 48;
    spec.seed = 30 + static_cast<uint32_t>(o);
    const auto pic = mkmedia::synth_picture(80, 48, spec.seed);
    const std::string bytes = testing::with_exif(mkmedia::encode_image(spec), o, thumbnail);
    const Image img = decode_image(bytes);
    const bool turned = o >= 5;
    ASSERT_EQ(img.width, turned ? 48 : 80) << o;
    ASSERT_EQ(img.height, turned ? 80 : 48) << o;
    EXPECT_LT(testing::max_channel_gap(testing::quadrant(img, kShown[o].top_left), pic.base[0]), 10)
        << "orientation " << o;
    EXPECT_LT(testing::max_channel_gap(testing::quadrant(img, kShown[o].top_right), pic.base[1]), 10)
        << "orientation " << o;
  }
}

TEST(DecodeImage, WebpExifOrientationIsApplied) {
  for (int o : {3, 6, 8}) {
    ImageSpec spec;
    spec.format = "webp";
    spec.width = 80;
    spec.height = 48;
    spec.seed = 50 + static_cast<uint32_t>(o);
    const auto pic = mkmedia::synth_picture(80, 48, spec.seed);
    const Image img = decode_image(testing::webp_with_exif(mkmedia::encode_image(spec), 80, 48, o));
    ASSERT_EQ(img.width, o == 3 ? 80 : 48) << o;
    EXPECT_LT(testing::max_channel_gap(testing::quadrant(img, kShown[o].top_left), pic.base[0]), 10) << o;
    EXPECT_LT(testing::max_channel_gap(testing::quadrant(img, kShown[o].top_right), pic.base[1]), 10) << o;
  }
}

TEST(DecodeImage, PngExifIsNotRead) {
  // FFmpeg 5.1's PNG decoder skips the eXIf chunk: the picture comes as stored (as llama.cpp's stb_image, which
  // applies no orientation at all).
  ImageSpec spec;
  spec.width = 40;
  spec.height = 20;
  const std::string png = mkmedia::encode_image(spec);
  std::string chunk;
  testing::png_chunk(chunk, "eXIf", testing::exif_segment(6, "").substr(4 + 6));
  const size_t idat = png.find("IDAT") - 4;
  const Image img = decode_image(png.substr(0, idat) + chunk + png.substr(idat));
  EXPECT_EQ(img.width, 40);
  EXPECT_EQ(img.rgb, mkmedia::expected_rgb(mkmedia::synth_picture(40, 20, spec.seed), Pixels::kRgb));
}

TEST(Orientation, ApplyMatchesTheExifTable) {
  // A 3x2 picture with distinct pixels: check every orientation against the corner table, exactly.
  Image in;
  in.width = 3;
  in.height = 2;
  for (int i = 0; i < 6; ++i) in.rgb.insert(in.rgb.end(), {static_cast<uint8_t>(i * 40), 0, 0});
  for (int o = 1; o <= 8; ++o) {
    const Image out = detail::apply_orientation(in, o);
    ASSERT_EQ(out.rgb.size(), in.rgb.size());
    const int w = out.width, h = out.height;
    const auto at = [&](int q) {
      const int x = (q & 1) ? w - 1 : 0, y = (q & 2) ? h - 1 : 0;
      return out.rgb[(static_cast<size_t>(y) * w + x) * 3];
    };
    EXPECT_EQ(at(kShown[o].top_left), 0) << o;    // stored (0, 0)
    EXPECT_EQ(at(kShown[o].top_right), 80) << o;  // stored (2, 0)
  }
}

TEST(Orientation, DisplayMatrices) {
  const int32_t one = 1 << 16;
  const auto m = [&](int32_t a, int32_t b, int32_t c, int32_t d) {
    const int32_t mat[9] = {a, b, 0, c, d, 0, 0, 0, 1 << 30};
    return detail::orientation_from_display_matrix(mat);
  };
  EXPECT_EQ(m(one, 0, 0, one), 1);
  EXPECT_EQ(m(0, one, -one, 0), 6);  // a phone's portrait video: turned 90 degrees clockwise
  EXPECT_EQ(m(-one, 0, 0, -one), 3);
  EXPECT_EQ(m(0, -one, one, 0), 8);
  EXPECT_EQ(m(-one, 0, 0, one), 2);
  EXPECT_EQ(m(one, 0, 0, -one), 4);
  EXPECT_EQ(m(0, one, one, 0), 5);
  EXPECT_EQ(m(0, -one, -one, 0), 7);
  EXPECT_EQ(m(0, 0, 0, 0), 1);
  EXPECT_EQ(m(2 * one, 0, 0, 2 * one), 1);  // a scale is no turn
}

// ---- CMYK ----

TEST(DecodeImage, CmykJpegFromAdobe) {
  // Four 8x8 blocks per row, two rows: each block a constant ink mix. Adobe's convention: stored values are
  // inverted (255 = no ink), so the colour is R = C' K' / 255, G = M' K' / 255, B = Y' K' / 255.
  const int inks[8][4] = {{255, 255, 255, 255}, {0, 255, 255, 255},  {255, 0, 255, 255},   {255, 255, 0, 255},
                          {255, 255, 255, 0},   {128, 200, 60, 255}, {255, 255, 255, 128}, {40, 90, 200, 180}};
  const std::string bytes = testing::jpeg_blocks(
      32, 16, 4, [&](int c, int bx, int by) { return inks[by * 4 + bx][c]; }, true);
  const Image img = decode_image(bytes);
  ASSERT_EQ(img.width, 32);
  ASSERT_EQ(img.height, 16);
  for (int b = 0; b < 8; ++b) {
    const int x = (b % 4) * 8 + 4, y = (b / 4) * 8 + 4;
    const uint8_t* px = &img.rgb[(static_cast<size_t>(y) * 32 + x) * 3];
    for (int c = 0; c < 3; ++c) {
      const double want = inks[b][c] * inks[b][3] / 255.0;
      EXPECT_NEAR(px[c], want, 2.0) << "block " << b << " channel " << c;
    }
  }
}

TEST(DecodeImage, CmykTiff) {
  // TIFF's separated photometric: 0 is no ink. R = (255 - C)(255 - K) / 255.
  const int w = 6, h = 2;
  std::vector<uint8_t> cmyk;
  const int inks[3][4] = {{0, 0, 0, 0}, {255, 0, 0, 0}, {30, 100, 170, 60}};
  for (int i = 0; i < w * h; ++i) {
    const int* k = inks[i % 3];
    cmyk.insert(cmyk.end(), {static_cast<uint8_t>(k[0]), static_cast<uint8_t>(k[1]), static_cast<uint8_t>(k[2]),
                             static_cast<uint8_t>(k[3])});
  }
  const Image img = decode_image(testing::tiff_cmyk(w, h, cmyk));
  ASSERT_EQ(img.width, w);
  ASSERT_EQ(img.height, h);
  for (int i = 0; i < w * h; ++i) {
    const int* k = inks[i % 3];
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(img.rgb[static_cast<size_t>(i) * 3 + c], (255 - k[c]) * (255 - k[3]) / 255.0, 2.0) << i << " " << c;
    }
  }
}

TEST(DecodeImage, HandMadeGrayAndColourJpegs) {
  // The same block writer with 1 and 3 components (YCbCr): gray blocks decode to their value.
  const std::string gray = testing::jpeg_blocks(
      16, 8, 1, [](int, int bx, int) { return bx ? 200 : 30; }, false);
  const Image g = decode_image(gray);
  ASSERT_EQ(g.width, 16);
  EXPECT_EQ(g.rgb[(4 * 16 + 4) * 3], 30);
  EXPECT_EQ(g.rgb[(4 * 16 + 12) * 3 + 2], 200);
  const std::string ycc = testing::jpeg_blocks(
      8, 8, 3, [](int c, int, int) { return c == 0 ? 100 : 128; }, false);
  const Image y = decode_image(ycc);
  EXPECT_NEAR(y.rgb[0], 100, 1);
  EXPECT_NEAR(y.rgb[1], 100, 1);
}

// ---- Limits and refusals ----

TEST(DecodeImage, GiganticPicturesAreRefusedFromTheirHeader) {
  const std::string png = testing::png_declaring(50000, 50000);
  EXPECT_LT(png.size(), 100u);
  EXPECT_EQ(error_of([&] { decode_image(png); }),
            "image is 50000x50000 = 2500000000 pixels; the limit is 50000000 (LOCUS_MEDIA_MAX_PIXELS)");
  EXPECT_TRUE(has(error_of([&] { probe(png); }), "2500000000 pixels"));
  EXPECT_TRUE(has(error_of([&] { decode_image(testing::gif_declaring(65535, 65535)); }), "65535x65535"));
  EXPECT_TRUE(has(error_of([&] { decode_image(testing::bmp_declaring(30000, -30000)); }), "30000x30000"));
  EXPECT_TRUE(
      has(error_of([&] { decode_image(testing::jpeg_declaring(65000, 65000)); }), "65000x65000 = 4225000000 pixels"));
  // A real picture over a lowered limit: the same check, from the header, with the limit named.
  ImageSpec spec;
  spec.width = 64;
  spec.height = 48;
  for (const char* format : {"png", "jpeg", "webp", "gif", "bmp", "tiff"}) {
    spec.format = format;
    spec.pixels = std::string(format) == "gif" ? Pixels::kPalette : Pixels::kRgb;
    Limits l;
    l.max_pixels = 3071;
    EXPECT_EQ(error_of([&] { decode_image(mkmedia::encode_image(spec), l); }),
              "image is 64x48 = 3072 pixels; the limit is 3071 (LOCUS_MEDIA_MAX_PIXELS)")
        << format;
    l.max_pixels = 3072;
    EXPECT_NO_THROW(decode_image(mkmedia::encode_image(spec), l)) << format;
  }
}

TEST(DecodeImage, ZeroSizedPicturesAreRefused) {
  EXPECT_EQ(error_of([] { decode_image(testing::png_declaring(0, 10)); }), "the png image is 0x10: it has no pixels");
  // FFmpeg's GIF probe does not recognise a 0x0 screen at all: refused as unrecognised.
  EXPECT_TRUE(has(error_of([] { decode_image(testing::gif_declaring(0, 0)); }), "unrecognised media"));
  EXPECT_TRUE(has(error_of([] { decode_image(testing::jpeg_declaring(0, 8)); }), "0x8: it has no pixels"));
  EXPECT_TRUE(has(error_of([] { decode_image(testing::bmp_declaring(5, 0)); }), "5x0: it has no pixels"));
}

TEST(DecodeImage, EmptyUnknownAndOversizedInputs) {
  EXPECT_TRUE(has(error_of([] { decode_image(""); }), "the media is empty (0 bytes)"));
  EXPECT_TRUE(has(error_of([] { probe(""); }), "the media is empty"));
  const std::string text = "Hello, this is plain text and not a picture at all.";
  EXPECT_TRUE(has(error_of([&] { decode_image(text); }), "unrecognised media"));
  std::mt19937 rng(1);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  const std::string e = error_of([&] { decode_image(noise); });
  EXPECT_FALSE(e.empty());
  EXPECT_EQ(e.find('\n'), std::string::npos);
  ImageSpec spec;
  const std::string png = mkmedia::encode_image(spec);
  Limits l;
  l.max_bytes = png.size() - 1;
  EXPECT_EQ(error_of([&] { decode_image(png, l); }), "the media is " + std::to_string(png.size()) +
                                                         " bytes; the limit is " + std::to_string(png.size() - 1) +
                                                         " (LOCUS_MEDIA_MAX_BYTES)");
}

TEST(DecodeImage, HeifIsRefusedByName) {
  std::string heic;
  testing::put_be(heic, 24, 4);
  heic += "ftypheic";
  testing::put_be(heic, 0, 4);
  heic += "mif1heic";
  testing::put_be(heic, 8, 4);
  heic += "meta";
  EXPECT_TRUE(has(error_of([&] { decode_image(heic); }), "HEIF/HEIC image (brand 'heic')"));
  EXPECT_TRUE(has(error_of([&] { probe(heic); }), "convert it to JPEG or PNG"));
}

TEST(DecodeImage, MislabelledContentSaysWhatItIs) {
  mkmedia::AudioSpec a;
  a.seconds = 0.1;
  EXPECT_EQ(error_of([&] { decode_image(mkmedia::encode_audio(a)); }), "expected an image; the content is audio (wav)");
  mkmedia::VideoSpec v;
  v.frames = 2;
  EXPECT_EQ(error_of([&] { decode_image(mkmedia::encode_video(v)); }),
            "expected an image; the content is a video (mp4/mov)");
  // A playlist FFmpeg could follow to other files is refused by name, never opened.
  const std::string m3u = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n";
  EXPECT_TRUE(has(error_of([&] { probe(m3u); }), "which locus does not read"));
}

TEST(DecodeImage, TruncatedAndCorruptPicturesGiveAPictureOrAnError) {
  std::mt19937 rng(77);
  for (const char* format : {"png", "jpeg", "webp", "gif", "bmp", "tiff"}) {
    ImageSpec spec;
    spec.format = format;
    spec.pixels = std::string(format) == "gif" ? Pixels::kPalette : Pixels::kRgb;
    spec.width = 50;
    spec.height = 40;
    const std::string good = mkmedia::encode_image(spec);
    for (int trial = 0; trial < 60; ++trial) {
      std::string bad = good;
      if (trial < 20) {
        bad.resize(static_cast<size_t>(rng() % good.size()));  // truncated
      } else {
        for (int k = 0; k < 1 + trial % 5; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());  // flipped
      }
      try {
        const Image img = decode_image(bad);
        ASSERT_GT(img.width, 0);
        ASSERT_EQ(img.rgb.size(), static_cast<size_t>(img.width) * img.height * 3);
      } catch (const MediaError& e) {
        ASSERT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      }
    }
  }
}

TEST(ImageHeader, ReadsSizesWithoutDecoding) {
  using detail::image_header_size;
  const auto size_of = [](const std::string& b) {
    const auto s = image_header_size(b);
    return s ? std::to_string(s->width) + "x" + std::to_string(s->height) : std::string("none");
  };
  EXPECT_EQ(size_of(testing::png_declaring(123, 456)), "123x456");
  EXPECT_EQ(size_of(testing::gif_declaring(7, 9)), "7x9");
  EXPECT_EQ(size_of(testing::bmp_declaring(10, -20)), "10x20");
  EXPECT_EQ(size_of(testing::jpeg_blocks(
                31, 17, 1, [](int, int, int) { return 1; }, false)),
            "31x17");
  for (const char* format : {"png", "jpeg", "webp", "gif", "bmp", "tiff"}) {
    ImageSpec spec;
    spec.format = format;
    spec.pixels = std::string(format) == "gif" ? Pixels::kPalette : Pixels::kRgb;
    spec.width = 37;
    spec.height = 21;
    EXPECT_EQ(size_of(mkmedia::encode_image(spec)), "37x21") << format;
    spec.lossless = true;
    spec.pixels = Pixels::kRgba;
    if (std::string(format) == "webp") {
      EXPECT_EQ(size_of(mkmedia::encode_image(spec)), "37x21") << "webp lossless";
    }
  }
  // The EXIF thumbnail's SOI/SOF inside APP1 is skipped, not mistaken for the picture.
  ImageSpec big;
  big.format = "jpeg";
  big.width = 99;
  big.height = 77;
  ImageSpec small = big;
  small.width = small.height = 8;
  EXPECT_EQ(size_of(testing::with_exif(mkmedia::encode_image(big), 6, mkmedia::encode_image(small))), "99x77");
  const std::string png = testing::png_declaring(5, 5);
  for (size_t n = 0; n < 24; ++n) EXPECT_EQ(size_of(png.substr(0, n)), "none") << n;
  EXPECT_EQ(size_of("GIF89a"), "none");
  EXPECT_EQ(size_of(std::string("\xff\xd8\xff\xda", 4)), "none");
}

}  // namespace
}  // namespace locus::media
