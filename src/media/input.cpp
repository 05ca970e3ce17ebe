// The in-memory FFmpeg input: probing by content against an allow-list of demuxers, a custom AVIOContext over
// the caller's bytes, and no way for a demuxer to open anything else.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

extern "C" {
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
}

#include "media/media_internal.h"

namespace locus::media::detail {

std::string av_error_text(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  std::string s(buf);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

void quiet_ffmpeg_logs() {
  static std::once_flag once;
  std::call_once(once, [] {
    // LOCUS_MEDIA_FFMPEG_LOG=1 keeps FFmpeg's warnings on stderr (for debugging a file FFmpeg refuses).
    const char* keep = std::getenv("LOCUS_MEDIA_FFMPEG_LOG");
    av_log_set_level(keep != nullptr && keep[0] == '1' ? AV_LOG_WARNING : AV_LOG_QUIET);
  });
}

void FormatDeleter::operator()(AVFormatContext* f) const { avformat_close_input(&f); }
void IoDeleter::operator()(AVIOContext* io) const {
  av_freep(&io->buffer);  // FFmpeg may have replaced the buffer it was given
  avio_context_free(&io);
}
void CodecDeleter::operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
void FrameDeleter::operator()(AVFrame* f) const { av_frame_free(&f); }
void PacketDeleter::operator()(AVPacket* p) const { av_packet_free(&p); }

FramePtr make_frame() {
  FramePtr f(av_frame_alloc());
  if (!f) throw std::bad_alloc();
  return f;
}

PacketPtr make_packet() {
  PacketPtr p(av_packet_alloc());
  if (!p) throw std::bad_alloc();
  return p;
}

namespace {

struct Accepted {
  const char* demuxer;  // FFmpeg's AVInputFormat::name
  const char* label;    // what errors call it
  bool image;           // one still-picture format
};

// The demuxers locus opens. Everything else FFmpeg could probe (playlists such as hls and concat, image2
// sequences, raw streams, network formats, ...) is refused by name before it is opened.
constexpr Accepted kAccepted[] = {
    {"png_pipe", "png", true},
    {"apng", "apng", true},
    {"jpeg_pipe", "jpeg", true},
    {"webp_pipe", "webp", true},
    {"gif", "gif", true},
    {"gif_pipe", "gif", true},
    {"bmp_pipe", "bmp", true},
    {"tiff_pipe", "tiff", true},
    {"mov,mp4,m4a,3gp,3g2,mj2", "mp4/mov", false},
    {"matroska,webm", "matroska/webm", false},
    {"avi", "avi", false},
    {"wav", "wav", false},
    {"mp3", "mp3", false},
    {"flac", "flac", false},
    {"ogg", "ogg", false},
    {"aac", "aac", false},
    {"aiff", "aiff", false},
};

constexpr const char* kExpected =
    "expected an image (JPEG, PNG, WebP, GIF, BMP, TIFF), audio (WAV, MP3, FLAC, Ogg, M4A/AAC, WebM) or a video (MP4, "
    "WebM, MOV, MKV, AVI)";

std::string format_whitelist() {
  std::string s;
  for (const auto& a : kAccepted) {
    if (!s.empty()) s += ',';
    s += a.demuxer;
  }
  return s;
}

const Accepted* accepted(const AVInputFormat* f) {
  for (const auto& a : kAccepted) {
    if (std::strcmp(f->name, a.demuxer) == 0) return &a;
  }
  return nullptr;
}

// Demuxers may try to open other files or URLs (playlists, references in a movie's tables): never.
int refuse_open(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) { return AVERROR(EPERM); }

std::string hex_prefix(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < std::min<size_t>(bytes.size(), 8); ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (i) s += ' ';
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s;
}

std::string brand(std::string_view b, size_t off) {
  std::string s(b.substr(off, 4));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return s;
}

// HEIF/HEIC ("ftyp" with an HEIF brand and no AVIF one): FFmpeg 5.1's mov demuxer skips the item tables such
// files keep their pictures in (it reads them for AVIF only), so it would find no stream. Said plainly instead.
void refuse_heif(std::string_view b) {
  if (b.size() < 16 || b.substr(4, 4) != "ftyp") return;
  uint64_t box = (uint64_t{static_cast<unsigned char>(b[0])} << 24) |
                 (uint64_t{static_cast<unsigned char>(b[1])} << 16) |
                 (uint64_t{static_cast<unsigned char>(b[2])} << 8) | uint64_t{static_cast<unsigned char>(b[3])};
  box = std::min<uint64_t>(std::max<uint64_t>(box, 16), b.size());
  std::vector<std::string> brands{brand(b, 8)};
  for (size_t o = 16; o + 4 <= box; o += 4) brands.push_back(brand(b, o));
  const auto has = [&](const char* x) { return std::find(brands.begin(), brands.end(), x) != brands.end(); };
  if (has("avif") || has("avis")) return;
  const std::string& major = brands[0];
  static const char* heif[] = {"heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs", "mif1", "msf1"};
  for (const char* h : heif) {
    if (major == h) {
      throw MediaError("the content is a HEIF/HEIC image (brand '" + major +
                       "'), which this build's FFmpeg (Debian 12, 5.1) cannot decode; convert it to JPEG or PNG");
    }
  }
}

}  // namespace

int Input::read(void* opaque, uint8_t* buf, int size) {
  auto* r = static_cast<Reader*>(opaque);
  const int64_t left = r->size - r->pos;
  if (left <= 0 || size <= 0) return AVERROR_EOF;
  const int n = static_cast<int>(std::min<int64_t>(size, left));
  std::memcpy(buf, r->data + r->pos, static_cast<size_t>(n));
  r->pos += n;
  return n;
}

int64_t Input::seek(void* opaque, int64_t offset, int whence) {
  auto* r = static_cast<Reader*>(opaque);
  whence &= ~AVSEEK_FORCE;
  if (whence == AVSEEK_SIZE) return r->size;
  int64_t base;
  switch (whence) {
    case SEEK_SET:
      base = 0;
      break;
    case SEEK_CUR:
      base = r->pos;
      break;
    case SEEK_END:
      base = r->size;
      break;
    default:
      return AVERROR(EINVAL);
  }
  int64_t to;
  if (__builtin_add_overflow(base, offset, &to) || to < 0 || to > r->size) return AVERROR(EINVAL);
  r->pos = to;
  return to;
}

Input::Input(std::string_view bytes, const Limits& limits) : limits_(limits) {
  quiet_ffmpeg_logs();
  if (bytes.empty()) throw MediaError(std::string("the media is empty (0 bytes); ") + kExpected);
  if (bytes.size() > limits.max_bytes) {
    throw MediaError("the media is " + std::to_string(bytes.size()) + " bytes; the limit is " +
                     std::to_string(limits.max_bytes) + " (LOCUS_MEDIA_MAX_BYTES)");
  }
  refuse_heif(bytes);

  // Probe the content (never a name) with FFmpeg's probes, as avformat_open_input does: over the first 2 KB,
  // doubling up to 5 MB until a format scores above AVPROBE_SCORE_RETRY (at the last size any score will do).
  const size_t max_probe = std::min<size_t>(bytes.size(), 5'000'000);
  std::vector<uint8_t> probe_buf;
  const AVInputFormat* ifmt = nullptr;
  int score = 0;
  for (size_t n = std::min<size_t>(2048, max_probe);; n = std::min(n * 2, max_probe)) {
    probe_buf.assign(n + AVPROBE_PADDING_SIZE, 0);
    std::memcpy(probe_buf.data(), bytes.data(), n);
    AVProbeData pd{};
    pd.filename = "";
    pd.buf = probe_buf.data();
    pd.buf_size = static_cast<int>(n);
    score = 0;
    ifmt = av_probe_input_format3(&pd, 1, &score);
    if ((ifmt != nullptr && score > AVPROBE_SCORE_RETRY) || n == max_probe) break;
    // Still-picture probes check magic bytes and structure; their half score (JPEG's until it sees the end of
    // the file) is as sure as it gets, so a 5 MB photo is not probed five megabytes deep.
    const Accepted* a = ifmt != nullptr ? accepted(ifmt) : nullptr;
    if (a != nullptr && a->image && score >= AVPROBE_SCORE_RETRY) break;
  }
  probe_buf.clear();
  probe_buf.shrink_to_fit();
  if (ifmt == nullptr || score <= 0) {
    throw MediaError("unrecognised media (" + std::to_string(bytes.size()) + " bytes starting " + hex_prefix(bytes) +
                     "); " + kExpected);
  }
  const Accepted* acc = accepted(ifmt);
  if (acc == nullptr) {
    throw MediaError(std::string("the content is ") + (ifmt->long_name ? ifmt->long_name : ifmt->name) + " (" +
                     ifmt->name + "), which locus does not read; " + kExpected);
  }
  label_ = acc->label;
  image_demuxer_ = acc->image;

  if (image_demuxer_) {
    // The picture size from the header, before any decoder allocates it.
    if (const auto s = image_header_size(bytes)) {
      if (s->width == 0 || s->height == 0) {
        throw MediaError("the " + label_ + " image is " + std::to_string(s->width) + "x" + std::to_string(s->height) +
                         ": it has no pixels");
      }
      if (s->width * static_cast<unsigned __int128>(s->height) > limits.max_pixels) {
        refuse_pixels("image", s->width, s->height, limits);
      }
    }
  }

  if (std::strcmp(ifmt->name, "webp_pipe") == 0) {
    if (auto still = webp_first_frame(bytes)) {
      owned_ = std::move(*still);
      bytes = owned_;
    }
  }
  reader_ = Reader{reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int64_t>(bytes.size()), 0};
  constexpr int kIoBuffer = 64 * 1024;
  auto* io_buf = static_cast<uint8_t*>(av_malloc(kIoBuffer));
  if (io_buf == nullptr) throw std::bad_alloc();
  io_.reset(avio_alloc_context(io_buf, kIoBuffer, 0, &reader_, &Input::read, nullptr, &Input::seek));
  if (!io_) {
    av_free(io_buf);
    throw std::bad_alloc();
  }
  AVFormatContext* f = avformat_alloc_context();
  if (f == nullptr) throw std::bad_alloc();
  f->pb = io_.get();
  f->flags |= AVFMT_FLAG_CUSTOM_IO;
  f->io_open = &refuse_open;
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "protocol_whitelist", "none", 0);
  av_dict_set(&opts, "format_whitelist", format_whitelist().c_str(), 0);
  const int r = avformat_open_input(&f, "", ifmt, &opts);  // frees f on failure
  av_dict_free(&opts);
  if (r < 0)
    throw MediaError("cannot read the " + label_ + " " + (image_demuxer_ ? "image" : "file") + ": " + av_error_text(r));
  fmt_.reset(f);

  // (FFmpeg's own ceiling, max_streams = 1000, keeps a file from declaring more than that.)
  if (fmt_->nb_streams > static_cast<unsigned>(limits.max_streams)) {
    throw MediaError("the " + label_ + " file has " + std::to_string(fmt_->nb_streams) + " streams; the limit is " +
                     std::to_string(limits.max_streams) + " (LOCUS_MEDIA_MAX_STREAMS)");
  }

  bool has_video = false;
  bool has_audio = false;
  for (unsigned i = 0; i < fmt_->nb_streams; ++i) {
    const AVStream* st = fmt_->streams[i];
    const AVCodecParameters* par = st->codecpar;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
      has_video = true;
      if (video_stream_ < 0 && avcodec_find_decoder(par->codec_id) != nullptr) video_stream_ = static_cast<int>(i);
    } else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
      has_audio = true;
      if (audio_stream_ < 0 && avcodec_find_decoder(par->codec_id) != nullptr) audio_stream_ = static_cast<int>(i);
    }
  }
  const AVDictionaryEntry* major = av_dict_get(fmt_->metadata, "major_brand", nullptr, 0);
  const bool avif =
      major != nullptr && (std::strcmp(major->value, "avif") == 0 || std::strcmp(major->value, "avis") == 0);
  if (image_demuxer_ || (avif && has_video)) {
    kind_ = Kind::kImage;
    if (!has_video) throw MediaError("the " + label_ + " image holds no picture");
  } else if (has_video) {
    kind_ = Kind::kVideo;
  } else if (has_audio) {
    kind_ = Kind::kAudio;
  } else {
    throw MediaError("the " + label_ + " file holds no audio or video stream" +
                     (fmt_->nb_streams ? " (streams: " + stream_list() + ")" : std::string()));
  }

  // The frame size the container's header gives for the stream that would be decoded.
  if (video_stream_ >= 0) {
    const AVCodecParameters* par = fmt_->streams[video_stream_]->codecpar;
    if (par->width > 0 && par->height > 0 &&
        static_cast<uint64_t>(par->width) * static_cast<uint64_t>(par->height) > limits.max_pixels) {
      refuse_pixels(kind_ == Kind::kImage ? "image" : "video frame", static_cast<uint64_t>(par->width),
                    static_cast<uint64_t>(par->height), limits);
    }
  }
}

