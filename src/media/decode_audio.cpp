// AudioDecoder (any audio stream to mono float at 16 kHz) and decode_audio().
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
}

#include "media/media.h"
#include "media/media_internal.h"

namespace locus::media {
namespace detail {

namespace {
constexpr int kMaxChannels = 64;  // swresample's own ceiling (SWR_CH_MAX)
constexpr int kMaxRate = 1'536'000;
constexpr double kSlackSeconds = 0.25;
}  // namespace

AudioDecoder::AudioDecoder(const Input& in, int index, double max_seconds, const char* env)
    : in_(in),
      index_(index),
      max_seconds_(max_seconds),
      env_(env),
      codec_(open_decoder(in, index, in.label() + " audio")),
      frame_(make_frame()) {}

AudioDecoder::~AudioDecoder() { swr_free(&swr_); }

void AudioDecoder::send(const AVPacket* pkt) {
  if (pkt == nullptr) {
    avcodec_send_packet(codec_.get(), nullptr);
    receive();
    drain_resampler();
    return;
  }
  int r = avcodec_send_packet(codec_.get(), pkt);
  if (r == AVERROR(EAGAIN)) {
    receive();
    r = avcodec_send_packet(codec_.get(), pkt);
  }
  if (r < 0 && r != AVERROR_EOF && r != AVERROR(EAGAIN)) {
    ++errors_;
    last_error_ = r;
  }
  receive();
}

void AudioDecoder::receive() {
  // Bounded: a decoder gives out a packet's frames and then EAGAIN; errors are counted and the loop gives up
  // after a few in a row.
  for (int bad = 0; bad < 64;) {
    const int r = avcodec_receive_frame(codec_.get(), frame_.get());
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
    if (r < 0) {
      ++errors_;
      ++bad;
      last_error_ = r;
      continue;
    }
    ++frames_;
    if (!first_time_ && frame_->best_effort_timestamp != AV_NOPTS_VALUE) {
      first_time_ = static_cast<double>(frame_->best_effort_timestamp) * av_q2d(in_.ctx()->streams[index_]->time_base);
    }
    convert(frame_.get());
    av_frame_unref(frame_.get());
  }
}

void AudioDecoder::configure(const AVFrame* f) {
  const int channels = f->ch_layout.nb_channels;
  if (swr_ != nullptr && channels == swr_channels_ && f->sample_rate == swr_rate_ && f->format == swr_format_) return;
  if (channels < 1 || channels > kMaxChannels || f->sample_rate < 1 || f->sample_rate > kMaxRate ||
      av_get_bytes_per_sample(static_cast<AVSampleFormat>(f->format)) <= 0) {
    throw MediaError("the " + in_.label() + " audio has " + std::to_string(channels) + " channels at " +
                     std::to_string(f->sample_rate) + " Hz; expected 1 to " + std::to_string(kMaxChannels) +
                     " channels at 1 to " + std::to_string(kMaxRate) + " Hz");
  }
  if (swr_ != nullptr) {
    drain_resampler();
    swr_free(&swr_);
  }
  // The channels are averaged with equal weights, so their names do not matter: a default layout of the same
  // count stands in for whatever the stream says (also for unnamed or custom layouts).
  AVChannelLayout in_layout{};
  av_channel_layout_default(&in_layout, channels);
  AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  int r = swr_alloc_set_opts2(&swr_, &mono, AV_SAMPLE_FMT_FLT, Audio::kSampleRate, &in_layout,
                              static_cast<AVSampleFormat>(f->format), f->sample_rate, 0, nullptr);
  av_channel_layout_uninit(&in_layout);
  if (r < 0 || swr_ == nullptr) throw MediaError("cannot set up the audio resampler: " + av_error_text(r));
  const std::vector<double> matrix(static_cast<size_t>(channels), 1.0 / channels);
  r = swr_set_matrix(swr_, matrix.data(), channels);
  if (r >= 0) r = swr_init(swr_);
  if (r < 0) {
    swr_free(&swr_);
    throw MediaError("cannot set up the audio resampler: " + av_error_text(r));
  }
  swr_channels_ = channels;
  swr_rate_ = f->sample_rate;
  swr_format_ = f->format;
}

void AudioDecoder::convert(const AVFrame* f) {
  if (f->nb_samples <= 0) return;
  configure(f);
  const int room = swr_get_out_samples(swr_, f->nb_samples);
  if (room < 0) {
    ++errors_;
    last_error_ = room;
    return;
  }
  const size_t old = samples_.size();
  samples_.resize(old + static_cast<size_t>(room));
  auto* out = reinterpret_cast<uint8_t*>(samples_.data() + old);
  const int n = swr_convert(swr_, &out, room, const_cast<const uint8_t**>(f->extended_data), f->nb_samples);
  samples_.resize(old + static_cast<size_t>(std::max(n, 0)));
  if (n < 0) {
    ++errors_;
    last_error_ = n;
  }
  // The decoded length is held to the limit as it grows (headers may not say, or may lie), with a quarter of a
  // second of slack for codec priming and padding (raw AAC keeps both: 0.26 s at 8 kHz) and resampler rounding.
  const double seconds = static_cast<double>(samples_.size()) / Audio::kSampleRate;
  if (seconds > max_seconds_ + kSlackSeconds) refuse_seconds("audio", seconds, true, max_seconds_, env_);
}

void AudioDecoder::drain_resampler() {
  if (swr_ == nullptr) return;
  for (int i = 0; i < 1024; ++i) {
    const int room = 4096;
    const size_t old = samples_.size();
    samples_.resize(old + room);
    auto* out = reinterpret_cast<uint8_t*>(samples_.data() + old);
    const int n = swr_convert(swr_, &out, room, nullptr, 0);
    samples_.resize(old + static_cast<size_t>(std::max(n, 0)));
    if (n <= 0) break;
  }
}

// Seconds the container's header gives for stream `index` (or for the whole file); negative if it says nothing.
double header_seconds(const Input& in, int index) {
  const AVStream* st = in.ctx()->streams[index];
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0 && st->time_base.num > 0 && st->time_base.den > 0) {
    return static_cast<double>(st->duration) * av_q2d(st->time_base);
  }
  if (in.ctx()->duration != AV_NOPTS_VALUE && in.ctx()->duration > 0) {
    return static_cast<double>(in.ctx()->duration) / AV_TIME_BASE;
  }
  return -1;
}

void finish_samples(std::vector<float>& s) {
  for (float& v : s) v = std::isfinite(v) ? std::clamp(v, -1.0f, 1.0f) : 0.0f;
}

}  // namespace detail

