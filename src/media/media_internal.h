// Internal to src/media: the in-memory FFmpeg input, decoder set-up, frame conversion and orientation, shared by
// decode_image.cpp, decode_audio.cpp and decode_video.cpp (and their tests). Not part of the public interface.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
}

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "media/media.h"

namespace locus::media::detail {

// FFmpeg's text for an error code ("Invalid data found when processing input").
std::string av_error_text(int err);

// Silences FFmpeg's own logging (its messages are not one-line errors and would go to stderr); done once per
// process, the first time any media function runs.
void quiet_ffmpeg_logs();

// "1.5" with at most `digits` decimals and no trailing zeros ("600", "12.25").
std::string format_number(double v, int digits = 2);

// ---- Limits ----

// The one-line refusals, each naming the limit, its environment variable and the value found.
[[noreturn]] void refuse_pixels(const char* what, uint64_t width, uint64_t height, const Limits& limits);
[[noreturn]] void refuse_seconds(const char* what, double seconds, bool at_least, double limit, const char* env);

// ---- Image headers ----

struct HeaderSize {
  uint64_t width = 0;
  uint64_t height = 0;
};
// The picture size written in the header of a PNG/APNG, JPEG, GIF, BMP, WebP or TIFF file, read without
// decoding anything; nullopt when the bytes are not one of those or the header is cut short.
std::optional<HeaderSize> image_header_size(std::string_view bytes);

// An animated WebP's first frame as a still WebP file (FFmpeg 5.1's WebP decoder reads no animation): the first
// ANMF chunk's bitstream (with its alpha chunk, if any), at the frame's own size; nullopt for anything else.
std::optional<std::string> webp_first_frame(std::string_view bytes);

// ---- The input ----

struct FormatDeleter {
  void operator()(AVFormatContext* f) const;
};
struct IoDeleter {
  void operator()(AVIOContext* io) const;
};
struct CodecDeleter {
  void operator()(AVCodecContext* c) const;
};
struct FrameDeleter {
  void operator()(AVFrame* f) const;
};
struct PacketDeleter {
  void operator()(AVPacket* p) const;
};
using CodecPtr = std::unique_ptr<AVCodecContext, CodecDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
FramePtr make_frame();
PacketPtr make_packet();

// The bytes, opened in memory by one of the demuxers locus takes (a custom AVIOContext with read and seek
// callbacks over the buffer; io_open refuses every other file or URL; protocol and format whitelists set).
// The constructor checks, in order: empty input, the byte limit, HEIF, what FFmpeg's probe recognises, the
// demuxer allow-list, the picture size in an image's header, then opens the container and checks the stream
// count and the frame size its header gives.
class Input {
 public:
  Input(std::string_view bytes, const Limits& limits);
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  AVFormatContext* ctx() const { return fmt_.get(); }
  const Limits& limits() const { return limits_; }
  // A short user-facing name of the format: "png", "jpeg", "mp4/mov", "matroska/webm", "wav", ...
  const std::string& label() const { return label_; }
  // The demuxer reads one still-picture format (png_pipe, jpeg_pipe, gif, ...).
  bool image_demuxer() const { return image_demuxer_; }
  // image / audio / video, from the demuxer and the streams (see probe() in media.h).
  Kind kind() const { return kind_; }
  // "an image (png)", "audio (wav)", "a video (mp4/mov)": for "expected X; the content is Y" messages.
  std::string kind_phrase() const;
  // The first video stream that is not an attached picture (cover art) and that FFmpeg can decode; -1 if none.
  int video_stream() const { return video_stream_; }
  // The first audio stream FFmpeg can decode; -1 if none.
  int audio_stream() const { return audio_stream_; }
  // "audio aac, video h264" (for errors).
  std::string stream_list() const;

 private:
  struct Reader {
    const uint8_t* data = nullptr;
    int64_t size = 0;
    int64_t pos = 0;
  };
  static int read(void* opaque, uint8_t* buf, int size);
  static int64_t seek(void* opaque, int64_t offset, int whence);

