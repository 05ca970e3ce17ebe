// Limits::from_env, kind_name and probe's answers for every format.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "media/media.h"
#include "media/test_media.h"
#include "synth.h"

namespace locus::media {
namespace {

using testing::error_of;

const char* kVars[] = {"LOCUS_MEDIA_MAX_BYTES",         "LOCUS_MEDIA_MAX_PIXELS",  "LOCUS_MEDIA_MAX_AUDIO_SECONDS",
                       "LOCUS_MEDIA_MAX_VIDEO_SECONDS", "LOCUS_MEDIA_MAX_STREAMS", "LOCUS_MEDIA_MAX_VIDEO_FRAMES"};

struct CleanEnv {
  CleanEnv() {
    for (const char* v : kVars) unsetenv(v);
  }
  ~CleanEnv() {
    for (const char* v : kVars) unsetenv(v);
  }
};

TEST(Limits, DefaultsWithoutTheEnvironment) {
  CleanEnv env;
  const Limits l = Limits::from_env();
  const Limits d;
  EXPECT_EQ(l.max_bytes, d.max_bytes);
  EXPECT_EQ(l.max_bytes, 100ull << 20);
  EXPECT_EQ(l.max_pixels, 50'000'000u);
  EXPECT_EQ(l.max_audio_seconds, 600);
  EXPECT_EQ(l.max_video_seconds, 600);
  EXPECT_EQ(l.max_streams, 16);
  EXPECT_EQ(l.max_video_frames, 64);
}

TEST(Limits, EachVariableSetsItsLimit) {
  CleanEnv env;
  setenv("LOCUS_MEDIA_MAX_BYTES", "12345", 1);
  setenv("LOCUS_MEDIA_MAX_PIXELS", " 777 ", 1);
  setenv("LOCUS_MEDIA_MAX_AUDIO_SECONDS", "30.5", 1);
  setenv("LOCUS_MEDIA_MAX_VIDEO_SECONDS", "90", 1);
  setenv("LOCUS_MEDIA_MAX_STREAMS", "3", 1);
  setenv("LOCUS_MEDIA_MAX_VIDEO_FRAMES", "8", 1);
  const Limits l = Limits::from_env();
  EXPECT_EQ(l.max_bytes, 12345u);
  EXPECT_EQ(l.max_pixels, 777u);
  EXPECT_EQ(l.max_audio_seconds, 30.5);
  EXPECT_EQ(l.max_video_seconds, 90);
  EXPECT_EQ(l.max_streams, 3);
  EXPECT_EQ(l.max_video_frames, 8);
}

TEST(Limits, BadValuesAreRefusedByName) {
  const std::pair<const char*, const char*> bad[] = {
      {"LOCUS_MEDIA_MAX_BYTES", "0"},
      {"LOCUS_MEDIA_MAX_BYTES", "-5"},
      {"LOCUS_MEDIA_MAX_BYTES", "1.5"},
      {"LOCUS_MEDIA_MAX_BYTES", "10MB"},
      {"LOCUS_MEDIA_MAX_BYTES", ""},
      {"LOCUS_MEDIA_MAX_PIXELS", "99999999999999999999"},
      {"LOCUS_MEDIA_MAX_AUDIO_SECONDS", "0"},
      {"LOCUS_MEDIA_MAX_AUDIO_SECONDS", "nan"},
      {"LOCUS_MEDIA_MAX_AUDIO_SECONDS", "inf"},
      {"LOCUS_MEDIA_MAX_VIDEO_SECONDS", "1e3"},
      {"LOCUS_MEDIA_MAX_VIDEO_SECONDS", "ten"},
      {"LOCUS_MEDIA_MAX_STREAMS", "1001"},
      {"LOCUS_MEDIA_MAX_VIDEO_FRAMES", "abc"},
  };
  for (const auto& [name, value] : bad) {
    CleanEnv env;
    setenv(name, value, 1);
    const std::string e = error_of([] { Limits::from_env(); });
    EXPECT_EQ(e.rfind(std::string(name) + " is '" + value + "'; expected", 0), 0u) << e;
  }
}

TEST(Kind, Names) {
  EXPECT_STREQ(kind_name(Kind::kImage), "image");
  EXPECT_STREQ(kind_name(Kind::kAudio), "audio");
  EXPECT_STREQ(kind_name(Kind::kVideo), "video");
}

TEST(Probe, EveryFormatByContent) {
  for (const char* f : {"png", "jpeg", "webp", "gif", "bmp", "tiff"}) {
    mkmedia::ImageSpec s;
    s.format = f;
    s.pixels = std::string(f) == "gif" ? mkmedia::Pixels::kPalette : mkmedia::Pixels::kRgb;
    EXPECT_EQ(probe(mkmedia::encode_image(s)), Kind::kImage) << f;
    s.frames = 3;
    if (std::string(f) == "png" || std::string(f) == "gif" || std::string(f) == "webp") {
      EXPECT_EQ(probe(mkmedia::encode_image(s)), Kind::kImage) << f << " animated";
    }
  }
  for (const char* f : {"wav", "mp3", "flac", "ogg", "m4a", "webm", "aiff", "aac"}) {
    mkmedia::AudioSpec s;
    s.format = f;
    s.seconds = 0.3;
    EXPECT_EQ(probe(mkmedia::encode_audio(s)), Kind::kAudio) << f;
  }
  for (const char* f : {"mp4", "webm", "mkv", "avi", "mov"}) {
    mkmedia::VideoSpec s;
    s.format = f;
    s.frames = 2;
    EXPECT_EQ(probe(mkmedia::encode_video(s)), Kind::kVideo) << f;
    s.with_audio = true;
    EXPECT_EQ(probe(mkmedia::encode_video(s)), Kind::kVideo) << f << " with sound";
  }
}

}  // namespace
}  // namespace locus::media
