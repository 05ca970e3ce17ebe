// prepare_media on real encoded media (tools/mkmedia's synthesizer): what each medium becomes, over many sizes,
// lengths, frame rates and settings. Images: the rule's size and budget. Audio: ceil(n / 640) rows in 30 s windows
// that together hold every sample. Video, Google's layout: min(frames, video_frames) frames of the frame budget, an
// "MM:SS " stamp before each (a space between frames); llama.cpp's layout: "Video:", frames at fps, a "[XmY.YYs]"
// stamp after the frame reaching each 5 s mark; frames sized by the layout's own rule; with video_audio the sound
// of each frame's interval after it, together the whole track.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "runtime/media_prompt.h"
#include "mkmedia/synth.h"

namespace locus::runtime {
namespace {

struct Summary {
  int images = 0, audio_blocks = 0;
  int64_t image_rows = 0, audio_samples = 0, max_window = 0;
  std::vector<std::string> texts;
  std::vector<char> order;  // 't', 'i', 'a'
};

Summary summarize(const PreparedMedia& p) {
  Summary s;
  for (const MediaSegment& seg : p.segments) {
    if (seg.input == nullptr) {
      s.texts.push_back(seg.text);
      s.order.push_back('t');
    } else if (seg.input->kind == MediaInput::Kind::kImage) {
      ++s.images;
      s.image_rows += seg.input->tokens();
      s.order.push_back('i');
      EXPECT_EQ(seg.input->width % 48, 0);
      EXPECT_EQ(seg.input->height % 48, 0);
    } else {
      ++s.audio_blocks;
      const int64_t n = static_cast<int64_t>(seg.input->samples.size());
      s.audio_samples += n;
      s.max_window = std::max(s.max_window, n);
      EXPECT_EQ(seg.input->tokens(), (n + 639) / 640);
      s.order.push_back('a');
    }
  }
  return s;
}

TEST(MediaLayout, ImagesTakeTheRulesSizeAndBudget) {
  int checked = 0;
  for (auto [w, h] : {std::pair{640, 480}, {97, 1203}, {1920, 1080}, {33, 33}, {3000, 200}}) {
    mkmedia::ImageSpec spec;
    spec.width = w;
    spec.height = h;
    spec.seed = static_cast<uint32_t>(w + h);
    const std::string png = mkmedia::encode_image(spec);
    for (int tokens : {70, 280, 1120}) {
      MediaSettings g;
      g.image_tokens = tokens;
      const Summary a = summarize(prepare_media(png, g));
      ASSERT_EQ(a.images, 1);
      EXPECT_EQ(a.image_rows, media::google_size(w, h, tokens).tokens()) << w << "x" << h << " " << tokens;
      EXPECT_LE(a.image_rows, tokens);
      MediaSettings l = g;
      l.size_rule = media::SizeRule::kLlamaCpp;
      const Summary b = summarize(prepare_media(png, l));
      EXPECT_EQ(b.image_rows, media::llama_cpp_size(w, h, 70, tokens).tokens()) << w << "x" << h << " " << tokens;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 15);
  MediaSettings bad;
  bad.image_tokens = 300;
  EXPECT_THROW(prepare_media(mkmedia::encode_image({}), bad), std::invalid_argument);
}

TEST(MediaLayout, AudioIsCutIntoThirtySecondWindowsHoldingEverySample) {
  for (double seconds : {0.05, 1.0, 29.9, 30.0, 31.0, 65.5}) {
    mkmedia::AudioSpec spec;
    spec.format = "wav";
    spec.seconds = seconds;
    spec.rate = 16000;
    const Summary s = summarize(prepare_media(mkmedia::encode_audio(spec), MediaSettings{}));
    const int64_t n = std::llround(seconds * 16000);
    EXPECT_NEAR(static_cast<double>(s.audio_samples), static_cast<double>(n), 1.0) << seconds;
    EXPECT_EQ(s.audio_blocks, static_cast<int>((s.audio_samples + kAudioWindowSamples - 1) / kAudioWindowSamples))
        << seconds;
    EXPECT_LE(s.max_window, kAudioWindowSamples);
    EXPECT_EQ(s.images, 0);
  }
}

TEST(MediaLayout, GoogleVideoLayout) {
  for (auto [seconds, fps, frames] : {std::tuple{2.0, 10.0, 32}, {5.0, 8.0, 4}, {1.0, 3.0, 32}, {12.0, 5.0, 7}}) {
    mkmedia::VideoSpec spec;
    spec.format = "mp4";
    spec.seconds = seconds;
    spec.fps = fps;
    const std::string bytes = mkmedia::encode_video(spec);
    for (int frame_tokens : {70, 140}) {
      MediaSettings ms;
      ms.video_frames = frames;
      ms.video_frame_tokens = frame_tokens;
      ms.size_rule = media::SizeRule::kLlamaCpp;  // the image rule does not size frames: the layout's does
      const PreparedMedia p = prepare_media(bytes, ms);
      EXPECT_EQ(p.kind, media::Kind::kVideo);
      const Summary s = summarize(p);
      const int n_frames = std::min(frames, static_cast<int>(std::lround(seconds * fps)));
      EXPECT_EQ(s.images, n_frames) << seconds << " s at " << fps << " fps, " << frames << " frames";
      EXPECT_EQ(s.image_rows, int64_t{n_frames} * media::google_size(spec.width, spec.height, frame_tokens).tokens());
      ASSERT_EQ(s.texts.size(), static_cast<size_t>(n_frames));
      for (size_t i = 0; i < s.texts.size(); ++i) {
        EXPECT_EQ(s.order[2 * i], 't');
        EXPECT_EQ(s.order[2 * i + 1], 'i');
        const std::string& t = s.texts[i];
        EXPECT_EQ(t.size(), i == 0 ? 6u : 7u) << "'" << t << "'";
        EXPECT_EQ(t.substr(t.size() - 4, 1), ":") << t;
      }
      EXPECT_EQ(s.audio_blocks, 0);
    }
  }
}

TEST(MediaLayout, LlamaCppVideoLayout) {
  for (auto [seconds, fps] : {std::pair{2.0, 10.0}, {11.0, 4.0}, {6.0, 2.0}}) {
    mkmedia::VideoSpec spec;
    spec.format = "webm";
    spec.seconds = seconds;
    spec.fps = fps;
    const std::string bytes = mkmedia::encode_video(spec);
    MediaSettings ms;
    ms.video_layout = MediaSettings::VideoLayout::kLlamaCpp;
    ms.video_frames = 64;
    ms.video_fps = 2;
    ms.video_frame_tokens = 100;  // off Google's ladder: fine under llama.cpp's rule
    const Summary s = summarize(prepare_media(bytes, ms));
    ASSERT_FALSE(s.texts.empty());
    EXPECT_EQ(s.texts[0], "Video:");
    EXPECT_EQ(s.images, static_cast<int>(std::ceil(seconds * 2 - 1e-9))) << seconds;
    EXPECT_EQ(s.image_rows, int64_t{s.images} * media::llama_cpp_size(spec.width, spec.height, 70, 100).tokens());
    // A stamp after the frame reaching each 5 s mark: 0 s, 5 s, 10 s, ...
    const size_t stamps = s.texts.size() - 1;
    EXPECT_EQ(stamps, static_cast<size_t>(std::floor((s.images - 1) / 2.0 / 5.0)) + 1) << seconds;
    EXPECT_EQ(s.texts[1], "[0m0.00s]");
    if (stamps > 1) {
      EXPECT_EQ(s.texts[2], "[0m5.00s]");
    }
  }
  MediaSettings google_budget_only;
  google_budget_only.video_frame_tokens = 100;  // Google's layout takes Google's ladder only
  mkmedia::VideoSpec spec;
  EXPECT_THROW(prepare_media(mkmedia::encode_video(spec), google_budget_only), std::invalid_argument);
}

TEST(MediaLayout, AVideosSoundFollowsEachFrameAndAddsUpToTheTrack) {
  for (const char* format : {"mp4", "mkv", "webm", "avi"}) {
    for (double seconds : {1.0, 3.0}) {
      mkmedia::VideoSpec spec;
      spec.format = format;
      spec.seconds = seconds;
      spec.fps = 6;
      spec.with_audio = true;
      const std::string bytes = mkmedia::encode_video(spec);
      MediaSettings ms;
      ms.video_frames = 8;
      const Summary without = summarize(prepare_media(bytes, ms));
      EXPECT_EQ(without.audio_blocks, 0);
      ms.video_audio = true;
      const PreparedMedia p = prepare_media(bytes, ms);
      const Summary s = summarize(p);
      EXPECT_EQ(s.images, without.images);
      EXPECT_GE(s.audio_blocks, s.images - 1) << format << " " << seconds;
      // Every frame's sound directly after it (never before the first frame).
      EXPECT_EQ(s.order[0], 't');
      EXPECT_EQ(s.order[1], 'i');
      EXPECT_NEAR(static_cast<double>(s.audio_samples) / 16000.0, p.audio_seconds, 0.1) << format << " " << seconds;
      EXPECT_NEAR(p.audio_seconds, seconds, 0.3) << format << " " << seconds;
    }
  }
  // A transcription hears a video's track only.
  mkmedia::VideoSpec spec;
  spec.with_audio = true;
  spec.seconds = 2;
  MediaSettings heard;
  heard.audio_only = true;
  const Summary s = summarize(prepare_media(mkmedia::encode_video(spec), heard));
  EXPECT_EQ(s.images, 0);
  EXPECT_NEAR(static_cast<double>(s.audio_samples) / 16000.0, 2.0, 0.3);
}

}  // namespace
}  // namespace locus::runtime