  Limits limits_;
  std::string owned_;  // bytes rewritten before demuxing (an animated WebP's first frame)
  Reader reader_;
  std::unique_ptr<AVIOContext, IoDeleter> io_;  // declared before fmt_: freed after it
  std::unique_ptr<AVFormatContext, FormatDeleter> fmt_;
  std::string label_;
  bool image_demuxer_ = false;
  Kind kind_ = Kind::kVideo;
  int video_stream_ = -1;
  int audio_stream_ = -1;
};

// A decoder for stream `index` of the input, refusing pictures over the pixel limit before it allocates them
// (AVCodecContext::max_pixels), one thread. Throws MediaError naming `what` when FFmpeg has no decoder.
CodecPtr open_decoder(const Input& in, int index, const std::string& what);

// Reads the next packet (of any stream) into `pkt`; false at the end of the input or on a read error (what was
// read before stands). Counts packets in `*used` and throws MediaError once more than `budget` were read.
bool next_packet(const Input& in, AVPacket* pkt, uint64_t* used, uint64_t budget);

// ---- Pictures ----

// A decoded frame to RGB8 with swscale (exact conversion: no approximation flags, no dithering; the source's
// YUV matrix and range honoured), alpha dropped. Throws MediaError for an empty frame or a size over the limit.
Image frame_to_rgb(const AVFrame* frame, const Limits& limits);

// EXIF orientation, 1..8 (1: as stored). What each value does, for a picture stored W x H:
//   2 mirror left-right, 3 rotate 180, 4 mirror top-bottom, 5 transpose (mirror along the main diagonal),
//   6 rotate 90 clockwise, 7 transverse (mirror along the other diagonal), 8 rotate 90 counter-clockwise.
// The orientation an FFmpeg display matrix (AV_FRAME_DATA_DISPLAYMATRIX / AV_PKT_DATA_DISPLAYMATRIX) describes:
// a rotation by a multiple of 90 degrees with or without a mirror; other angles are snapped to the nearest
// right angle; a degenerate matrix gives 1.
int orientation_from_display_matrix(const int32_t matrix[9]);
// The orientation of a decoded still picture: the frame's display matrix if it has one, else the EXIF
// "Orientation" tag FFmpeg puts in the frame's metadata (JPEG, WebP, TIFF), else 1.
int orientation_of_frame(const AVFrame* frame);
// The picture as it is meant to be seen under `orientation` (1..8; other values leave it as it is).
Image apply_orientation(const Image& in, int orientation);

// ---- Audio ----

// Decodes one audio stream to mono float at 16 kHz: every channel layout averaged to one channel (as
// llama.cpp's miniaudio does), every rate resampled with swresample; the layout or rate may change mid-stream.
class AudioDecoder {
 public:
  // `max_seconds`/`env`: the duration limit the decoded length is held to as it grows.
  AudioDecoder(const Input& in, int index, double max_seconds, const char* env);
  ~AudioDecoder();
  AudioDecoder(const AudioDecoder&) = delete;
  AudioDecoder& operator=(const AudioDecoder&) = delete;

  // One packet of the stream; nullptr drains the decoder and the resampler. Undecodable packets are skipped
  // (counted); throws MediaError when the output passes the duration limit.
  void send(const AVPacket* pkt);
  // The samples so far (after send(nullptr): all of them).
  std::vector<float>& samples() { return samples_; }
  // Presentation time of the first decoded frame, in seconds on the container's clock; nullopt if unknown.
  std::optional<double> first_time() const { return first_time_; }
  int frames_decoded() const { return frames_; }
  int errors() const { return errors_; }
  int last_error() const { return last_error_; }

 private:
  void receive();
  void convert(const AVFrame* f);
  void configure(const AVFrame* f);
  void drain_resampler();

  const Input& in_;
  int index_;
  double max_seconds_;
  const char* env_;
  CodecPtr codec_;
  FramePtr frame_;
  struct SwrContext* swr_ = nullptr;
  int swr_rate_ = 0;
  int swr_channels_ = 0;
  int swr_format_ = -1;
  std::vector<float> samples_;
  std::optional<double> first_time_;
  int frames_ = 0;
  int errors_ = 0;
  int last_error_ = 0;
};

// Seconds the container's header gives for stream `index` (else for the whole file); negative when it says nothing.
double header_seconds(const Input& in, int index);

// NaN and infinities to 0, everything clamped to [-1, 1].
void finish_samples(std::vector<float>& samples);

// The limit on packets read for one decode (a cap on every decode loop, so a container whose tables repeat a
// few bytes a billion times cannot spin): 1000 packets per second of allowed duration, plus 10000.
uint64_t packet_budget(double max_seconds);

}  // namespace locus::media::detail
