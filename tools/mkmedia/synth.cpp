// Synthetic media encoded in memory with FFmpeg (see synth.h).
#include "synth.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace locus::mkmedia {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

std::string err_text(int e) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(e, buf, sizeof buf);
  return buf;
}

void check(int r, const std::string& what) {
  if (r < 0) fail(what + ": " + err_text(r));
}

void quiet() {
  static const bool once = [] {
    av_log_set_level(AV_LOG_ERROR);
    return true;
  }();
  (void)once;
}

struct CodecFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
using Codec = std::unique_ptr<AVCodecContext, CodecFree>;
using Frame = std::unique_ptr<AVFrame, FrameFree>;
using Packet = std::unique_ptr<AVPacket, PacketFree>;

const AVCodec* encoder(const char* name) {
  const AVCodec* c = avcodec_find_encoder_by_name(name);
  if (c == nullptr) fail(std::string("this FFmpeg has no '") + name + "' encoder");
  return c;
}

Codec alloc_codec(const AVCodec* c) {
  Codec ctx(avcodec_alloc_context3(c));
  if (!ctx) throw std::bad_alloc();
  return ctx;
}

Frame alloc_frame() {
  Frame f(av_frame_alloc());
  if (!f) throw std::bad_alloc();
  return f;
}

// Sends a frame (nullptr flushes) and hands every packet that comes out to `sink`.
void encode(AVCodecContext* c, const AVFrame* f, const std::function<void(AVPacket*)>& sink) {
  check(avcodec_send_frame(c, f), std::string("encoding with ") + c->codec->name);
  Packet pkt(av_packet_alloc());
  for (;;) {
    const int r = avcodec_receive_packet(c, pkt.get());
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
    check(r, std::string("encoding with ") + c->codec->name);
    sink(pkt.get());
    av_packet_unref(pkt.get());
  }
}

// A muxer writing into memory through a custom AVIOContext (write and seek: mp4 and wav patch their headers).
class MemoryMuxer {
 public:
  explicit MemoryMuxer(const char* format) {
    check(avformat_alloc_output_context2(&fmt_, nullptr, format, nullptr), std::string("the ") + format + " muxer");
    constexpr int kBuf = 64 * 1024;
    auto* buf = static_cast<uint8_t*>(av_malloc(kBuf));
    io_ = avio_alloc_context(buf, kBuf, 1, this, nullptr, &MemoryMuxer::write, &MemoryMuxer::seek);
    fmt_->pb = io_;
    // Bit-exact: no random stream serials or UIDs (Ogg, Matroska), no version strings: same input, same bytes.
    fmt_->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_BITEXACT;
  }
  ~MemoryMuxer() {
    avformat_free_context(fmt_);
    if (io_ != nullptr) {
      av_freep(&io_->buffer);
      avio_context_free(&io_);
    }
  }
  MemoryMuxer(const MemoryMuxer&) = delete;
  MemoryMuxer& operator=(const MemoryMuxer&) = delete;

  AVFormatContext* ctx() { return fmt_; }
  bool needs_global_header() const { return fmt_->oformat->flags & AVFMT_GLOBALHEADER; }

  AVStream* add(const AVCodecContext* c) {
    AVStream* st = avformat_new_stream(fmt_, nullptr);
    if (st == nullptr) throw std::bad_alloc();
    check(avcodec_parameters_from_context(st->codecpar, c), "stream parameters");
    st->time_base = c->time_base;
    return st;
  }
  void begin() {
    check(avformat_write_header(fmt_, nullptr), std::string("writing the ") + fmt_->oformat->name + " header");
  }
  // A packet in the encoder's time base, for stream `st`.
  void write(AVPacket* pkt, const AVCodecContext* c, const AVStream* st) {
    av_packet_rescale_ts(pkt, c->time_base, st->time_base);
    pkt->stream_index = st->index;
    check(av_interleaved_write_frame(fmt_, pkt), std::string("writing a ") + fmt_->oformat->name + " packet");
  }
  std::string finish() {
    check(av_write_trailer(fmt_), std::string("finishing the ") + fmt_->oformat->name + " file");
    avio_flush(io_);
    return data_;
  }

