#include "runtime/media_prompt.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "text/tokenizer.h"

namespace locus::runtime {

namespace {

// FNV-1a over bytes, then mixed (splitmix64): a content key, not a security boundary (a collision would only
// reuse another medium's cached rows; 64 bits make that practically impossible for honest traffic).
uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::shared_ptr<MediaInput> image_input(const media::Image& decoded, media::SizeRule rule, int max_tokens) {
  media::Image fitted = media::fit_image(decoded, rule, max_tokens);
  auto in = std::make_shared<MediaInput>();
  in->kind = MediaInput::Kind::kImage;
  in->width = fitted.width;
  in->height = fitted.height;
  in->rgb = std::move(fitted.rgb);
  const int dims[2] = {in->width, in->height};
  in->hash = mix(fnv1a(in->rgb.data(), in->rgb.size(), fnv1a(dims, sizeof dims)));
  return in;
}

std::shared_ptr<MediaInput> audio_input(std::span<const float> samples) {
  auto in = std::make_shared<MediaInput>();
  in->kind = MediaInput::Kind::kAudio;
  in->samples.assign(samples.begin(), samples.end());
  in->hash = mix(fnv1a(in->samples.data(), in->samples.size() * sizeof(float), 0x5a5a5a5aull));
  return in;
}

void add_audio_windows(std::vector<MediaSegment>& out, std::span<const float> samples) {
  for (size_t s = 0; s < samples.size(); s += kAudioWindowSamples) {
    const size_t n = std::min<size_t>(kAudioWindowSamples, samples.size() - s);
    out.push_back({"", audio_input(samples.subspan(s, n))});
  }
}

void check_image_budget(media::SizeRule rule, int tokens, const char* what) {
  if (auto problem = check_image_tokens(rule, tokens, what)) throw std::invalid_argument(*problem);
}

std::string mm_ss(double t) {
  const int s = static_cast<int>(std::floor(t));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d", s / 60, s % 60);
  return buf;
}

std::string llama_stamp(double t) {
  const int m = static_cast<int>(t / 60);
  char buf[48];
  std::snprintf(buf, sizeof buf, "[%dm%.2fs]", m, t - 60.0 * m);
  return buf;
}

}  // namespace

std::optional<std::string> check_image_tokens(media::SizeRule rule, int tokens, const char* what) {
  if (rule == media::SizeRule::kGoogle) {
    if (tokens == 70 || tokens == 140 || tokens == 280 || tokens == 560 || tokens == 1120) return std::nullopt;
    return std::string(what) + " must be one of 70, 140, 280, 560, 1120 under Google's size rule, found " +
           std::to_string(tokens);
  }
  if (tokens >= 70 && tokens <= 1120) return std::nullopt;
  return std::string(what) + " must be in [70, 1120] under llama.cpp's size rule, found " + std::to_string(tokens);
}

int64_t MediaInput::tokens() const {
  if (kind == Kind::kImage) return int64_t{width / media::kPatch} * (height / media::kPatch);
  return static_cast<int64_t>((samples.size() + 639) / 640);
}

int32_t media_placeholder_id(uint64_t hash, int64_t row) {
  const uint64_t h = mix(hash ^ (static_cast<uint64_t>(row) * 0x9e3779b97f4a7c15ull));
  return -1 - static_cast<int32_t>(h & 0x3fffffffu);
}

PreparedMedia prepare_media(std::string_view bytes, const MediaSettings& settings) {
  check_image_budget(settings.size_rule, settings.image_tokens, "image_tokens");
  PreparedMedia out;
  out.kind = media::probe(bytes, settings.limits);
  if (settings.audio_only) out.kind = media::Kind::kAudio;  // a video's sound track, when it has one
  switch (out.kind) {
    case media::Kind::kImage: {
      const media::Image img = media::decode_image(bytes, settings.limits);
      out.segments.push_back({"", image_input(img, settings.size_rule, settings.image_tokens)});
      break;
    }
    case media::Kind::kAudio: {
      const media::Audio a = media::decode_audio(bytes, settings.limits);
      if (a.samples.empty()) throw media::MediaError("audio decodes to no samples (an empty clip)");
      out.seconds = out.audio_seconds = a.seconds();
      add_audio_windows(out.segments, a.samples);
      break;
    }
    case media::Kind::kVideo: {
      // Frames are sized by the layout's own rule (docs/media.md).
      const media::SizeRule frame_rule = settings.video_layout == MediaSettings::VideoLayout::kGoogle
                                             ? media::SizeRule::kGoogle
                                             : media::SizeRule::kLlamaCpp;
      check_image_budget(frame_rule, settings.video_frame_tokens, "video_frame_tokens");
      if (settings.video_frames < 1 || settings.video_frames > settings.limits.max_video_frames) {
        throw std::invalid_argument("video_frames must be in [1, " + std::to_string(settings.limits.max_video_frames) +
                                    "], found " + std::to_string(settings.video_frames));
      }
      media::VideoOptions vo;
      vo.sampling = settings.video_layout == MediaSettings::VideoLayout::kGoogle ? media::VideoOptions::Sampling::kGoogle
                                                                                  : media::VideoOptions::Sampling::kLlamaCpp;
      vo.max_frames = settings.video_frames;
      vo.fps = settings.video_fps;
      vo.with_audio = settings.video_audio;
      const media::Video v = media::decode_video(bytes, vo, settings.limits);
      if (v.frames.empty()) throw media::MediaError("video has no decodable frame");
      out.seconds = v.duration_s;
      if (v.audio) out.audio_seconds = v.audio->seconds();
      const bool google = settings.video_layout == MediaSettings::VideoLayout::kGoogle;
      if (!google) out.segments.push_back({"Video:", nullptr});
      double next_stamp = 0;
      for (size_t i = 0; i < v.frames.size(); ++i) {
        const media::VideoFrame& f = v.frames[i];
        if (google) {
          std::string stamp = i > 0 ? std::string(" ") : std::string();
          stamp += mm_ss(f.time_s);
          stamp += ' ';
          out.segments.push_back({std::move(stamp), nullptr});
        }
        out.segments.push_back({"", image_input(f.image, frame_rule, settings.video_frame_tokens)});
        if (!google && f.time_s >= next_stamp) {
          out.segments.push_back({llama_stamp(f.time_s), nullptr});
          next_stamp = (std::floor(f.time_s / 5.0) + 1) * 5.0;
        }
        if (v.audio && !v.audio->samples.empty()) {
          // The sound of this frame's interval: from its time to the next frame's (the end for the last).
          const double t1 = i + 1 < v.frames.size() ? v.frames[i + 1].time_s : std::max(v.duration_s, f.time_s);
          const auto& s = v.audio->samples;
          const size_t a = std::min(s.size(), static_cast<size_t>(std::max(0.0, f.time_s) * media::Audio::kSampleRate));
          const size_t z = i + 1 < v.frames.size()
                               ? std::min(s.size(), static_cast<size_t>(t1 * media::Audio::kSampleRate))
                               : s.size();
          if (z > a) add_audio_windows(out.segments, std::span<const float>(s).subspan(a, z - a));
        }
      }
      break;
    }
  }
  return out;
}

MediaTokens MediaTokens::from(const text::Tokenizer& tok) {
  auto id = [&](const char* text) {
    const auto ids = tok.encode(text, false, true);
    if (ids.size() != 1) throw std::invalid_argument(std::string("the vocabulary has no media token ") + text);
    return ids[0];
  };
  MediaTokens t;
  t.image_placeholder = id("<|image|>");
  t.audio_placeholder = id("<|audio|>");
  t.video_placeholder = id("<|video|>");
  t.image_begin = id("<|image>");
  t.image_end = id("<image|>");
  t.audio_begin = id("<|audio>");
  t.audio_end = id("<audio|>");
  return t;
}

ExpandedPrompt expand_media(std::span<const int32_t> tokens, std::span<const PreparedMedia> media,
                            const text::Tokenizer& tok, const MediaTokens& ids) {
  ExpandedPrompt out;
  size_t next = 0;
  for (int32_t t : tokens) {
    const bool placeholder = t == ids.image_placeholder || t == ids.audio_placeholder || t == ids.video_placeholder;
    if (!placeholder) {
      out.tokens.push_back(t);
      continue;
    }
    if (next >= media.size()) {
      throw std::invalid_argument("the prompt holds more media placeholders than the " + std::to_string(media.size()) +
                                  " media sent");
    }
    for (const MediaSegment& seg : media[next].segments) {
      if (seg.input == nullptr) {
        const auto text = tok.encode(seg.text, false, false);
        out.tokens.insert(out.tokens.end(), text.begin(), text.end());
        continue;
      }
      const bool image = seg.input->kind == MediaInput::Kind::kImage;
      out.tokens.push_back(image ? ids.image_begin : ids.audio_begin);
      MediaBlock b;
      b.offset = static_cast<int32_t>(out.tokens.size());
      b.n = static_cast<int32_t>(seg.input->tokens());
      b.bidirectional = image;
      b.input = seg.input;
      for (int64_t r = 0; r < b.n; ++r) out.tokens.push_back(media_placeholder_id(seg.input->hash, r));
      out.blocks.push_back(std::move(b));
      out.tokens.push_back(image ? ids.image_end : ids.audio_end);
    }
    ++next;
  }
  if (next != media.size()) {
    throw std::invalid_argument(std::to_string(media.size()) + " media sent but the prompt places " +
                                std::to_string(next));
  }
  return out;
}

std::optional<std::string> check_media_blocks(std::span<const int32_t> prompt, std::span<const MediaBlock> blocks) {
  int64_t end = 0;
  for (const MediaBlock& b : blocks) {
    if (b.input == nullptr || b.n <= 0 || b.offset < end || int64_t{b.offset} + b.n > static_cast<int64_t>(prompt.size()) ||
        b.input->tokens() != b.n) {
      return std::string("media blocks out of order, overlapping, outside the prompt or of the wrong size");
    }
    end = int64_t{b.offset} + b.n;
  }
  size_t k = 0;
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (prompt[i] >= 0) continue;
    while (k < blocks.size() && int64_t{blocks[k].offset} + blocks[k].n <= static_cast<int64_t>(i)) ++k;
    if (k == blocks.size() || static_cast<int64_t>(i) < blocks[k].offset) {
      return "prompt token " + std::to_string(i) + " is " + std::to_string(prompt[i]) + ", outside the vocabulary";
    }
  }
  return std::nullopt;
}

}  // namespace locus::runtime