Audio decode_audio(std::string_view bytes, const Limits& limits) {
  const detail::Input in(bytes, limits);
  if (in.kind() == Kind::kImage) throw MediaError("expected audio; the content is " + in.kind_phrase());
  const int as = in.audio_stream();
  if (as < 0) {
    throw MediaError("expected audio; the " + in.label() +
                     " file has no audio stream FFmpeg can decode (streams: " + in.stream_list() + ")");
  }
  const double declared = detail::header_seconds(in, as);
  if (declared > limits.max_audio_seconds) {
    detail::refuse_seconds("audio", declared, false, limits.max_audio_seconds, "LOCUS_MEDIA_MAX_AUDIO_SECONDS");
  }
  for (unsigned i = 0; i < in.ctx()->nb_streams; ++i) {
    if (static_cast<int>(i) != as) in.ctx()->streams[i]->discard = AVDISCARD_ALL;
  }
  detail::AudioDecoder dec(in, as, limits.max_audio_seconds, "LOCUS_MEDIA_MAX_AUDIO_SECONDS");
  const detail::PacketPtr pkt = detail::make_packet();
  uint64_t used = 0;
  const uint64_t budget = detail::packet_budget(limits.max_audio_seconds);
  while (detail::next_packet(in, pkt.get(), &used, budget)) {
    if (pkt->stream_index == as) dec.send(pkt.get());
  }
  dec.send(nullptr);
  Audio audio;
  audio.samples = std::move(dec.samples());
  if (audio.samples.empty()) {
    throw MediaError("cannot decode the " + in.label() + " audio: " +
                     (dec.errors() ? detail::av_error_text(dec.last_error()) : std::string("it holds no samples")));
  }
  detail::finish_samples(audio.samples);
  return audio;
}

}  // namespace locus::media