 private:
  static int write(void* opaque, uint8_t* buf, int size) {
    auto* m = static_cast<MemoryMuxer*>(opaque);
    const size_t end = static_cast<size_t>(m->pos_) + static_cast<size_t>(size);
    if (end > m->data_.size()) m->data_.resize(end);
    std::memcpy(m->data_.data() + m->pos_, buf, static_cast<size_t>(size));
    m->pos_ = static_cast<int64_t>(end);
    return size;
  }
  static int64_t seek(void* opaque, int64_t offset, int whence) {
    auto* m = static_cast<MemoryMuxer*>(opaque);
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE) return static_cast<int64_t>(m->data_.size());
    const int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos_ : static_cast<int64_t>(m->data_.size());
    if (base + offset < 0) return AVERROR(EINVAL);
    m->pos_ = base + offset;
    return m->pos_;
  }

  AVFormatContext* fmt_ = nullptr;
  AVIOContext* io_ = nullptr;
  std::string data_;
  int64_t pos_ = 0;
};

uint32_t mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// ---- Pictures into frames ----

bool supports(const AVCodec* c, AVPixelFormat f) {
  if (c->pix_fmts == nullptr) return false;
  for (const AVPixelFormat* p = c->pix_fmts; *p != AV_PIX_FMT_NONE; ++p) {
    if (*p == f) return true;
  }
  return false;
}

Frame picture_frame(const Picture& p, AVPixelFormat fmt) {
  Frame f = alloc_frame();
  f->format = fmt;
  f->width = p.width;
  f->height = p.height;
  check(av_frame_get_buffer(f.get(), 0), "frame buffer");
  const int w = p.width, h = p.height;
  for (int y = 0; y < h; ++y) {
    uint8_t* row = f->data[0] + static_cast<ptrdiff_t>(y) * f->linesize[0];
    for (int x = 0; x < w; ++x) {
      const size_t i = static_cast<size_t>(y) * w + x;
      const uint8_t* c = &p.rgba[i * 4];
      const uint16_t* d = &p.rgb16[i * 3];
      switch (fmt) {
        case AV_PIX_FMT_RGB24:
          std::memcpy(row + x * 3, c, 3);
          break;
        case AV_PIX_FMT_BGR24:
          row[x * 3] = c[2];
          row[x * 3 + 1] = c[1];
          row[x * 3 + 2] = c[0];
          break;
        case AV_PIX_FMT_RGBA:
          std::memcpy(row + x * 4, c, 4);
          break;
        case AV_PIX_FMT_BGRA:
          row[x * 4] = c[2];
          row[x * 4 + 1] = c[1];
          row[x * 4 + 2] = c[0];
          row[x * 4 + 3] = c[3];
          break;
        case AV_PIX_FMT_GRAY8:
          row[x] = c[0];
          break;
        case AV_PIX_FMT_GRAY16BE:
          row[x * 2] = static_cast<uint8_t>(d[0] >> 8);
          row[x * 2 + 1] = static_cast<uint8_t>(d[0]);
          break;
        case AV_PIX_FMT_GRAY16LE:
          row[x * 2] = static_cast<uint8_t>(d[0]);
          row[x * 2 + 1] = static_cast<uint8_t>(d[0] >> 8);
          break;
        case AV_PIX_FMT_RGB48BE:
        case AV_PIX_FMT_RGB48LE:
          for (int k = 0; k < 3; ++k) {
            const bool be = fmt == AV_PIX_FMT_RGB48BE;
            row[x * 6 + k * 2] = static_cast<uint8_t>(be ? d[k] >> 8 : d[k]);
            row[x * 6 + k * 2 + 1] = static_cast<uint8_t>(be ? d[k] : d[k] >> 8);
          }
          break;
        case AV_PIX_FMT_PAL8:
          row[x] = p.index[i];
          break;
        default:
          fail("picture_frame: unexpected pixel format");
      }
    }
  }
  if (fmt == AV_PIX_FMT_PAL8) std::memcpy(f->data[1], p.palette.data(), 256 * 4);
  return f;
}

// `src` (RGB24 or RGBA) converted to `fmt` with swscale, full range for JPEG's YUV.
Frame convert_frame(const AVFrame* src, AVPixelFormat fmt) {
  Frame f = alloc_frame();
  f->format = fmt;
  f->width = src->width;
  f->height = src->height;
  check(av_frame_get_buffer(f.get(), 0), "frame buffer");
  SwsContext* s =
      sws_getContext(src->width, src->height, static_cast<AVPixelFormat>(src->format), src->width, src->height, fmt,
                     SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nullptr, nullptr, nullptr);
  if (s == nullptr) fail(std::string("cannot convert to ") + av_get_pix_fmt_name(fmt));
  sws_scale(s, src->data, src->linesize, 0, src->height, f->data, f->linesize);
  sws_freeContext(s);
  return f;
}

