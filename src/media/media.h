// Decoding images, audio and video from a request's bytes into model inputs, with FFmpeg's libraries
// (libavformat, libavcodec, libswscale, libswresample). Everything runs in memory from the bytes given: no
// temporary file, no `ffmpeg` program, no network (FFmpeg's protocols are never opened: input comes through a
// custom AVIOContext over the buffer). The format is found from the content (magic bytes, FFmpeg's probe),
// never from a name.
//
// Limits are checked before work is spent (bytes first, then the container's header: pixels, duration, frame
// count, streams); a refusal is a MediaError whose what() is one line naming the limit and the value found,
// e.g. "image is 50000x50000 = 2500000000 pixels; the limit is 50000000 (LOCUS_MEDIA_MAX_PIXELS)".
//
// Thread-safe: every call is independent (no shared state).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace locus::media {

// Bad or refused media: one line, what was expected and what was found. A server answers it with a 400.
class MediaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Kind { kImage, kAudio, kVideo };
const char* kind_name(Kind k);  // "image", "audio", "video"

struct Limits {
  uint64_t max_bytes = 100ull << 20;       // encoded input (LOCUS_MEDIA_MAX_BYTES)
  uint64_t max_pixels = 50'000'000;        // width x height of an image or a video frame (LOCUS_MEDIA_MAX_PIXELS)
  double max_audio_seconds = 600;          // an audio clip (LOCUS_MEDIA_MAX_AUDIO_SECONDS)
  double max_video_seconds = 600;          // a video (LOCUS_MEDIA_MAX_VIDEO_SECONDS)
  int max_streams = 16;                    // streams in a container (LOCUS_MEDIA_MAX_STREAMS)
  int max_video_frames = 64;               // frames a request may ask to sample (LOCUS_MEDIA_MAX_VIDEO_FRAMES)
  // The defaults above, overridden by the environment variables named beside each; throws MediaError for a
  // value that is not a positive number.
  static Limits from_env();
};

// An RGB8 picture, rows top to bottom, pixels left to right, 3 bytes each (R, G, B); EXIF/display-matrix
// orientation already applied; alpha dropped (the colour channels kept as stored, as llama.cpp's stb_image
// loader does when it asks for 3 channels), palette, 16-bit, CMYK, gray and YUV converted.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3
};

// Mono float PCM in [-1, 1] at 16 kHz (the rate Gemma 4's audio projector takes): every channel layout is
// downmixed, every rate resampled.
struct Audio {
  static constexpr int kSampleRate = 16000;
  std::vector<float> samples;
  double seconds() const { return static_cast<double>(samples.size()) / kSampleRate; }
};

struct VideoFrame {
  double time_s = 0;  // presentation time from the start of the video
  Image image;
};

struct VideoOptions {
  // kGoogle: `max_frames` frames spread uniformly over the video (Google's processor samples 32).
  // kLlamaCpp: one frame every 1/fps seconds (llama.cpp's helper: 4 per second), at most max_frames.
  enum class Sampling { kGoogle, kLlamaCpp };
  Sampling sampling = Sampling::kGoogle;
  int max_frames = 32;
  double fps = 4;
  bool with_audio = false;  // also decode the first audio stream (Video::audio)
};

struct Video {
  double duration_s = 0;
  std::vector<VideoFrame> frames;  // in time order; at least one
  std::optional<Audio> audio;      // with_audio and the file has an audio stream
};

// What the bytes hold, from their content: an image (a still picture format, GIF included), audio (a
// container whose streams are audio only), or video (a video stream that is not a single still picture).
// Throws MediaError for bytes FFmpeg cannot identify or over the byte limit (also for a format locus does not
// read, HEIF, and what the headers alone show to be over the pixel or stream limit).
Kind probe(std::string_view bytes, const Limits& limits = {});

// The first frame of an image (GIF, animated WebP/PNG: the first frame). Throws MediaError.
Image decode_image(std::string_view bytes, const Limits& limits = {});
// The first audio stream (of an audio file, or a video's sound track). Throws MediaError; a file with no
// audio stream is an error naming what it holds.
Audio decode_audio(std::string_view bytes, const Limits& limits = {});
// Frames sampled as options say. Throws MediaError (no video stream, over a limit, undecodable).
Video decode_video(std::string_view bytes, const VideoOptions& options, const Limits& limits = {});

// ---- Image sizing for Gemma 4's vision projector (48x48 patches; gemma4.md section 8.2) ----

inline constexpr int kPatch = 48;

struct Size {
  int width = 0;
  int height = 0;
  int tokens() const { return (width / kPatch) * (height / kPatch); }
};

// Google's processor: max_soft_tokens from {70, 140, 280, 560, 1120}; target pixels max_soft_tokens * 9 * 256,
// factor f = sqrt(target / (w * h)), size floor(f * side / 48) * 48 per side (at least 48), no letterbox.
Size google_size(int width, int height, int max_soft_tokens);
// llama.cpp's smart resize (align 48, min_tokens * 48^2 .. max_tokens * 48^2 pixels), before letterboxing.
Size llama_cpp_size(int width, int height, int min_tokens = 70, int max_tokens = 1120);

// Pillow-compatible bicubic resize (a = -0.5, antialiased: the filter support widens by the scale when
// shrinking), separable, horizontal pass first, rounding to u8 after each pass as Pillow does for 8-bit images.
Image resize_bicubic(const Image& in, int width, int height);

enum class SizeRule { kGoogle, kLlamaCpp };

// The picture the projector takes, with dimensions multiples of 48: kGoogle resizes to google_size(max_tokens);
// kLlamaCpp to llama_cpp_size(70, max_tokens) with letterboxing (scaled to fit, centred on black, as llama.cpp's
// PAD_CEIL mode). max_tokens: 70..1120 (kGoogle: one of the ladder's values).
Image fit_image(const Image& in, SizeRule rule, int max_tokens);

}  // namespace locus::media
