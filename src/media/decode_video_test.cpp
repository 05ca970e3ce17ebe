// decode_video: frame sampling (Google's uniform, llama.cpp's fixed rate) on every container, variable frame
// rates, single frames, rotation, the sound track, limits and bad input. Each synthetic frame carries its own
// number, so the test reads back which frame was picked.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "media/media.h"
#include "media/test_media.h"
#include "synth.h"

namespace locus::media {
namespace {

using mkmedia::VideoSpec;
using testing::error_of;
using Sampling = VideoOptions::Sampling;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

int number_of(const Image& img) { return mkmedia::read_frame_number(img.rgb, img.width, img.height); }

// The frame shown at time t: the last one starting at or before it.
int shown_at(const std::vector<double>& times, double t) {
  int k = 0;
  for (size_t i = 0; i < times.size(); ++i) {
    if (times[i] <= t + 1e-6) k = static_cast<int>(i);
  }
  return k;
}

const char* kFormats[] = {"mp4", "webm", "mkv", "avi", "mov"};

TEST(DecodeVideo, GoogleSamplingSpreadsFramesUniformly) {
  for (const char* format : kFormats) {
    VideoSpec spec;
    spec.format = format;
    spec.seconds = 2;
    spec.fps = 10;
    const std::string bytes = mkmedia::encode_video(spec);
    ASSERT_EQ(probe(bytes), Kind::kVideo) << format;
    for (int n : {1, 3, 8, 20}) {
      VideoOptions o;
      o.max_frames = n;
      const Video v = decode_video(bytes, o);
      EXPECT_NEAR(v.duration_s, 2.0, 1e-6) << format;
      ASSERT_EQ(v.frames.size(), static_cast<size_t>(n)) << format << " n=" << n;
      for (int i = 0; i < n; ++i) {
        // Frame floor(i * 20 / n), as Google's processor indexes a constant-rate video.
        const int want = i * 20 / n;
        const VideoFrame& f = v.frames[static_cast<size_t>(i)];
        EXPECT_EQ(f.image.width, 128);
        EXPECT_EQ(f.image.height, 96);
        EXPECT_EQ(number_of(f.image), want) << format << " n=" << n << " i=" << i;
        EXPECT_NEAR(f.time_s, want / 10.0, 1e-3) << format;
      }
    }
  }
}

TEST(DecodeVideo, GoogleSamplingTakesEachFrameOnceWhenThereAreFewer) {
  VideoSpec spec;
  spec.frames = 5;
  VideoOptions o;
  o.max_frames = 32;
  const Video v = decode_video(mkmedia::encode_video(spec), o);
  ASSERT_EQ(v.frames.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(number_of(v.frames[static_cast<size_t>(i)].image), i);
}

TEST(DecodeVideo, LlamaCppSamplingTakesAFrameEveryStep) {
  for (const char* format : kFormats) {
    VideoSpec spec;
    spec.format = format;
    spec.seconds = 2;
    spec.fps = 10;
    const std::string bytes = mkmedia::encode_video(spec);
    VideoOptions o;
    o.sampling = Sampling::kLlamaCpp;
    o.fps = 4;
    const Video v = decode_video(bytes, o);
    ASSERT_EQ(v.frames.size(), 8u) << format;  // 0, 0.25, ..., 1.75
    for (size_t k = 0; k < v.frames.size(); ++k) {
      EXPECT_NEAR(v.frames[k].time_s, static_cast<double>(k) * 0.25, 1e-9);
      EXPECT_EQ(number_of(v.frames[k].image), static_cast<int>(static_cast<double>(k) * 2.5)) << format << " k=" << k;
    }
    o.max_frames = 3;
    EXPECT_EQ(decode_video(bytes, o).frames.size(), 3u);
    // A step shorter than the video's own frames repeats frames, as FFmpeg's fps filter does.
    o.max_frames = 64;
    o.fps = 25;
    const Video dense = decode_video(bytes, o);
    ASSERT_EQ(dense.frames.size(), 50u) << format;
    for (size_t k = 0; k < dense.frames.size(); ++k) {
      EXPECT_EQ(number_of(dense.frames[k].image), static_cast<int>(static_cast<double>(k) / 2.5 + 1e-9)) << k;
    }
  }
}

TEST(DecodeVideo, VariableFrameRateFollowsTheTimestamps) {
  for (const char* format : {"mp4", "webm", "mkv", "mov"}) {
    VideoSpec spec;
    spec.format = format;
    spec.frames = 21;
    spec.fps = 10;
    spec.variable_rate = true;
    const std::vector<double> times = mkmedia::frame_times(spec);
    const std::string bytes = mkmedia::encode_video(spec);
    VideoOptions o;
    o.max_frames = 9;
    const Video v = decode_video(bytes, o);
    // Containers say differently how long the last frame lasts (its own 0.05 s, or a nominal frame time), so
    // the picks are checked against the duration found.
    const double d = v.duration_s;
    EXPECT_GT(d, times.back()) << format;
    EXPECT_LE(d, times.back() + 0.16) << format;
    std::vector<int> want;
    for (int i = 0; i < 9; ++i) {
      const int k = shown_at(times, d * i / 9);
      if (want.empty() || want.back() != k) want.push_back(k);
    }
    ASSERT_EQ(v.frames.size(), want.size()) << format;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(number_of(v.frames[i].image), want[i]) << format << " i=" << i;
      EXPECT_NEAR(v.frames[i].time_s, times[static_cast<size_t>(want[i])], 2e-3) << format;
    }
    o.sampling = Sampling::kLlamaCpp;
    o.fps = 4;
    const Video l = decode_video(bytes, o);
    for (size_t k = 0; k < l.frames.size(); ++k) {
      EXPECT_EQ(number_of(l.frames[k].image), shown_at(times, static_cast<double>(k) / 4)) << format << " k=" << k;
    }
  }
}

TEST(DecodeVideo, ASingleFrame) {
  for (const char* format : kFormats) {
    VideoSpec spec;
    spec.format = format;
    spec.frames = 1;
    const std::string bytes = mkmedia::encode_video(spec);
    ASSERT_EQ(probe(bytes), Kind::kVideo) << format;
    for (Sampling s : {Sampling::kGoogle, Sampling::kLlamaCpp}) {
      VideoOptions o;
      o.sampling = s;
      const Video v = decode_video(bytes, o);
      ASSERT_EQ(v.frames.size(), 1u) << format;
      EXPECT_EQ(number_of(v.frames[0].image), 0);
      EXPECT_EQ(v.frames[0].time_s, 0);
      EXPECT_LE(v.duration_s, 0.11);
    }
  }
}

TEST(DecodeVideo, LongerVideosSeekWithoutLosingFrames) {
  // 60 s at 5 fps with a keyframe every 2 s: picks 75 frames apart are reached by seeking to the keyframe
  // before each (in mp4's index, and in mkv's cues).
  for (const char* format : {"mp4", "mkv"}) {
    VideoSpec spec;
    spec.format = format;
    spec.seconds = 60;
    spec.fps = 5;
    spec.width = 80;
    spec.height = 48;
    const std::string bytes = mkmedia::encode_video(spec);
    for (int n : {4, 7}) {
      VideoOptions o;
      o.max_frames = n;
      const Video v = decode_video(bytes, o);
      ASSERT_EQ(v.frames.size(), static_cast<size_t>(n));
      for (int i = 0; i < n; ++i)
        EXPECT_EQ(number_of(v.frames[static_cast<size_t>(i)].image), i * 300 / n) << format << i;
    }
  }
}

TEST(DecodeVideo, DisplayRotationIsApplied) {
  for (const char* format : {"mp4", "mov"}) {
    for (int rotate : {90, 180, 270}) {
      VideoSpec spec;
      spec.format = format;
      spec.frames = 3;
      spec.rotate = rotate;
      const Video v = decode_video(mkmedia::encode_video(spec), VideoOptions{});
      ASSERT_FALSE(v.frames.empty());
      const Image& img = v.frames[0].image;
      const bool turned = rotate != 180;
      ASSERT_EQ(img.width, turned ? 96 : 128) << format << rotate;
      ASSERT_EQ(img.height, turned ? 128 : 96) << format << rotate;
      // Stored: red bottom-left, blue bottom-right. Turned clockwise by 90: red top-left, blue bottom-left;
      // 180: red top-right, blue top-left; 270: red bottom-right, blue top-right.
      const int red_q = rotate == 90 ? 0 : rotate == 180 ? 1 : 3;
      const int blue_q = rotate == 90 ? 2 : rotate == 180 ? 0 : 1;
      const uint8_t red[3] = {200, 40, 40}, blue[3] = {40, 40, 200};
      EXPECT_LT(testing::max_channel_gap(testing::quadrant(img, red_q), red), 25) << format << " " << rotate;
      EXPECT_LT(testing::max_channel_gap(testing::quadrant(img, blue_q), blue), 25) << format << " " << rotate;
    }
  }
}

TEST(DecodeVideo, TheSoundTrackComesAlongWhenAsked) {
  for (const char* format : kFormats) {
    VideoSpec spec;
    spec.format = format;
    spec.seconds = 2;
    spec.with_audio = true;
    const std::string bytes = mkmedia::encode_video(spec);
    VideoOptions o;
    EXPECT_FALSE(decode_video(bytes, o).audio.has_value()) << format;
    o.with_audio = true;
    const Video v = decode_video(bytes, o);
    ASSERT_TRUE(v.audio.has_value()) << format;
    EXPECT_NEAR(v.audio->seconds(), 2.0, 0.08) << format;
    EXPECT_NEAR(testing::rms(v.audio->samples, 1600, v.audio->samples.size() - 1600), 0.3536, 0.03) << format;
    // A video without sound: no audio, no error.
    spec.with_audio = false;
    EXPECT_FALSE(decode_video(mkmedia::encode_video(spec), o).audio.has_value()) << format;
  }
}

TEST(DecodeVideo, WhatIsNotAVideo) {
  mkmedia::AudioSpec a;
  a.format = "m4a";
  EXPECT_EQ(error_of([&] { decode_video(mkmedia::encode_audio(a), VideoOptions{}); }),
            "expected a video; the content is audio (mp4/mov), with no video stream");
  a.format = "webm";
  EXPECT_EQ(error_of([&] { decode_video(mkmedia::encode_audio(a), VideoOptions{}); }),
            "expected a video; the content is audio (matroska/webm), with no video stream");
  mkmedia::ImageSpec img;
  img.format = "gif";
  img.pixels = mkmedia::Pixels::kPalette;
  img.frames = 3;
  EXPECT_EQ(error_of([&] { decode_video(mkmedia::encode_image(img), VideoOptions{}); }),
            "expected a video; the content is an image (gif)");
  EXPECT_EQ(probe(mkmedia::encode_audio(a)), Kind::kAudio);
}

TEST(DecodeVideo, LimitsAndOptions) {
  VideoSpec spec;
  spec.seconds = 2;
  const std::string bytes = mkmedia::encode_video(spec);
  Limits l;
  l.max_video_seconds = 1.5;
  EXPECT_EQ(error_of([&] { decode_video(bytes, VideoOptions{}, l); }),
            "video is 2 s long; the limit is 1.5 s (LOCUS_MEDIA_MAX_VIDEO_SECONDS)");
  Limits p;
  p.max_pixels = 10000;
  EXPECT_EQ(error_of([&] { decode_video(bytes, VideoOptions{}, p); }),
            "video frame is 128x96 = 12288 pixels; the limit is 10000 (LOCUS_MEDIA_MAX_PIXELS)");
  VideoOptions o;
  o.max_frames = 65;
  EXPECT_EQ(error_of([&] { decode_video(bytes, o); }),
            "the request asks for 65 video frames; the limit is 64 (LOCUS_MEDIA_MAX_VIDEO_FRAMES)");
  o.max_frames = 0;
  EXPECT_EQ(error_of([&] { decode_video(bytes, o); }), "the request asks for 0 video frames; expected at least 1");
  o.max_frames = 4;
  o.sampling = Sampling::kLlamaCpp;
  o.fps = 0;
  EXPECT_TRUE(has(error_of([&] { decode_video(bytes, o); }), "expected a number above 0"));
  // The sound track of a video is held to the video's limit.
  VideoSpec with_sound = spec;
  with_sound.with_audio = true;
  Limits s;
  s.max_streams = 1;
  EXPECT_TRUE(has(error_of([&] { decode_video(mkmedia::encode_video(with_sound), VideoOptions{}, s); }),
                  "(LOCUS_MEDIA_MAX_STREAMS)"));
}

TEST(DecodeVideo, TruncatedAndCorruptVideosDecodeOrFailInOneLine) {
  std::mt19937 rng(3);
  for (const char* format : kFormats) {
    VideoSpec spec;
    spec.format = format;
    spec.seconds = 1;
    spec.width = 64;
    spec.height = 48;
    spec.with_audio = true;
    const std::string good = mkmedia::encode_video(spec);
    for (int trial = 0; trial < 30; ++trial) {
      std::string bad = good;
      if (trial < 10) {
        bad.resize(static_cast<size_t>(rng() % good.size()));
      } else {
        for (int k = 0; k < 1 + trial % 6; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
      }
      VideoOptions o;
      o.with_audio = trial % 2 == 0;
      o.sampling = trial % 3 == 0 ? Sampling::kLlamaCpp : Sampling::kGoogle;
      try {
        const Video v = decode_video(bad, o);
        ASSERT_FALSE(v.frames.empty());
        for (const VideoFrame& f : v.frames) {
          ASSERT_EQ(f.image.rgb.size(), static_cast<size_t>(f.image.width) * f.image.height * 3);
        }
        for (size_t i = 1; i < v.frames.size(); ++i) ASSERT_GE(v.frames[i].time_s, v.frames[i - 1].time_s);
      } catch (const MediaError& e) {
        ASSERT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace locus::media