// A frame of `p` in a layout `c` takes, stored as `pixels`; sets *fmt. `lossless`: RGB may go into an opaque
// RGBA layout rather than through YUV.
Frame frame_for(const AVCodec* c, const Picture& p, Pixels pixels, bool lossless, AVPixelFormat* fmt) {
  std::vector<AVPixelFormat> exact;
  switch (pixels) {
    case Pixels::kRgb:
      exact = {AV_PIX_FMT_RGB24, AV_PIX_FMT_BGR24};
      if (lossless) {
        for (AVPixelFormat f : {AV_PIX_FMT_RGBA, AV_PIX_FMT_BGRA}) {
          if (!supports(c, AV_PIX_FMT_RGB24) && !supports(c, AV_PIX_FMT_BGR24) && supports(c, f)) {
            Picture opaque = p;
            for (size_t i = 3; i < opaque.rgba.size(); i += 4) opaque.rgba[i] = 255;
            *fmt = f;
            return picture_frame(opaque, f);
          }
        }
      }
      break;
    case Pixels::kRgba:
      exact = {AV_PIX_FMT_RGBA, AV_PIX_FMT_BGRA};
      break;
    case Pixels::kGray:
      exact = {AV_PIX_FMT_GRAY8};
      break;
    case Pixels::kGray16:
      exact = {AV_PIX_FMT_GRAY16BE, AV_PIX_FMT_GRAY16LE};
      break;
    case Pixels::kRgb48:
      exact = {AV_PIX_FMT_RGB48BE, AV_PIX_FMT_RGB48LE};
      break;
    case Pixels::kPalette:
      exact = {AV_PIX_FMT_PAL8};
      break;
  }
  for (AVPixelFormat f : exact) {
    if (supports(c, f)) {
      *fmt = f;
      return picture_frame(p, f);
    }
  }
  if (pixels != Pixels::kRgb && pixels != Pixels::kRgba) {
    fail(std::string("the ") + c->name + " encoder cannot store " + pixels_name(pixels) + " pixels");
  }
  if (c->pix_fmts == nullptr) fail(std::string("the ") + c->name + " encoder lists no pixel formats");
  // Prefer a YUV layout (what such files hold) with alpha when there is alpha to keep.
  AVPixelFormat target = c->pix_fmts[0];
  for (const AVPixelFormat* q = c->pix_fmts; *q != AV_PIX_FMT_NONE; ++q) {
    if (pixels == Pixels::kRgba && *q == AV_PIX_FMT_YUVA420P) target = *q;
    if (pixels == Pixels::kRgb && (*q == AV_PIX_FMT_YUV420P || *q == AV_PIX_FMT_YUVJ420P)) {
      target = *q;
      break;
    }
  }
  const Frame src = picture_frame(p, pixels == Pixels::kRgba ? AV_PIX_FMT_RGBA : AV_PIX_FMT_RGB24);
  *fmt = target;
  return convert_frame(src.get(), target);
}

// ---- Audio helpers ----

// Interleaved float samples [offset, offset + n) of `pcm` (channels `ch`) into frame `f` in the encoder's format.
void fill_audio(AVFrame* f, const std::vector<float>& pcm, int ch, size_t offset, int n) {
  const auto fmt = static_cast<AVSampleFormat>(f->format);
  const bool planar = av_sample_fmt_is_planar(fmt);
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < ch; ++c) {
      const size_t src = (offset + static_cast<size_t>(i)) * static_cast<size_t>(ch) + static_cast<size_t>(c);
      const float v = src < pcm.size() ? pcm[src] : 0.0f;
      const int plane = planar ? c : 0;
      const int idx = planar ? i : i * ch + c;
      switch (av_get_packed_sample_fmt(fmt)) {
        case AV_SAMPLE_FMT_S16:
          reinterpret_cast<int16_t*>(f->extended_data[plane])[idx] =
              static_cast<int16_t>(std::lrint(std::clamp(v, -1.0f, 1.0f) * 32767.0f));
          break;
        case AV_SAMPLE_FMT_S32:
          reinterpret_cast<int32_t*>(f->extended_data[plane])[idx] =
              static_cast<int32_t>(std::llrint(std::clamp(static_cast<double>(v), -1.0, 1.0) * 2147483647.0));
          break;
        case AV_SAMPLE_FMT_FLT:
          reinterpret_cast<float*>(f->extended_data[plane])[idx] = v;
          break;
        case AV_SAMPLE_FMT_DBL:
          reinterpret_cast<double*>(f->extended_data[plane])[idx] = v;
          break;
        default:
          fail("fill_audio: unexpected sample format");
      }
    }
  }
}

