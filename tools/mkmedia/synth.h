// Synthetic test media, encoded in memory with FFmpeg's encoders and muxers: pictures, tone-plus-noise audio and
// videos whose frames carry their own number. Used by locus-mkmedia and by src/media's tests (so no binary
// fixtures are committed). Every function throws std::runtime_error with one line when FFmpeg lacks an encoder or
// a format cannot hold what was asked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace locus::mkmedia {

// ---- Pictures ----

// How the picture is stored in the file.
enum class Pixels { kRgb, kRgba, kGray, kGray16, kRgb48, kPalette };
const char* pixels_name(Pixels p);  // "rgb", "rgba", "gray", "gray16", "rgb48", "palette"

// A synthetic picture in all the representations the encoders take, consistent with each other:
//   four quadrants around a base colour each (top-left, top-right, bottom-left, bottom-right; channels 40..215),
//   each pixel one of 63 distinct palette colours within 24 of its quadrant's base (the 64th is unused); alpha 64..255
//   in a diagonal pattern (never 0, so encoders keep the colour under it); the 16-bit version is the 8-bit value * 257
//   less 0..127.
struct Picture {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgba;      // width * height * 4
  std::vector<uint16_t> rgb16;    // width * height * 3
  std::vector<uint8_t> index;     // width * height palette indexes
  std::vector<uint32_t> palette;  // 256 entries, 0xAARRGGBB, alpha 255
  uint8_t base[4][3] = {};        // the quadrants' base colours
};
Picture synth_picture(int width, int height, uint32_t seed, int frame = 0);

// The RGB8 a decoder should give for `p` stored as `pixels` (alpha dropped; gray: R replicated; 16-bit: the high
// byte, within 1 of the rounded value).
std::vector<uint8_t> expected_rgb(const Picture& p, Pixels pixels);

struct ImageSpec {
  std::string format = "png";  // png, jpeg, webp, gif, bmp, tiff
  int width = 64;
  int height = 48;
  uint32_t seed = 1;
  Pixels pixels = Pixels::kRgb;
  bool lossless = false;  // webp only: VP8L instead of VP8
  int frames = 1;         // > 1: an animation (gif, png as APNG, webp), frame k drawn with seed + k
  int quality = 2;        // jpeg: the quantizer scale (2 = best, 31 = worst)
};
// The file's bytes. Pixel layouts an encoder cannot store exactly are converted with swscale to one it can (RGB to
// YUV for JPEG and lossy WebP); asking for gray, 16-bit or palette where the encoder has no such layout is an error.
std::string encode_image(const ImageSpec& spec);
// The same with the picture given.
std::string encode_picture(const std::vector<Picture>& frames, const ImageSpec& spec);

// ---- Audio ----

struct AudioSpec {
  std::string format = "wav";  // wav, mp3, flac, ogg (Opus), m4a (AAC), webm (Opus), aiff, aac (raw ADTS)
  double seconds = 1;
  int rate = 48000;
  int channels = 1;
  double frequency = 440;  // the tone
  double amplitude = 0.5;  // the tone's peak
  double noise = 0.01;     // uniform noise peak, independent per channel
  uint32_t seed = 1;
  std::vector<double> gains;  // per channel (missing: 1)
};
// Sample i of channel c (before encoding): gains[c] * (amplitude * sin(2 pi frequency i / rate) + noise * u),
// u uniform in [-1, 1).
std::vector<float> synth_audio(const AudioSpec& spec);  // interleaved
std::string encode_audio(const AudioSpec& spec);

// ---- Video ----

struct VideoSpec {
  std::string format = "mp4";  // mp4 (H.264), mov (H.264), mkv (MPEG-4 part 2 with B-frames), webm (VP8), avi (MPEG-4)
  double seconds = 1;
  double fps = 10;
  int width = 128;
  int height = 96;
  uint32_t seed = 1;
  bool with_audio = false;     // 48 kHz stereo: AAC (mp4, mov), Vorbis (mkv), Opus (webm), PCM (avi)
  bool variable_rate = false;  // frame durations alternate 0.5/fps and 1.5/fps (not avi)
  int rotate = 0;              // 0, 90, 180, 270: a display matrix turning the picture clockwise (mp4, mov)
  int frames = 0;              // > 0: exactly this many frames (else seconds * fps rounded, at least 1)
};
// Presentation times of the frames, in seconds.
std::vector<double> frame_times(const VideoSpec& spec);
// Frame k: a 10-bit binary code of k in the top quarter (white blocks for ones), a red-ish bottom-left quarter,
// a blue-ish bottom-right one, gray between.
Picture video_frame(const VideoSpec& spec, int k);
// The frame number a decoded frame's code says (RGB8, the picture as stored, width x height); -1 if unreadable.
int read_frame_number(const std::vector<uint8_t>& rgb, int width, int height);
std::string encode_video(const VideoSpec& spec);

}  // namespace locus::mkmedia
