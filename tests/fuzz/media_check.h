// What the media front door (src/media/media.h) must do with any bytes, shared by the libFuzzer target
// (media_fuzz.cpp) and the corpus replay test (media_corpus_test.cpp).
//
// The bytes go through probe, decode_image, decode_audio, decode_video (Google's sampling with the sound track,
// and llama.cpp's at 2 frames per second) and, for a picture, fit_image under both size rules, all with small
// limits. Each call returns a result or throws MediaError with a non-empty one-line message; nothing else may
// escape (anything else, a crash or a sanitizer report is a bug). Results must keep their promises:
// - a picture is at least 1x1, within the pixel limit, with width * height * 3 bytes; fit_image gives sides in
//   multiples of 48 within the token budget;
// - audio samples are finite, in [-1, 1], and no longer than the duration limit (plus a second of slack);
// - a video has at least one frame and no more than asked, times finite, non-negative and in order.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "media/media.h"

namespace locus::fuzz {

inline media::Limits fuzz_limits() {
  media::Limits l;
  l.max_bytes = 1 << 20;
  l.max_pixels = 1 << 20;
  l.max_audio_seconds = 4;
  l.max_video_seconds = 4;
  l.max_streams = 4;
  l.max_video_frames = 4;
  return l;
}

inline std::string check_picture(const media::Image& img, const media::Limits& l, const char* who) {
  if (img.width < 1 || img.height < 1) return std::string(who) + ": empty picture";
  if (static_cast<uint64_t>(img.width) * static_cast<uint64_t>(img.height) > l.max_pixels) {
    return std::string(who) + ": picture over the pixel limit";
  }
  if (img.rgb.size() != static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 3) {
    return std::string(who) + ": picture size and bytes disagree";
  }
  return "";
}

inline std::string check_audio(const media::Audio& a, double max_seconds, const char* who) {
  for (float v : a.samples) {
    if (!std::isfinite(v) || v < -1.0f || v > 1.0f) return std::string(who) + ": sample out of [-1, 1]";
  }
  if (a.seconds() > max_seconds + 1.5) return std::string(who) + ": audio longer than the limit";
  return "";
}

inline std::string check_message(const media::MediaError& e, const char* who) {
  const std::string m = e.what();
  if (m.empty()) return std::string(who) + ": empty error message";
  if (m.find('\n') != std::string::npos) return std::string(who) + ": error message of several lines: " + m;
  return "";
}

// "" when every invariant holds, else what broke.
inline std::string check_media(const uint8_t* data, size_t size) {
  using namespace locus::media;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Limits l = fuzz_limits();
  std::string bad;
  try {
    probe(bytes, l);
  } catch (const MediaError& e) {
    if (!(bad = check_message(e, "probe")).empty()) return bad;
  }
  try {
    const Image img = decode_image(bytes, l);
    if (!(bad = check_picture(img, l, "decode_image")).empty()) return bad;
    for (SizeRule rule : {SizeRule::kGoogle, SizeRule::kLlamaCpp}) {
      const Image fit = fit_image(img, rule, 70);
      if (fit.width % kPatch != 0 || fit.height % kPatch != 0) return "fit_image: sides not multiples of 48";
      if ((fit.width / kPatch) * (fit.height / kPatch) > 70) return "fit_image: over the token budget";
      if (fit.rgb.size() != static_cast<size_t>(fit.width) * static_cast<size_t>(fit.height) * 3) {
        return "fit_image: size and bytes disagree";
      }
    }
  } catch (const MediaError& e) {
    if (!(bad = check_message(e, "decode_image")).empty()) return bad;
  }
  try {
    const Audio a = decode_audio(bytes, l);
    if (!(bad = check_audio(a, l.max_audio_seconds, "decode_audio")).empty()) return bad;
  } catch (const MediaError& e) {
    if (!(bad = check_message(e, "decode_audio")).empty()) return bad;
  }
  for (int pass = 0; pass < 2; ++pass) {
    VideoOptions o;
    o.max_frames = 3;
    o.with_audio = pass == 0;
    if (pass == 1) {
      o.sampling = VideoOptions::Sampling::kLlamaCpp;
      o.fps = 2;
    }
    try {
      const Video v = decode_video(bytes, o, l);
      if (v.frames.empty() || v.frames.size() > 3) return "decode_video: frame count outside 1..3";
      if (!std::isfinite(v.duration_s) || v.duration_s < 0) return "decode_video: bad duration";
      double last = 0;
      for (const VideoFrame& f : v.frames) {
        if (!std::isfinite(f.time_s) || f.time_s < last) return "decode_video: frame times out of order";
        last = f.time_s;
        if (!(bad = check_picture(f.image, l, "decode_video")).empty()) return bad;
      }
      // The sound may be padded by up to the video's length to line up with the picture.
      if (v.audio && !(bad = check_audio(*v.audio, 2 * l.max_video_seconds, "decode_video audio")).empty()) return bad;
    } catch (const MediaError& e) {
      if (!(bad = check_message(e, "decode_video")).empty()) return bad;
    }
  }
  return "";
}

}  // namespace locus::fuzz
