// decode_video(): frames sampled from a video (Google's uniform sampling or llama.cpp's fixed rate), with the
// sound track optionally.
//
// Two passes over the bytes. The first only demuxes: it collects the video stream's packet timestamps (the
// presentation timeline, exact even for a variable frame rate, and the duration) and decodes the audio track when
// asked. The sample times are chosen on that timeline; the second pass decodes just enough to reach each chosen
// frame, seeking to the keyframe before it when that skips more than a few dozen frames.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "media/media.h"
#include "media/media_internal.h"

namespace locus::media {
namespace {

using detail::Input;

constexpr const char* kVideoEnv = "LOCUS_MEDIA_MAX_VIDEO_SECONDS";
// Seek instead of decoding straight on when the keyframe before the next target is more than this many frames
// past the last decoded one.
constexpr size_t kSeekGap = 48;

struct Timeline {
  std::vector<int64_t> times;  // presentation timestamps (stream time base), sorted, unique
  std::vector<int64_t> keys;   // timestamps of keyframes, sorted, unique
  int64_t start = 0;
  double tb = 0;        // seconds per tick
  double duration = 0;  // seconds
  double seconds(int64_t ts) const { return static_cast<double>(ts - start) * tb; }
  // The frame shown at `t` seconds: the last one starting at or before it (the first if none).
  size_t frame_at(double t) const {
    const auto it =
        std::upper_bound(times.begin(), times.end(), t, [&](double v, int64_t ts) { return v + 1e-9 < seconds(ts); });
    return it == times.begin() ? 0 : static_cast<size_t>(it - times.begin()) - 1;
  }
};

void check_options(const VideoOptions& o, const Limits& limits) {
  if (o.max_frames < 1) {
    throw MediaError("the request asks for " + std::to_string(o.max_frames) + " video frames; expected at least 1");
  }
  if (o.max_frames > limits.max_video_frames) {
    throw MediaError("the request asks for " + std::to_string(o.max_frames) + " video frames; the limit is " +
                     std::to_string(limits.max_video_frames) + " (LOCUS_MEDIA_MAX_VIDEO_FRAMES)");
  }
  if (o.sampling == VideoOptions::Sampling::kLlamaCpp && !(std::isfinite(o.fps) && o.fps > 0 && o.fps <= 1000)) {
    throw MediaError("the video sampling rate is " + detail::format_number(o.fps) +
                     " frames per second; expected a number above 0, at most 1000");
  }
}

int stream_orientation(const AVStream* st) {
  size_t size = 0;
  const uint8_t* m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (m == nullptr || size < 9 * sizeof(int32_t)) return 1;
  int32_t matrix[9];
  std::memcpy(matrix, m, sizeof matrix);
  return detail::orientation_from_display_matrix(matrix);
}

int frame_orientation(const AVFrame* f, int from_stream) {
  if (from_stream != 1) return from_stream;
  if (const AVFrameSideData* sd = av_frame_get_side_data(f, AV_FRAME_DATA_DISPLAYMATRIX);
      sd != nullptr && sd->size >= 9 * sizeof(int32_t)) {
    int32_t m[9];
    std::memcpy(m, sd->data, sizeof m);
    return detail::orientation_from_display_matrix(m);
  }
  return 1;
}

}  // namespace

Video decode_video(std::string_view bytes, const VideoOptions& options, const Limits& limits) {
  check_options(options, limits);
  const Input in(bytes, limits);
  if (in.kind() != Kind::kVideo) {
    throw MediaError("expected a video; the content is " + in.kind_phrase() +
                     (in.kind() == Kind::kAudio ? ", with no video stream" : ""));
  }
  const int vs = in.video_stream();
  if (vs < 0)
    throw MediaError("FFmpeg has no decoder for the " + in.label() + " video (streams: " + in.stream_list() + ")");
  const int as = options.with_audio ? in.audio_stream() : -1;
  const AVStream* vst = in.ctx()->streams[vs];
  const double declared = detail::header_seconds(in, vs);
  if (declared > limits.max_video_seconds)
    detail::refuse_seconds("video", declared, false, limits.max_video_seconds, kVideoEnv);
  for (unsigned i = 0; i < in.ctx()->nb_streams; ++i) {
    if (static_cast<int>(i) != vs && static_cast<int>(i) != as) in.ctx()->streams[i]->discard = AVDISCARD_ALL;
  }

  // ---- Pass 1: the timeline (and the sound) ----
  Timeline tl;
  tl.tb = vst->time_base.num > 0 && vst->time_base.den > 0 ? av_q2d(vst->time_base) : 1.0 / AV_TIME_BASE;
  std::optional<detail::AudioDecoder> audio;
  if (as >= 0) audio.emplace(in, as, limits.max_video_seconds, kVideoEnv);
  {
    const detail::PacketPtr pkt = detail::make_packet();
    uint64_t used = 0;
    const uint64_t budget = detail::packet_budget(limits.max_video_seconds);
    int64_t end = INT64_MIN;
    int64_t first = INT64_MAX;
    while (detail::next_packet(in, pkt.get(), &used, budget)) {
      if (pkt->stream_index == as) {
        audio->send(pkt.get());
        continue;
      }
      if (pkt->stream_index != vs) continue;
      int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
      if (ts == AV_NOPTS_VALUE) ts = tl.times.empty() ? 0 : tl.times.back() + 1;  // no clock at all: count frames
      tl.times.push_back(ts);
      if (pkt->flags & AV_PKT_FLAG_KEY) tl.keys.push_back(ts);
      first = std::min(first, ts);
      const int64_t dur = pkt->duration > 0 ? pkt->duration : 0;
      int64_t stop;
      if (__builtin_add_overflow(ts, dur, &stop)) stop = INT64_MAX;
      end = std::max(end, stop);
      const double so_far = static_cast<double>(end) * tl.tb - static_cast<double>(first) * tl.tb;
      if (so_far > limits.max_video_seconds + 1)
        detail::refuse_seconds("video", so_far, true, limits.max_video_seconds, kVideoEnv);
    }
    if (audio) audio->send(nullptr);
    if (tl.times.empty()) throw MediaError("the " + in.label() + " video stream holds no frames");
    std::sort(tl.times.begin(), tl.times.end());
    tl.times.erase(std::unique(tl.times.begin(), tl.times.end()), tl.times.end());
    std::sort(tl.keys.begin(), tl.keys.end());
    tl.keys.erase(std::unique(tl.keys.begin(), tl.keys.end()), tl.keys.end());
    tl.start = tl.times.front();
    // Duration: to the end of the last frame; when packets carry no durations, the last frame lasts as long as
    // the median gap between frames (a single frame without a duration: 0).
    double d = tl.seconds(end);
    if (end <= tl.times.back() && tl.times.size() > 1) {
      std::vector<int64_t> gaps;
      for (size_t i = 1; i < tl.times.size(); ++i) gaps.push_back(tl.times[i] - tl.times[i - 1]);
      std::nth_element(gaps.begin(), gaps.begin() + static_cast<long>(gaps.size() / 2), gaps.end());
      d = tl.seconds(tl.times.back()) + static_cast<double>(gaps[gaps.size() / 2]) * tl.tb;
    }
    tl.duration = std::max(d, 0.0);
    if (tl.duration > limits.max_video_seconds)
      detail::refuse_seconds("video", tl.duration, false, limits.max_video_seconds, kVideoEnv);
  }

  // ---- The sample times ----
  struct Target {
    size_t frame;   // index into tl.times
    double time_s;  // what VideoFrame::time_s says
  };
  std::vector<Target> targets;
  if (options.sampling == VideoOptions::Sampling::kGoogle) {
    // max_frames times spread uniformly over the duration (frame index floor(i * n / max_frames) at a constant
    // rate, as Google's processor picks them); a frame picked twice (a video with fewer frames) counts once.
    for (int i = 0; i < options.max_frames; ++i) {
      const size_t f = tl.frame_at(tl.duration * i / options.max_frames);
      if (targets.empty() || targets.back().frame != f) targets.push_back({f, tl.seconds(tl.times[f])});
    }
  } else {
    // One frame every 1/fps seconds from the start, while inside the video (llama.cpp's helper runs FFmpeg's fps
    // filter, which repeats a frame when the video's own rate is lower), at most max_frames.
    for (int k = 0; k < options.max_frames; ++k) {
      const double t = k / options.fps;
      if (k > 0 && t >= tl.duration) break;
      targets.push_back({tl.frame_at(t), t});
    }
  }

  // ---- Pass 2: decode up to each target ----
  const Input in2(bytes, limits);
  for (unsigned i = 0; i < in2.ctx()->nb_streams; ++i) {
    if (static_cast<int>(i) != vs) in2.ctx()->streams[i]->discard = AVDISCARD_ALL;
  }
  const detail::CodecPtr codec = detail::open_decoder(in2, vs, in2.label() + " video");
  const int stream_turn = stream_orientation(in2.ctx()->streams[vs]);
  const detail::PacketPtr pkt = detail::make_packet();
  detail::FramePtr cur = detail::make_frame();
  detail::FramePtr next = detail::make_frame();
  bool have_cur = false;
  int64_t cur_ts = 0;
  bool drained = false;
  bool ended = false;
  int last_error = 0;
  uint64_t used = 0;
  const uint64_t budget = detail::packet_budget(limits.max_video_seconds);
  uint64_t steps = 0;

  Video video;
  video.duration_s = tl.duration;
  int64_t converted_ts = 0;
  bool have_converted = false;
  Image converted;
  for (const Target& target : targets) {
    const int64_t want = tl.times[target.frame];
    if (!have_cur || cur_ts < want) {
      // Seek when a keyframe at or before the target lies well past what was decoded.
      const auto k = std::upper_bound(tl.keys.begin(), tl.keys.end(), want);
      if (k != tl.keys.begin()) {
        const int64_t key = *(k - 1);
        const size_t key_index =
            static_cast<size_t>(std::lower_bound(tl.times.begin(), tl.times.end(), key) - tl.times.begin());
        const size_t cur_index =
            have_cur
                ? static_cast<size_t>(std::upper_bound(tl.times.begin(), tl.times.end(), cur_ts) - tl.times.begin())
                : 0;
        if (key_index > cur_index + kSeekGap && !ended &&
            av_seek_frame(in2.ctx(), vs, key, AVSEEK_FLAG_BACKWARD) >= 0) {
          avcodec_flush_buffers(codec.get());
          have_cur = false;
          drained = false;
        }
      }
    }
    // Decode until the current frame is at or past the target (or the stream ends: the last frame stands in).
    while (!(have_cur && cur_ts >= want) && !ended) {
      if (++steps > 4 * budget) throw MediaError("the " + in2.label() + " video does not decode to an end");
      const int r = avcodec_receive_frame(codec.get(), next.get());
      if (r == 0) {
        int64_t ts = next->best_effort_timestamp;
        if (ts == AV_NOPTS_VALUE) ts = have_cur ? cur_ts + 1 : tl.start;
        std::swap(cur, next);
        av_frame_unref(next.get());
        cur_ts = ts;
        have_cur = true;
        continue;
      }
      if (r == AVERROR_EOF) {
        ended = true;
        break;
      }
      if (r != AVERROR(EAGAIN)) {
        last_error = r;
        if (drained) {
          ended = true;
          break;
        }
        continue;
      }
      if (drained) {
        ended = true;
        break;
      }
      if (!detail::next_packet(in2, pkt.get(), &used, budget)) {
        avcodec_send_packet(codec.get(), nullptr);
        drained = true;
        continue;
      }
      if (pkt->stream_index != vs) continue;
      const int s = avcodec_send_packet(codec.get(), pkt.get());
      if (s < 0 && s != AVERROR(EAGAIN)) last_error = s;
    }
    if (!have_cur) break;
    if (!have_converted || converted_ts != cur_ts) {
      const Image rgb = detail::frame_to_rgb(cur.get(), limits);
      const int turn = frame_orientation(cur.get(), stream_turn);
      converted = turn == 1 ? rgb : detail::apply_orientation(rgb, turn);
      converted_ts = cur_ts;
      have_converted = true;
    } else if (options.sampling == VideoOptions::Sampling::kGoogle) {
      continue;  // the same picture again (frames missing from the stream): once is enough
    }
    VideoFrame vf;
    vf.time_s = options.sampling == VideoOptions::Sampling::kGoogle ? std::max(0.0, tl.seconds(cur_ts)) : target.time_s;
    vf.image = converted;
    video.frames.push_back(std::move(vf));
  }
  if (video.frames.empty()) {
    throw MediaError("cannot decode the " + in2.label() +
                     " video: " + (last_error ? detail::av_error_text(last_error) : std::string("no frame decodes")));
  }

  if (audio) {
    Audio a;
    a.samples = std::move(audio->samples());
    // Line the sound up with the first video frame: silence before a track that starts later, the part before
    // the picture cut from one that starts earlier.
    if (const auto t = audio->first_time(); t && !a.samples.empty()) {
      const double offset = *t - static_cast<double>(tl.start) * tl.tb;
      if (std::isfinite(offset) && std::fabs(offset) <= limits.max_video_seconds) {
        const auto n = static_cast<size_t>(std::llround(std::fabs(offset) * Audio::kSampleRate));
        if (offset > 0) {
          a.samples.insert(a.samples.begin(), n, 0.0f);
        } else {
          a.samples.erase(a.samples.begin(), a.samples.begin() + static_cast<long>(std::min(n, a.samples.size())));
        }
      }
    }
    detail::finish_samples(a.samples);
    if (!a.samples.empty()) video.audio = std::move(a);
  }
  return video;
}

}  // namespace locus::media
