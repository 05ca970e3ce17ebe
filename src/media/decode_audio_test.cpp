// decode_audio: every audio format, rate and channel layout comes out as mono 16 kHz of the right length and
// level; the channels are averaged; bad input gets its defined result.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "media/media.h"
#include "media/test_media.h"
#include "synth.h"

namespace locus::media {
namespace {

using mkmedia::AudioSpec;
using testing::error_of;
using testing::rms;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
bool lossless(const std::string& f) { return f == "wav" || f == "flac" || f == "aiff"; }

// Supported rates per format: Opus takes 8, 12, 16, 24 or 48 kHz (not 44.1).
bool takes(const std::string& format, int rate) { return !((format == "ogg" || format == "webm") && rate == 44100); }

TEST(DecodeAudio, EveryFormatRateAndLayoutGivesTheRightLengthAndLevel) {
  const double seconds = 1.5;
  for (const char* format : {"wav", "mp3", "flac", "ogg", "m4a", "webm", "aiff", "aac"}) {
    for (int rate : {8000, 44100, 48000}) {
      for (int channels : {1, 2, 6}) {
        if (!takes(format, rate) || (std::string(format) == "mp3" && channels > 2)) continue;
        AudioSpec spec;
        spec.format = format;
        spec.rate = rate;
        spec.channels = channels;
        spec.seconds = seconds;
        spec.frequency = rate == 8000 ? 300 : 440;  // well inside every codec's band
        spec.seed = static_cast<uint32_t>(rate + channels);
        const std::string what = std::string(format) + " " + std::to_string(rate) + " Hz x" + std::to_string(channels);
        const std::string bytes = mkmedia::encode_audio(spec);
        ASSERT_EQ(probe(bytes), Kind::kAudio) << what;
        const Audio a = decode_audio(bytes);
        // Length: exact to a few samples for PCM and FLAC; lossy codecs pad to their frame (AAC 1024 samples,
        // MP3 1152, Opus 20 ms), within 60 ms. Raw AAC has no container to say how much of its start is encoder
        // priming (1024 samples) and of its end padding, so both stay: up to 2048 samples more.
        const double tol = lossless(format) ? 3.0 / 16000 : std::string(format) == "aac" ? 2048.0 / rate + 0.01 : 0.06;
        if (std::string(format) == "aac") {
          EXPECT_GE(a.seconds(), seconds) << what;
        }
        EXPECT_NEAR(a.seconds(), seconds + (std::string(format) == "aac" ? 1024.0 / rate : 0), tol) << what;
        // Level: the same tone in every channel averages to itself: RMS 0.5 / sqrt(2) (plus a little noise).
        // Lossy codecs keep it within 8% (LAME's MP3 comes out about 5% lower).
        double want = std::sqrt(0.5 * 0.5 / 2 + 0.01 * 0.01 / 3 / channels);
        // AAC codes a 5.1 stream's LFE channel band-limited (about 120 Hz): the 440 Hz tone is gone from it.
        if ((std::string(format) == "m4a" || std::string(format) == "aac") && channels == 6) want *= 5.0 / 6.0;
        const double got = rms(a.samples, 1600, a.samples.size() - 1600);  // away from the edges
        EXPECT_NEAR(got, want, want * (lossless(format) ? 0.01 : 0.08)) << what;
        for (float v : a.samples) ASSERT_TRUE(v >= -1.0f && v <= 1.0f) << what;
      }
    }
  }
}

TEST(DecodeAudio, ChannelsAreAveragedNotSummed) {
  for (const char* format : {"wav", "flac", "m4a"}) {
    AudioSpec spec;
    spec.format = format;
    spec.rate = 48000;
    spec.channels = 6;
    spec.noise = 0;
    spec.gains = {1, 0, 0, 0, 0, 0};  // the tone in front-left only
    const Audio one = decode_audio(mkmedia::encode_audio(spec));
    const double tone = 0.5 / std::sqrt(2.0);
    EXPECT_NEAR(rms(one.samples, 1600, 20000), tone / 6, tone / 6 * 0.05) << format;
    spec.gains = {0, 0, 0, 1, 0, 0};  // LFE too (miniaudio averages every channel, LFE included)
    const Audio lfe = decode_audio(mkmedia::encode_audio(spec));
    if (std::string(format) != "m4a") {  // AAC codes the LFE channel band-limited: skip the level there
      EXPECT_NEAR(rms(lfe.samples, 1600, 20000), tone / 6, tone / 6 * 0.05) << format;
    }
    spec.channels = 2;
    spec.gains = {1, -1};  // opposite phases cancel in the average
    const Audio cancel = decode_audio(mkmedia::encode_audio(spec));
    EXPECT_LT(rms(cancel.samples, 1600, 20000), lossless(format) ? 1e-4 : 0.02) << format;
    spec.gains = {1, 0.5};
    const Audio mix = decode_audio(mkmedia::encode_audio(spec));
    EXPECT_NEAR(rms(mix.samples, 1600, 20000), tone * 0.75, tone * 0.75 * 0.03) << format;
  }
}

TEST(DecodeAudio, SilenceIsSilence) {
  for (const char* format : {"wav", "mp3", "flac", "ogg", "m4a", "webm"}) {
    AudioSpec spec;
    spec.format = format;
    spec.rate = 48000;
    spec.channels = 2;
    spec.amplitude = 0;
    spec.noise = 0;
    const Audio a = decode_audio(mkmedia::encode_audio(spec));
    EXPECT_NEAR(a.seconds(), 1.0, 0.06) << format;
    float peak = 0;
    for (float v : a.samples) peak = std::max(peak, std::fabs(v));
    EXPECT_LE(peak, lossless(format) ? 0.0f : 1e-3f) << format;
  }
}

TEST(DecodeAudio, TruncatedAudioDecodesWhatIsThereOrFails) {
  for (const char* format : {"wav", "mp3", "flac", "ogg", "m4a", "webm", "aiff", "aac"}) {
    AudioSpec spec;
    spec.format = format;
    spec.seconds = 2;
    spec.channels = 2;
    const std::string full = mkmedia::encode_audio(spec);
    for (double cut : {0.9, 0.5, 0.1, 0.01}) {
      const std::string part = full.substr(0, static_cast<size_t>(static_cast<double>(full.size()) * cut));
      try {
        const Audio a = decode_audio(part);
        EXPECT_LE(a.seconds(), 2.1) << format << " cut " << cut;
        if (std::string(format) == "wav") {
          EXPECT_NEAR(a.seconds(), 2 * cut, 0.05) << "cut " << cut;
        }
      } catch (const MediaError& e) {
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
        // Only M4A (its index sits at the end), and tiny prefixes, may fail outright.
        EXPECT_TRUE(std::string(format) == "m4a" || cut <= 0.1) << format << " cut " << cut << ": " << e.what();
      }
    }
  }
}

TEST(DecodeAudio, CorruptAudioDecodesOrFailsInOneLine) {
  std::mt19937 rng(5);
  for (const char* format : {"wav", "mp3", "flac", "ogg", "m4a", "webm", "aiff", "aac"}) {
    AudioSpec spec;
    spec.format = format;
    spec.seconds = 0.5;
    const std::string good = mkmedia::encode_audio(spec);
    for (int trial = 0; trial < 40; ++trial) {
      std::string bad = good;
      for (int k = 0; k < 1 + trial % 8; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
      try {
        const Audio a = decode_audio(bad);
        for (float v : a.samples) ASSERT_TRUE(v >= -1.0f && v <= 1.0f);
      } catch (const MediaError& e) {
        ASSERT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      }
    }
  }
}

TEST(DecodeAudio, DurationLimitFromTheHeaderAndWhileDecoding) {
  AudioSpec spec;
  spec.seconds = 2;
  Limits l;
  l.max_audio_seconds = 1.5;
  EXPECT_EQ(error_of([&] { decode_audio(mkmedia::encode_audio(spec), l); }),
            "audio is 2 s long; the limit is 1.5 s (LOCUS_MEDIA_MAX_AUDIO_SECONDS)");
  for (const char* format : {"mp3", "flac", "ogg", "m4a", "webm", "aiff"}) {
    spec.format = format;
    // (MP3 and Opus headers count the codec's padding too: 2.04 and 2.01 s.)
    EXPECT_TRUE(has(error_of([&] { decode_audio(mkmedia::encode_audio(spec), l); }), " s long; the limit is 1.5 s"))
        << format;
  }
  // Raw AAC has no header that gives a length: caught while decoding.
  spec.format = "aac";
  EXPECT_TRUE(has(error_of([&] { decode_audio(mkmedia::encode_audio(spec), l); }), "audio is at least ")) << "aac";
  // A WAV whose header gives no length (sizes 0xFFFFFFFF, as streaming writers leave them): caught as it decodes.
  spec.format = "wav";
  spec.seconds = 4;
  std::string wav = mkmedia::encode_audio(spec);
  const size_t data = wav.find("data");
  ASSERT_NE(data, std::string::npos);
  for (size_t at : {size_t{4}, data + 4}) wav.replace(at, 4, std::string(4, '\xff'));
  const std::string e = error_of([&] { decode_audio(wav, l); });
  EXPECT_TRUE(has(e, "audio is at least ") && has(e, "the limit is 1.5 s (LOCUS_MEDIA_MAX_AUDIO_SECONDS)")) << e;
  EXPECT_NEAR(decode_audio(wav).seconds(), 4, 0.01);
}

TEST(DecodeAudio, MislabelledAndMissingAudio) {
  mkmedia::ImageSpec img;
  EXPECT_EQ(error_of([&] { decode_audio(mkmedia::encode_image(img)); }),
            "expected audio; the content is an image (png)");
  mkmedia::VideoSpec v;
  v.frames = 3;
  EXPECT_EQ(error_of([&] { decode_audio(mkmedia::encode_video(v)); }),
            "expected audio; the mp4/mov file has no audio stream FFmpeg can decode (streams: video h264)");
  EXPECT_TRUE(has(error_of([] { decode_audio(""); }), "empty"));
}

TEST(DecodeAudio, TheSoundTrackOfAVideo) {
  for (const char* format : {"mp4", "webm", "mkv", "avi", "mov"}) {
    mkmedia::VideoSpec v;
    v.format = format;
    v.seconds = 1.5;
    v.with_audio = true;
    const std::string bytes = mkmedia::encode_video(v);
    EXPECT_EQ(probe(bytes), Kind::kVideo) << format;
    const Audio a = decode_audio(bytes);
    EXPECT_NEAR(a.seconds(), 1.5, 0.08) << format;
    EXPECT_NEAR(rms(a.samples, 1600, a.samples.size() - 1600), 0.3536, 0.03) << format;
  }
}

TEST(DecodeAudio, ByteAndStreamLimits) {
  AudioSpec spec;
  spec.seconds = 0.2;
  const std::string wav = mkmedia::encode_audio(spec);
  Limits l;
  l.max_bytes = 1000;
  EXPECT_EQ(error_of([&] { decode_audio(wav, l); }),
            "the media is " + std::to_string(wav.size()) + " bytes; the limit is 1000 (LOCUS_MEDIA_MAX_BYTES)");
  mkmedia::VideoSpec v;
  v.frames = 2;
  v.with_audio = true;
  Limits s;
  s.max_streams = 1;
  EXPECT_TRUE(has(error_of([&] { decode_audio(mkmedia::encode_video(v), s); }),
                  "has 2 streams; the limit is 1 (LOCUS_MEDIA_MAX_STREAMS)"));
}

}  // namespace
}  // namespace locus::media
