// Media in a prompt: a request's images, audio clips and videos, decoded (src/media), sized for the projector,
// and laid into the token sequence as Gemma 4 expects (gemma4.md 8.2-8.5):
//
//   image  <|image> e_0 ... e_{N-1} <image|>                      N = (w/48)(h/48) rows, one bidirectional block
//   audio  <|audio> e_0 ... e_{N-1} <audio|>  per 30 s window      N = ceil(samples/640) rows, causal
//   video  Google's layout: "MM:SS <|image> ... <image|>" per frame, frames joined by a space; with the sound
//          track, the audio of each frame's interval follows that frame as an audio block. llama.cpp's layout:
//          "Video:" once, each frame an image, "[XmY.YYs]" after the frame that reaches each next 5 s mark.
//
// The rendered prompt holds one placeholder token per medium (<|image|>, <|audio|>, <|video|>, what the chat
// renderer writes); expand_media replaces each, in order, by its tokens and blocks. A block's positions hold
// placeholder ids below zero derived from the medium's content hash and the row, so the prompt cache's prefix
// match (Scheduler) compares media by content: the same image sent again is a cache hit.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "media/media.h"

namespace locus::text {
class Tokenizer;
}

namespace locus::runtime {

// One projector input: a picture sized for the projector (width and height multiples of 48), or 16 kHz mono
// samples (one window of at most kAudioWindowSamples).
struct MediaInput {
  enum class Kind { kImage, kAudio };
  Kind kind = Kind::kImage;
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  std::vector<float> samples;
  uint64_t hash = 0;  // of the content above (and its size): the embeddings cache's key
  int64_t tokens() const;  // rows the projector gives for it
};

// A medium's rows in the prompt: positions [offset, offset + n) of the token sequence.
struct MediaBlock {
  int32_t offset = 0;
  int32_t n = 0;
  bool bidirectional = false;  // images (gemma4.md 4.6)
  std::shared_ptr<const MediaInput> input;
};

// Google's processor caps audio at 750 tokens (30 s); a longer clip is cut into consecutive 30 s windows, each its
// own block (docs/media.md says why).
inline constexpr int64_t kAudioWindowSamples = 30 * media::Audio::kSampleRate;

struct MediaSettings {
  media::SizeRule size_rule = media::SizeRule::kGoogle;
  int image_tokens = 280;  // Google: 70/140/280/560/1120; llama.cpp's rule: 70..1120
  enum class VideoLayout { kGoogle, kLlamaCpp };
  VideoLayout video_layout = VideoLayout::kGoogle;
  int video_frames = 32;       // frames sampled at most
  int video_frame_tokens = 70; // image budget of each frame, under the layout's own size rule (Google's layout:
                               // Google's rule; llama.cpp's: llama.cpp's, as its helper sizes frames as images)
  double video_fps = 4;        // llama.cpp's layout: frames per second
  bool video_audio = false;    // the sound track too
  // The medium is to be heard only (a transcription): a video's sound track is decoded, its pictures never.
  bool audio_only = false;
  media::Limits limits;
};

// What one request medium becomes: its segments in prompt order (text to tokenize, or a projector input).
struct MediaSegment {
  std::string text;                          // when input is null
  std::shared_ptr<const MediaInput> input;
};
struct PreparedMedia {
  media::Kind kind = media::Kind::kImage;
  std::vector<MediaSegment> segments;
  double seconds = 0;        // audio and video: the duration
  double audio_seconds = 0;  // the sound fed to the model (audio, or a video's track when it goes in)
};

// Whether `tokens` is an image budget `rule` takes: one of 70, 140, 280, 560, 1120 (Google's) or 70..1120
// (llama.cpp's); else a one-line message naming `what`.
std::optional<std::string> check_image_tokens(media::SizeRule rule, int tokens, const char* what = "image_tokens");

// Decodes bytes (any format src/media reads; the kind comes from the content, `declared` only tells a mismatch
// apart for the message) and lays them out. Throws media::MediaError (bad or refused media: a 400) and
// std::invalid_argument for bad settings.
PreparedMedia prepare_media(std::string_view bytes, const MediaSettings& settings);

// The special token ids of the media markers in the tokenizer's vocabulary (throws std::invalid_argument when the
// vocabulary lacks them).
struct MediaTokens {
  int32_t image_placeholder = -1, audio_placeholder = -1, video_placeholder = -1;  // <|image|> <|audio|> <|video|>
  int32_t image_begin = -1, image_end = -1, audio_begin = -1, audio_end = -1;      // <|image> <image|> <|audio> <audio|>
  static MediaTokens from(const text::Tokenizer& tok);
};

struct ExpandedPrompt {
  std::vector<int32_t> tokens;
  std::vector<MediaBlock> blocks;  // in position order
};

// Replaces the k-th placeholder token of `tokens` (any of <|image|>, <|audio|>, <|video|>) by media[k]. Throws
// std::invalid_argument when the counts differ.
ExpandedPrompt expand_media(std::span<const int32_t> tokens, std::span<const PreparedMedia> media,
                            const text::Tokenizer& tok, const MediaTokens& ids);

// The placeholder id of a block's row (below zero).
int32_t media_placeholder_id(uint64_t hash, int64_t row);

// True when every id below zero lies in a block and the blocks are in order, inside the prompt, and do not overlap:
// else a one-line message.
std::optional<std::string> check_media_blocks(std::span<const int32_t> prompt, std::span<const MediaBlock> blocks);

}  // namespace locus::runtime