std::string Input::kind_phrase() const {
  switch (kind_) {
    case Kind::kImage:
      return "an image (" + label_ + ")";
    case Kind::kAudio:
      return "audio (" + label_ + ")";
    case Kind::kVideo:
      return "a video (" + label_ + ")";
  }
  return label_;
}

std::string Input::stream_list() const {
  std::string s;
  for (unsigned i = 0; i < fmt_->nb_streams; ++i) {
    const AVStream* st = fmt_->streams[i];
    const char* type = av_get_media_type_string(st->codecpar->codec_type);
    if (!s.empty()) s += ", ";
    s += std::string(type ? type : "unknown") + " " + avcodec_get_name(st->codecpar->codec_id);
    if (st->disposition & AV_DISPOSITION_ATTACHED_PIC) s += " (cover art)";
  }
  return s;
}

CodecPtr open_decoder(const Input& in, int index, const std::string& what) {
  const AVStream* st = in.ctx()->streams[index];
  const AVCodec* dec = avcodec_find_decoder(st->codecpar->codec_id);
  if (dec == nullptr) {
    throw MediaError("FFmpeg has no decoder for the " + what + "'s codec (" + avcodec_get_name(st->codecpar->codec_id) +
                     ")");
  }
  CodecPtr c(avcodec_alloc_context3(dec));
  if (!c) throw std::bad_alloc();
  int r = avcodec_parameters_to_context(c.get(), st->codecpar);
  if (r < 0)
    throw MediaError("cannot set up the " + std::string(dec->name) + " decoder for the " + what + ": " +
                     av_error_text(r));
  c->pkt_timebase = st->time_base;
  c->max_pixels = static_cast<int64_t>(std::min<uint64_t>(in.limits().max_pixels, std::numeric_limits<int64_t>::max()));
  c->thread_count = 1;
  if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) c->max_samples = 1 << 20;  // per frame: no codec needs more
  r = avcodec_open2(c.get(), dec, nullptr);
  if (r < 0)
    throw MediaError("cannot open the " + std::string(dec->name) + " decoder for the " + what + ": " +
                     av_error_text(r));
  return c;
}

uint64_t packet_budget(double max_seconds) { return static_cast<uint64_t>(max_seconds * 1000) + 10000; }

bool next_packet(const Input& in, AVPacket* pkt, uint64_t* used, uint64_t budget) {
  av_packet_unref(pkt);
  if (av_read_frame(in.ctx(), pkt) < 0) return false;
  if (++*used > budget) {
    throw MediaError("the " + in.label() + " file holds more than " + std::to_string(budget) +
                     " packets; locus reads at most 1000 per second of the duration limit, plus 10000");
  }
  return true;
}

}  // namespace locus::media::detail
