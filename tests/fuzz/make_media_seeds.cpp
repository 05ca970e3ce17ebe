// Writes the media fuzz seed corpus: small files of every format locus reads (made with FFmpeg's encoders by
// tools/mkmedia) and a few made by hand, named for what they hold (media_corpus_test checks the names).
//   Usage: media_make_seeds tests/fuzz/corpus/media
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "media/test_media.h"
#include "synth.h"

namespace {

using namespace locus;
std::string g_dir;

void save(const std::string& name, const std::string& bytes) {
  std::ofstream f(g_dir + "/" + name, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::printf("%-28s %6zu bytes\n", name.c_str(), bytes.size());
}

std::string image(const char* format, int w, int h, mkmedia::Pixels px, int frames = 1, bool lossless = false) {
  mkmedia::ImageSpec s;
  s.format = format;
  s.width = w;
  s.height = h;
  s.pixels = px;
  s.frames = frames;
  s.lossless = lossless;
  return mkmedia::encode_image(s);
}

std::string audio(const char* format, double seconds, int rate, int channels) {
  mkmedia::AudioSpec s;
  s.format = format;
  s.seconds = seconds;
  s.rate = rate;
  s.channels = channels;
  return mkmedia::encode_audio(s);
}

std::string video(const char* format, int frames, bool sound = false, int rotate = 0, bool vfr = false) {
  mkmedia::VideoSpec s;
  s.format = format;
  s.frames = frames;
  s.width = 32;
  s.height = 32;
  s.with_audio = sound;
  s.rotate = rotate;
  s.variable_rate = vfr;
  return mkmedia::encode_video(s);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: media_make_seeds DIR\n");
    return 2;
  }
  g_dir = argv[1];
  using mkmedia::Pixels;
  namespace t = media::testing;
  save("image_png_rgb.png", image("png", 8, 6, Pixels::kRgb));
  save("image_png_rgba.png", image("png", 8, 6, Pixels::kRgba));
  save("image_png_palette.png", image("png", 8, 6, Pixels::kPalette));
  save("image_png_gray16.png", image("png", 8, 6, Pixels::kGray16));
  save("image_apng.png", image("png", 6, 6, Pixels::kRgb, 2));
  save("image_jpeg.jpg", image("jpeg", 16, 16, Pixels::kRgb));
  save("image_jpeg_exif6.jpg", t::with_exif(image("jpeg", 16, 8, Pixels::kRgb), 6, image("jpeg", 8, 8, Pixels::kRgb)));
  save("image_jpeg_cmyk.jpg", t::jpeg_blocks(
                                  16, 8, 4, [](int c, int bx, int) { return 60 * c + 100 * bx; }, true));
  save("image_gif_anim.gif", image("gif", 8, 8, Pixels::kPalette, 2));
  save("image_bmp.bmp", image("bmp", 8, 8, Pixels::kRgb));
  save("image_tiff.tif", image("tiff", 8, 8, Pixels::kRgb48));
  save("image_tiff_cmyk.tif", t::tiff_cmyk(4, 2, std::vector<uint8_t>(32, 100)));
  save("image_webp.webp", image("webp", 16, 16, Pixels::kRgb));
  save("image_webp_lossless.webp", image("webp", 8, 8, Pixels::kRgba, 1, true));
  save("image_webp_anim.webp", image("webp", 8, 8, Pixels::kRgb, 2, true));
  save("audio_wav.wav", audio("wav", 0.05, 8000, 1));
  save("audio_wav_6ch.wav", audio("wav", 0.01, 8000, 6));
  save("audio_mp3.mp3", audio("mp3", 0.1, 8000, 1));
  save("audio_flac.flac", audio("flac", 0.05, 8000, 2));
  save("audio_ogg.ogg", audio("ogg", 0.1, 8000, 1));
  save("audio_m4a.m4a", audio("m4a", 0.1, 8000, 1));
  save("audio_webm.webm", audio("webm", 0.1, 8000, 1));
  save("video_mp4.mp4", video("mp4", 2));
  save("video_mp4_sound.mp4", video("mp4", 2, true));
  save("video_mov_rotated.mov", video("mov", 2, false, 90));
  save("video_webm.webm", video("webm", 2));
  save("video_mkv_vfr.mkv", video("mkv", 3, false, 0, true));
  save("video_avi.avi", video("avi", 2));
  save("bad_png_50000x50000.png", t::png_declaring(50000, 50000));
  save("bad_jpeg_0x8.jpg", t::jpeg_declaring(0, 8));
  save("bad_heic.heic", std::string("\0\0\0\x18"
                                    "ftypheic\0\0\0\0mif1heic",
                                    24));
  save("bad_text.txt", "not media at all\n");
  save("bad_playlist.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n");
  return 0;
}
