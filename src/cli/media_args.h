// The media options `locus run` and `locus bench` share: the files, the image budget and size rule (and, for run,
// video), mapped to runtime::MediaSettings; and reading a media file into a laid-out medium.
#pragma once

#include <string>
#include <vector>

#include "runtime/media_prompt.h"

namespace CLI {
class App;
}
namespace locus::runtime {
class Gemma4Engine;
}

namespace locus::cli {

struct MediaArgs {
  std::vector<std::string> images, audios, videos;
  std::string mmproj;                // --mmproj FILE (each command says where a projector comes from otherwise)
  int image_tokens = 0;              // 0: the rule's default (280 Google, 1120 llama.cpp)
  std::string size_rule = "google";  // google | llama.cpp
  int video_frames = 32;
  bool video_audio = false;
  bool any() const { return !images.empty() || !audios.empty() || !videos.empty(); }
};

// --image, --audio (each repeatable, one file per flag), --image-tokens, --image-size-rule; with video also
// --video, --video-frames and --video-audio.
void add_media_options(CLI::App* cmd, MediaArgs& m, bool video);

// The settings the options give, over the media limits from the environment (media::Limits::from_env). Throws
// std::invalid_argument (a bad limit, image budget or frame count) with one line.
runtime::MediaSettings media_settings(const MediaArgs& m);

// The file's bytes; throws std::runtime_error "cannot read PATH".
std::string read_file_bytes(const std::string& path);

// One media file read, decoded and laid out (runtime::prepare_media), and checked against the engine's projector
// when an engine is given. Throws std::runtime_error "PATH: why".
runtime::PreparedMedia load_media_file(const std::string& path, const runtime::MediaSettings& settings,
                                       const runtime::Gemma4Engine* engine = nullptr);

}  // namespace locus::cli