AVSampleFormat pick_sample_format(const AVCodec* c) {
  const AVSampleFormat order[] = {AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_S16,
                                  AV_SAMPLE_FMT_S16P, AV_SAMPLE_FMT_S32, AV_SAMPLE_FMT_S32P};
  if (c->sample_fmts == nullptr) return AV_SAMPLE_FMT_S16;
  for (AVSampleFormat want : order) {
    for (const AVSampleFormat* q = c->sample_fmts; *q != AV_SAMPLE_FMT_NONE; ++q) {
      if (*q == want) return want;
    }
  }
  return c->sample_fmts[0];
}

void check_rate(const AVCodec* c, int rate) {
  if (c->supported_samplerates == nullptr) return;
  std::string list;
  for (const int* r = c->supported_samplerates; *r != 0; ++r) {
    if (*r == rate) return;
    list += (list.empty() ? "" : ", ") + std::to_string(*r);
  }
  fail(std::string("the ") + c->name + " encoder takes " + list + " Hz, not " + std::to_string(rate));
}

// An audio encoder on `mux`: codec name, rate, channels.
Codec open_audio_encoder(const char* name, int rate, int channels, bool global_header) {
  const AVCodec* codec = encoder(name);
  check_rate(codec, rate);
  Codec c = alloc_codec(codec);
  c->sample_rate = rate;
  av_channel_layout_default(&c->ch_layout, channels);
  c->sample_fmt = pick_sample_format(codec);
  c->time_base = AVRational{1, rate};
  if (std::strcmp(name, "libmp3lame") == 0 || std::strcmp(name, "aac") == 0 || std::strcmp(name, "libopus") == 0 ||
      std::strcmp(name, "libvorbis") == 0) {
    c->bit_rate = 64000 * std::min(channels, 2) + 32000 * std::max(channels - 2, 0);
  }
  if (global_header) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  check(avcodec_open2(c.get(), codec, nullptr), std::string("opening the ") + name + " encoder");
  return c;
}

// Feeds interleaved PCM through an audio encoder in its frame size, as far as asked (so a muxer gets audio and
// video in time order).
class PcmFeeder {
 public:
  PcmFeeder(AVCodecContext* c, const std::vector<float>& pcm, std::function<void(AVPacket*)> sink)
      : c_(c), pcm_(pcm), sink_(std::move(sink)), frame_(alloc_frame()) {
    channels_ = c->ch_layout.nb_channels;
    total_ = pcm.size() / static_cast<size_t>(channels_);
    chunk_ = c->frame_size > 0 ? c->frame_size : 1024;
  }
  // Encodes frames until `until` samples (or all) have gone in.
  void feed(size_t until) {
    until = std::min(until, total_);
    while (offset_ < until) {
      const int n = static_cast<int>(std::min<size_t>(static_cast<size_t>(chunk_), total_ - offset_));
      AVFrame* f = frame_.get();
      av_frame_unref(f);
      f->format = c_->sample_fmt;
      f->sample_rate = c_->sample_rate;
      check(av_channel_layout_copy(&f->ch_layout, &c_->ch_layout), "channel layout");
      // Encoders with a fixed frame size take only full frames, except a short last one where they say so.
      f->nb_samples = (c_->codec->capabilities & (AV_CODEC_CAP_VARIABLE_FRAME_SIZE | AV_CODEC_CAP_SMALL_LAST_FRAME)) ||
                              c_->frame_size == 0
                          ? n
                          : chunk_;
      check(av_frame_get_buffer(f, 0), "audio frame");
      av_samples_set_silence(f->extended_data, 0, f->nb_samples, channels_, c_->sample_fmt);
      fill_audio(f, pcm_, channels_, offset_, n);
      f->pts = static_cast<int64_t>(offset_);
      encode(c_, f, sink_);
      offset_ += static_cast<size_t>(n);
    }
  }
  void finish() {
    feed(total_);
    encode(c_, nullptr, sink_);
  }

 private:
  AVCodecContext* c_;
  const std::vector<float>& pcm_;
  std::function<void(AVPacket*)> sink_;
  Frame frame_;
  int channels_ = 1;
  size_t total_ = 0;
  int chunk_ = 1024;
  size_t offset_ = 0;
};

}  // namespace

const char* pixels_name(Pixels p) {
  switch (p) {
    case Pixels::kRgb:
      return "rgb";
    case Pixels::kRgba:
      return "rgba";
    case Pixels::kGray:
      return "gray";
    case Pixels::kGray16:
      return "gray16";
    case Pixels::kRgb48:
      return "rgb48";
    case Pixels::kPalette:
      return "palette";
  }
  return "?";
}

