// locus-mkmedia: writes synthetic images, audio and video (encoded in memory with FFmpeg's encoders, then written
// to a file) for tests and for trying locus by hand. See README.md.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "synth.h"

int main(int argc, char** argv) {
  using namespace locus::mkmedia;
  CLI::App app{"locus-mkmedia: write synthetic test media (images, audio, video) with FFmpeg's encoders",
               "locus-mkmedia"};
  std::string kind, format, out, pixels = "default";
  int width = 64, height = 48, rate = 48000, channels = 1, frames = 1, rotate = 0;
  double seconds = 1, fps = 10, frequency = 440, amplitude = 0.5, noise = 0.01;
  uint32_t seed = 1;
  bool with_audio = false, lossless = false, variable_rate = false;
  app.add_option("--kind", kind, "image, audio or video")
      ->required()
      ->check(CLI::IsMember({"image", "audio", "video"}));
  app.add_option("--format", format,
                 "image: png, jpeg, webp, gif, bmp, tiff; audio: wav, mp3, flac, ogg, m4a, webm, aiff, aac; video: "
                 "mp4, webm, mkv, "
                 "avi, mov")
      ->required();
  app.add_option("-o,--output", out, "the file to write")->required();
  app.add_option("--width", width, "picture width (image, video)")->capture_default_str();
  app.add_option("--height", height, "picture height (image, video)")->capture_default_str();
  app.add_option("--seed", seed, "picks the colours (image, video) and the noise (audio)")->capture_default_str();
  app.add_option("--pixels", pixels,
                 "image: rgb, rgba, gray, gray16, rgb48, palette (default: palette for gif, else rgb)");
  app.add_option("--frames", frames, "image: > 1 writes an animation (gif, png as APNG, webp)")->capture_default_str();
  app.add_flag("--lossless", lossless, "image: lossless WebP");
  app.add_option("--seconds", seconds, "audio or video length")->capture_default_str();
  app.add_option("--rate", rate, "audio sample rate in Hz")->capture_default_str();
  app.add_option("--channels", channels, "audio channels (1 to 8)")->capture_default_str();
  app.add_option("--frequency", frequency, "audio: the tone's frequency in Hz")->capture_default_str();
  app.add_option("--amplitude", amplitude, "audio: the tone's peak (0 to 1; 0 with --noise 0 is silence)")
      ->capture_default_str();
  app.add_option("--noise", noise, "audio: the noise's peak")->capture_default_str();
  app.add_option("--fps", fps, "video frames per second")->capture_default_str();
  app.add_flag("--with-audio", with_audio, "video: add a 48 kHz stereo sound track");
  app.add_flag("--variable-rate", variable_rate, "video: frame durations alternate 0.5/fps and 1.5/fps");
  app.add_option("--rotate", rotate, "video (mp4, mov): display rotation, clockwise degrees: 0, 90, 180, 270");
  CLI11_PARSE(app, argc, argv);

  try {
    std::string bytes;
    if (kind == "image") {
      static const std::map<std::string, Pixels> names = {{"rgb", Pixels::kRgb},     {"rgba", Pixels::kRgba},
                                                          {"gray", Pixels::kGray},   {"gray16", Pixels::kGray16},
                                                          {"rgb48", Pixels::kRgb48}, {"palette", Pixels::kPalette}};
      ImageSpec s;
      s.format = format;
      s.width = width;
      s.height = height;
      s.seed = seed;
      s.frames = frames;
      s.lossless = lossless;
      if (pixels == "default") {
        s.pixels = format == "gif" ? Pixels::kPalette : Pixels::kRgb;
      } else if (const auto it = names.find(pixels); it != names.end()) {
        s.pixels = it->second;
      } else {
        throw std::runtime_error("--pixels: '" + pixels + "'; expected rgb, rgba, gray, gray16, rgb48 or palette");
      }
      bytes = encode_image(s);
    } else if (kind == "audio") {
      AudioSpec s;
      s.format = format;
      s.seconds = seconds;
      s.rate = rate;
      s.channels = channels;
      s.frequency = frequency;
      s.amplitude = amplitude;
      s.noise = noise;
      s.seed = seed;
      bytes = encode_audio(s);
    } else {
      VideoSpec s;
      s.format = format;
      s.seconds = seconds;
      s.fps = fps;
      s.width = width;
      s.height = height;
      s.seed = seed;
      s.with_audio = with_audio;
      s.variable_rate = variable_rate;
      s.rotate = rotate;
      bytes = encode_video(s);
    }
    std::ofstream f(out, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.close();
    if (!f) throw std::runtime_error("cannot write " + out);
    std::printf("wrote %s: %zu bytes\n", out.c_str(), bytes.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "locus-mkmedia: %s\n", e.what());
    return 1;
  }
  return 0;
}
