#include "cli/media_args.h"

#include <CLI/CLI.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "runtime/gemma4_engine.h"

namespace locus::cli {

void add_media_options(CLI::App* cmd, MediaArgs& m, bool video) {
  cmd->add_option("--image", m.images, "an image file for the prompt (repeatable; JPEG, PNG, WebP, GIF, BMP, TIFF)")
      ->allow_extra_args(false);
  cmd->add_option("--audio", m.audios, "an audio file for the prompt (repeatable; WAV, MP3, FLAC, Ogg/Opus, M4A)")
      ->allow_extra_args(false);
  if (video) {
    cmd->add_option("--video", m.videos, "a video file for the prompt (repeatable; MP4, WebM, MOV, MKV, AVI)")
        ->allow_extra_args(false);
  }
  cmd->add_option("--image-tokens", m.image_tokens,
                  "tokens per image: 70, 140, 280 (default), 560 or 1120 with the google rule; 70..1120 with "
                  "llama.cpp's (default 1120)");
  cmd->add_option("--image-size-rule", m.size_rule, "how images are sized: google (Google's processor) or llama.cpp")
      ->check(CLI::IsMember({"google", "llama.cpp"}))
      ->capture_default_str();
  if (video) {
    cmd->add_option("--video-frames", m.video_frames, "frames sampled from a video (1..64)")->capture_default_str();
    cmd->add_flag("--video-audio", m.video_audio, "also give the model a video's sound track");
  }
}

runtime::MediaSettings media_settings(const MediaArgs& m) {
  runtime::MediaSettings ms;
  try {
    ms.limits = media::Limits::from_env();
  } catch (const std::exception& e) {
    throw std::invalid_argument(e.what());
  }
  ms.size_rule = m.size_rule == "llama.cpp" ? media::SizeRule::kLlamaCpp : media::SizeRule::kGoogle;
  ms.image_tokens = m.image_tokens > 0 ? m.image_tokens : (ms.size_rule == media::SizeRule::kGoogle ? 280 : 1120);
  if (auto problem = runtime::check_image_tokens(ms.size_rule, ms.image_tokens, "--image-tokens")) {
    throw std::invalid_argument(*problem);
  }
  if (m.video_frames < 1 || m.video_frames > ms.limits.max_video_frames) {
    throw std::invalid_argument("--video-frames must be in [1, " + std::to_string(ms.limits.max_video_frames) +
                                "], got " + std::to_string(m.video_frames));
  }
  ms.video_frames = m.video_frames;
  ms.video_audio = m.video_audio;
  return ms;
}

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

runtime::PreparedMedia load_media_file(const std::string& path, const runtime::MediaSettings& settings,
                                       const runtime::Gemma4Engine* engine) {
  const std::string bytes = read_file_bytes(path);
  try {
    runtime::PreparedMedia pm = runtime::prepare_media(bytes, settings);
    if (engine != nullptr) engine->check_takes(pm);
    return pm;
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

}  // namespace locus::cli