Picture synth_picture(int width, int height, uint32_t seed, int frame) {
  if (width < 1 || height < 1 || width > 16384 || height > 16384) fail("synth_picture: size out of range");
  Picture p;
  p.width = width;
  p.height = height;
  uint32_t state = mix(seed * 0x9e3779b9U + static_cast<uint32_t>(frame) * 0x85ebca6bU + 1);
  const auto next = [&] { return state = mix(state + 0x6d2b79f5U); };
  for (auto& b : p.base) {
    for (auto& c : b) c = static_cast<uint8_t>(40 + next() % 176);
  }
  p.palette.resize(256);
  // Distinct colours: FFmpeg 5.1's GIF encoder maps a repeated palette colour's pixels to entry 0.
  for (int q = 0; q < 4; ++q) {
    for (int j = 0; j < 64; ++j) {
      uint32_t v;
      do {
        v = 0xff000000U;
        for (int c = 0; c < 3; ++c) {
          const int off = static_cast<int>(next() % 49) - 24;
          v |= static_cast<uint32_t>(std::clamp(p.base[q][c] + off, 0, 255)) << (16 - 8 * c);
        }
      } while (std::find(p.palette.begin(), p.palette.begin() + q * 64 + j, v) != p.palette.begin() + q * 64 + j);
      p.palette[static_cast<size_t>(q * 64 + j)] = v;
    }
  }
  const size_t n = static_cast<size_t>(width) * height;
  p.rgba.resize(n * 4);
  p.rgb16.resize(n * 3);
  p.index.resize(n);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const size_t i = static_cast<size_t>(y) * width + x;
      const int q = (y * 2 >= height ? 2 : 0) + (x * 2 >= width ? 1 : 0);
      // 63 of each quadrant's 64 entries: FFmpeg's GIF encoder takes an unused entry for transparency, or else
      // the least used one, which would change those pixels.
      const uint8_t idx = static_cast<uint8_t>(q * 64 + static_cast<int>(next() % 63));
      p.index[i] = idx;
      const uint32_t v = p.palette[idx];
      for (int c = 0; c < 3; ++c) {
        const auto b = static_cast<uint8_t>(v >> (16 - 8 * c));
        p.rgba[i * 4 + c] = b;
        p.rgb16[i * 3 + c] = static_cast<uint16_t>(b * 257 - (x * 31 + y * 17 + c * 5) % 128 * (b > 0 ? 1 : 0));
      }
      p.rgba[i * 4 + 3] = static_cast<uint8_t>(64 + (x * 7 + y * 13) % 192);
    }
  }
  return p;
}

std::vector<uint8_t> expected_rgb(const Picture& p, Pixels pixels) {
  const size_t n = static_cast<size_t>(p.width) * p.height;
  std::vector<uint8_t> out(n * 3);
  for (size_t i = 0; i < n; ++i) {
    for (int c = 0; c < 3; ++c) {
      uint8_t v = 0;
      switch (pixels) {
        case Pixels::kRgb:
        case Pixels::kRgba:
        case Pixels::kPalette:
          v = p.rgba[i * 4 + c];
          break;
        case Pixels::kGray:
          v = p.rgba[i * 4];
          break;
        case Pixels::kGray16:
          v = static_cast<uint8_t>(p.rgb16[i * 3] >> 8);
          break;
        case Pixels::kRgb48:
          v = static_cast<uint8_t>(p.rgb16[i * 3 + c] >> 8);
          break;
      }
      out[i * 3 + c] = v;
    }
  }
  return out;
}

std::string encode_picture(const std::vector<Picture>& frames, const ImageSpec& spec) {
  quiet();
  if (frames.empty()) fail("encode_picture: no frames");
  const std::string& f = spec.format;
  const bool anim = frames.size() > 1;
  const char* codec_name = nullptr;
  const char* muxer = nullptr;  // null: the packet is the file
  if (f == "png") {
    codec_name = anim ? "apng" : "png";
    muxer = anim ? "apng" : nullptr;
  } else if (f == "jpeg") {
    codec_name = "mjpeg";
  } else if (f == "webp") {
    codec_name = anim ? "libwebp_anim" : "libwebp";
    muxer = anim ? "webp" : nullptr;
  } else if (f == "gif") {
    codec_name = "gif";
    muxer = "gif";
  } else if (f == "bmp") {
    codec_name = "bmp";
  } else if (f == "tiff") {
    codec_name = "tiff";
  } else {
    fail("unknown image format '" + f + "'; expected png, jpeg, webp, gif, bmp or tiff");
  }
  if (anim && muxer == nullptr) fail("a " + f + " file holds one picture; animations: gif, png (APNG), webp");
  const AVCodec* codec = encoder(codec_name);
  AVPixelFormat fmt = AV_PIX_FMT_NONE;
  std::vector<Frame> pics;
  const bool lossless = f != "jpeg" && (f != "webp" || spec.lossless);
  for (const Picture& p : frames) pics.push_back(frame_for(codec, p, spec.pixels, lossless, &fmt));
  Codec c = alloc_codec(codec);
  c->width = frames[0].width;
  c->height = frames[0].height;
  c->pix_fmt = fmt;
  c->time_base = AVRational{1, 10};
  if (f == "jpeg") {
    c->flags |= AV_CODEC_FLAG_QSCALE;
    c->global_quality = FF_QP2LAMBDA * std::clamp(spec.quality, 1, 31);
    c->color_range = AVCOL_RANGE_JPEG;
    c->strict_std_compliance = FF_COMPLIANCE_UNOFFICIAL;
  }
  if (f == "webp") {
    av_opt_set_int(c->priv_data, "lossless", spec.lossless ? 1 : 0, 0);
    av_opt_set_double(c->priv_data, "quality", spec.lossless ? 100 : 90, 0);
  }
  std::unique_ptr<MemoryMuxer> mux;
  if (muxer != nullptr) {
    mux = std::make_unique<MemoryMuxer>(muxer);
    if (mux->needs_global_header()) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  }
  check(avcodec_open2(c.get(), codec, nullptr), std::string("opening the ") + codec_name + " encoder");
  std::string out;
  AVStream* st = nullptr;
  if (mux) {
    st = mux->add(c.get());
    if (f == "gif") av_opt_set_int(mux->ctx()->priv_data, "loop", 0, 0);
    mux->begin();
  }
  const auto sink = [&](AVPacket* pkt) {
    if (mux) {
      mux->write(pkt, c.get(), st);
    } else if (out.empty()) {
      out.assign(reinterpret_cast<const char*>(pkt->data), static_cast<size_t>(pkt->size));
    }
  };
  for (size_t k = 0; k < pics.size(); ++k) {
    pics[k]->pts = static_cast<int64_t>(k);
    if (f == "jpeg") pics[k]->quality = c->global_quality;
    encode(c.get(), pics[k].get(), sink);
  }
  encode(c.get(), nullptr, sink);
  if (mux) return mux->finish();
  if (out.empty()) fail("the " + std::string(codec_name) + " encoder gave no data");
  return out;
}

std::string encode_image(const ImageSpec& spec) {
  std::vector<Picture> frames;
  for (int k = 0; k < std::max(spec.frames, 1); ++k) {
    frames.push_back(synth_picture(spec.width, spec.height, spec.seed + static_cast<uint32_t>(k)));
  }
  return encode_picture(frames, spec);
}

std::vector<float> synth_audio(const AudioSpec& spec) {
  if (spec.channels < 1 || spec.channels > 8) fail("synth_audio: 1 to 8 channels");
  if (spec.rate < 1000 || spec.rate > 192000) fail("synth_audio: rate 1000 to 192000 Hz");
  if (!(spec.seconds >= 0) || spec.seconds > 3600) fail("synth_audio: 0 to 3600 seconds");
  const auto n = static_cast<size_t>(std::llround(spec.seconds * spec.rate));
  std::vector<float> pcm(n * static_cast<size_t>(spec.channels));
  uint32_t state = mix(spec.seed + 17);
  const double w = 2 * M_PI * spec.frequency / spec.rate;
  for (size_t i = 0; i < n; ++i) {
    const double tone = spec.amplitude * std::sin(w * static_cast<double>(i));
    for (int c = 0; c < spec.channels; ++c) {
      state = mix(state + 0x6d2b79f5U);
      const double u = static_cast<double>(state) / 2147483648.0 - 1.0;
      const double g = static_cast<size_t>(c) < spec.gains.size() ? spec.gains[static_cast<size_t>(c)] : 1.0;
      pcm[i * static_cast<size_t>(spec.channels) + static_cast<size_t>(c)] =
          static_cast<float>(g * (tone + spec.noise * u));
    }
  }
  return pcm;
}

std::string encode_audio(const AudioSpec& spec) {
  quiet();
  const std::string& f = spec.format;
  const char* codec_name = nullptr;
  const char* muxer = nullptr;
  if (f == "wav") {
    codec_name = "pcm_s16le";
    muxer = "wav";
  } else if (f == "mp3") {
    codec_name = "libmp3lame";
    muxer = "mp3";
  } else if (f == "flac") {
    codec_name = "flac";
    muxer = "flac";
  } else if (f == "ogg") {
    codec_name = "libopus";
    muxer = "ogg";
  } else if (f == "m4a") {
    codec_name = "aac";
    muxer = "ipod";
  } else if (f == "webm") {
    codec_name = "libopus";
    muxer = "webm";
  } else if (f == "aiff") {
    codec_name = "pcm_s16be";
    muxer = "aiff";
  } else if (f == "aac") {
    codec_name = "aac";
    muxer = "adts";  // raw AAC: no container, no length in any header
  } else {
    fail("unknown audio format '" + f + "'; expected wav, mp3, flac, ogg, m4a, webm, aiff or aac");
  }
  if (f == "mp3" && spec.channels > 2) fail("mp3 holds 1 or 2 channels");
  const std::vector<float> pcm = synth_audio(spec);
  MemoryMuxer mux(muxer);
  Codec c = open_audio_encoder(codec_name, spec.rate, spec.channels, mux.needs_global_header());
  AVStream* st = mux.add(c.get());
  mux.begin();
  PcmFeeder(c.get(), pcm, [&](AVPacket* pkt) { mux.write(pkt, c.get(), st); }).finish();
  return mux.finish();
}

std::vector<double> frame_times(const VideoSpec& spec) {
  if (!(spec.fps > 0) || spec.fps > 240) fail("video: fps must be above 0, at most 240");
  const int n = spec.frames > 0 ? spec.frames : std::max(1, static_cast<int>(std::lround(spec.seconds * spec.fps)));
  std::vector<double> t(static_cast<size_t>(n));
  double now = 0;
  for (int k = 0; k < n; ++k) {
    t[static_cast<size_t>(k)] = now;
    now += (spec.variable_rate ? (k % 2 == 0 ? 0.5 : 1.5) : 1.0) / spec.fps;
  }
  return t;
}

Picture video_frame(const VideoSpec& spec, int k) {
  Picture p = synth_picture(spec.width, spec.height, spec.seed, k);
  const int w = spec.width, h = spec.height;
  const int block = w / 10;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t rgb[3];
      if (y * 4 < h) {
        const int bit = block > 0 ? std::min(x / block, 9) : 0;
        const bool one = (k >> (9 - bit)) & 1;
        rgb[0] = rgb[1] = rgb[2] = one ? 235 : 16;
      } else if (y * 2 < h) {
        rgb[0] = rgb[1] = rgb[2] = 128;
      } else if (x * 2 < w) {
        rgb[0] = 200, rgb[1] = 40, rgb[2] = 40;
      } else {
        rgb[0] = 40, rgb[1] = 40, rgb[2] = 200;
      }
      const size_t i = static_cast<size_t>(y) * w + x;
      for (int c = 0; c < 3; ++c) {
        p.rgba[i * 4 + c] = rgb[c];
        p.rgb16[i * 3 + c] = static_cast<uint16_t>(rgb[c] * 257);
      }
      p.rgba[i * 4 + 3] = 255;
    }
  }
  return p;
}

int read_frame_number(const std::vector<uint8_t>& rgb, int width, int height) {
  const int block = width / 10;
  if (block < 2 || height < 8 || rgb.size() != static_cast<size_t>(width) * height * 3) return -1;
  int k = 0;
  for (int bit = 0; bit < 10; ++bit) {
    const int cx = bit * block + block / 2;
    const int cy = height / 8;
    const size_t i = (static_cast<size_t>(cy) * width + cx) * 3;
    const int luma = (rgb[i] + rgb[i + 1] + rgb[i + 2]) / 3;
    if (luma > 90 && luma < 160) return -1;  // neither black nor white
    k = k * 2 + (luma >= 160 ? 1 : 0);
  }
  return k;
}

std::string encode_video(const VideoSpec& spec) {
  quiet();
  const std::string& f = spec.format;
  const char* vcodec = nullptr;
  const char* acodec = nullptr;
  const char* muxer = nullptr;
  if (f == "mp4" || f == "mov") {
    vcodec = "libx264", acodec = "aac", muxer = f == "mp4" ? "mp4" : "mov";
  } else if (f == "mkv") {
    vcodec = "mpeg4", acodec = "libvorbis", muxer = "matroska";
  } else if (f == "webm") {
    vcodec = "libvpx", acodec = "libopus", muxer = "webm";
  } else if (f == "avi") {
    vcodec = "mpeg4", acodec = "pcm_s16le",
    muxer = "avi";  // MP3's negative first timestamp makes the avi muxer shift the video
  } else {
    fail("unknown video format '" + f + "'; expected mp4, webm, mkv, avi or mov");
  }
  if (spec.variable_rate && f == "avi") fail("avi cannot hold a variable frame rate");
  if (spec.rotate != 0 && f != "mp4" && f != "mov") fail("rotation: mp4 and mov only");
  if (spec.rotate % 90 != 0 || spec.rotate < 0 || spec.rotate >= 360) fail("rotation: 0, 90, 180 or 270");
  if (spec.width < 16 || spec.height < 16 || spec.width % 2 || spec.height % 2) fail("video: even sizes from 16x16");
  const std::vector<double> times = frame_times(spec);

  MemoryMuxer mux(muxer);
  const AVCodec* vc = encoder(vcodec);
  Codec v = alloc_codec(vc);
  v->width = spec.width;
  v->height = spec.height;
  v->pix_fmt = AV_PIX_FMT_YUV420P;
  // Millisecond ticks for a variable rate (and for every file but avi, which counts frames).
  const bool ms = spec.variable_rate || f != "avi";
  const int fps_int = std::max(1, static_cast<int>(std::lround(spec.fps)));
  v->time_base = ms ? AVRational{1, 1000} : av_inv_q(av_d2q(spec.fps, 1000));
  v->framerate = av_d2q(spec.fps, 1000);
  v->gop_size = 2 * fps_int;
  if (f == "mkv") v->max_b_frames = 2;
  if (f == "mp4" || f == "mov") {
    av_opt_set(v->priv_data, "preset", "veryfast", 0);
    av_opt_set(v->priv_data, "tune", "zerolatency", 0);
    v->max_b_frames = 0;
  }
  if (f == "webm") {
    av_opt_set(v->priv_data, "deadline", "realtime", 0);
    av_opt_set_int(v->priv_data, "cpu-used", 8, 0);
    v->bit_rate = 400000;
  }
  if (f == "mkv" || f == "avi") {
    v->flags |= AV_CODEC_FLAG_QSCALE;
    v->global_quality = FF_QP2LAMBDA * 3;
  }
  if (mux.needs_global_header()) v->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  check(avcodec_open2(v.get(), vc, nullptr), std::string("opening the ") + vcodec + " encoder");
  AVStream* vst = mux.add(v.get());
  vst->avg_frame_rate = v->framerate;
  if (spec.rotate != 0) {
    auto* m = reinterpret_cast<int32_t*>(av_stream_new_side_data(vst, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t)));
    if (m == nullptr) throw std::bad_alloc();
    // FFmpeg's convention: a point (p, q) is shown at (a p + c q, b p + d q); [a b u; c d v; x y w], 16.16.
    const int32_t one = 1 << 16;
    int32_t a = one, b = 0, c = 0, d = one;
    if (spec.rotate == 90) a = 0, b = one, c = -one, d = 0;  // shown at (-q, p): turned clockwise
    if (spec.rotate == 180) a = -one, b = 0, c = 0, d = -one;
    if (spec.rotate == 270) a = 0, b = -one, c = one, d = 0;
    const int32_t mat[9] = {a, b, 0, c, d, 0, 0, 0, 1 << 30};
    std::memcpy(m, mat, sizeof mat);
  }
  Codec a;
  AVStream* ast = nullptr;
  std::vector<float> pcm;
  if (spec.with_audio) {
    AudioSpec as;
    as.seconds = times.back() + 1.0 / spec.fps;
    as.rate = 48000;
    as.channels = 2;
    as.seed = spec.seed;
    pcm = synth_audio(as);
    a = open_audio_encoder(acodec, 48000, 2, mux.needs_global_header());
    ast = mux.add(a.get());
  }
  mux.begin();
  const auto vsink = [&](AVPacket* pkt) { mux.write(pkt, v.get(), vst); };
  std::unique_ptr<PcmFeeder> sound;
  if (a) sound = std::make_unique<PcmFeeder>(a.get(), pcm, [&](AVPacket* pkt) { mux.write(pkt, a.get(), ast); });
  for (size_t k = 0; k < times.size(); ++k) {
    if (sound) sound->feed(static_cast<size_t>(std::llround((times[k] + 1.0 / spec.fps) * 48000)));
    const Picture p = video_frame(spec, static_cast<int>(k));
    const Frame rgb = picture_frame(p, AV_PIX_FMT_RGB24);
    Frame yuv = convert_frame(rgb.get(), AV_PIX_FMT_YUV420P);
    yuv->pts = ms ? std::llround(times[k] * 1000) : static_cast<int64_t>(k);
    encode(v.get(), yuv.get(), vsink);
  }
  encode(v.get(), nullptr, vsink);
  if (sound) sound->finish();
  return mux.finish();
}

}  // namespace locus::mkmedia
