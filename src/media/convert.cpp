// Decoded frames to RGB8 (swscale) and orientation (EXIF tag or display matrix).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include "media/media_internal.h"

namespace locus::media::detail {
namespace {

struct SwsDeleter {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};

bool is_yuv(AVPixelFormat fmt) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(fmt);
  if (d == nullptr) return false;
  return !(d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) && d->nb_components >= 3;
}

bool is_jpeg_range_format(AVPixelFormat fmt) {
  switch (fmt) {
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_YUVJ440P:
    case AV_PIX_FMT_YUVJ411P:
      return true;
    default:
      return false;
  }
}

}  // namespace

Image frame_to_rgb(const AVFrame* frame, const Limits& limits) {
  if (frame == nullptr || frame->width <= 0 || frame->height <= 0 || frame->format < 0) {
    throw MediaError("the decoder gave an empty picture");
  }
  const int w = frame->width;
  const int h = frame->height;
  if (static_cast<uint64_t>(w) * static_cast<uint64_t>(h) > limits.max_pixels) {
    refuse_pixels("picture", static_cast<uint64_t>(w), static_cast<uint64_t>(h), limits);
  }
  const auto src_fmt = static_cast<AVPixelFormat>(frame->format);
  std::unique_ptr<SwsContext, SwsDeleter> sws(sws_alloc_context());
  if (!sws) throw std::bad_alloc();
  av_opt_set_int(sws.get(), "srcw", w, 0);
  av_opt_set_int(sws.get(), "srch", h, 0);
  av_opt_set_int(sws.get(), "src_format", src_fmt, 0);
  av_opt_set_int(sws.get(), "dstw", w, 0);
  av_opt_set_int(sws.get(), "dsth", h, 0);
  av_opt_set_int(sws.get(), "dst_format", AV_PIX_FMT_RGB24, 0);
  // Same size, so the scaler only matters for chroma: full-resolution chroma in and out, accurate rounding, no
  // dithering (16-bit sources are rounded, not noised). Alpha is dropped (alphablend stays "none").
  av_opt_set_int(sws.get(), "sws_flags", SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP, 0);
  av_opt_set(sws.get(), "sws_dither", "none", 0);
  if (sws_init_context(sws.get(), nullptr, nullptr) < 0) {
    const char* name = av_get_pix_fmt_name(src_fmt);
    throw MediaError(std::string("cannot convert the decoded pixel format ") + (name ? name : "unknown") + " to RGB");
  }
  if (is_yuv(src_fmt)) {
    // The source's matrix (BT.601 when unspecified, as FFmpeg's tools assume) and range (full for JPEG-range
    // formats and frames that say so).
    const bool full = frame->color_range == AVCOL_RANGE_JPEG || is_jpeg_range_format(src_fmt);
    const int* src_coeffs = sws_getCoefficients(frame->colorspace);
    sws_setColorspaceDetails(sws.get(), src_coeffs, full ? 1 : 0, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16,
                             1 << 16);
  }
  // Straight into the picture's rows. SIMD output code may write a little past a row's end: rows are written top
  // to bottom, so that lands on the next row before it is written, and past the last row on 64 spare bytes.
  Image img;
  img.width = w;
  img.height = h;
  const size_t size = static_cast<size_t>(w) * static_cast<size_t>(h) * 3;
  img.rgb.resize(size + 64);
  uint8_t* dst[4] = {img.rgb.data(), nullptr, nullptr, nullptr};
  int dst_stride[4] = {w * 3, 0, 0, 0};
  const int rows = sws_scale(sws.get(), frame->data, frame->linesize, 0, h, dst, dst_stride);
  if (rows != h) throw MediaError("cannot convert the decoded picture to RGB");
  img.rgb.resize(size);
  return img;
}

int orientation_from_display_matrix(const int32_t m[9]) {
  // FFmpeg's convention (libavutil/display.h): a point (p, q) is shown at p' = a p + c q, q' = b p + d q, with
  // a = m[0], b = m[1], c = m[3], d = m[4] in 16.16 fixed point. Snapped to the nearest right angle.
  const double a = m[0] / 65536.0, b = m[1] / 65536.0, c = m[3] / 65536.0, d = m[4] / 65536.0;
  const auto sign = [](double v) { return v < 0 ? -1 : 1; };
  if (std::fabs(a) + std::fabs(d) >= std::fabs(b) + std::fabs(c)) {
    if (std::fabs(a) < 1e-6 || std::fabs(d) < 1e-6) return 1;  // degenerate
    const int sa = sign(a), sd = sign(d);
    if (sa > 0) return sd > 0 ? 1 : 4;
    return sd > 0 ? 2 : 3;
  }
  if (std::fabs(b) < 1e-6 || std::fabs(c) < 1e-6) return 1;
  const int sb = sign(b), sc = sign(c);
  if (sb > 0) return sc > 0 ? 5 : 6;
  return sc > 0 ? 8 : 7;
}

int orientation_of_frame(const AVFrame* frame) {
  if (const AVFrameSideData* sd = av_frame_get_side_data(frame, AV_FRAME_DATA_DISPLAYMATRIX);
      sd != nullptr && sd->size >= 9 * sizeof(int32_t)) {
    int32_t m[9];
    std::memcpy(m, sd->data, sizeof m);
    return orientation_from_display_matrix(m);
  }
  // FFmpeg 5.1's JPEG, WebP and TIFF decoders put EXIF tags into the frame's metadata, by name.
  if (const AVDictionaryEntry* e = av_dict_get(frame->metadata, "Orientation", nullptr, AV_DICT_MATCH_CASE)) {
    const char* v = e->value;
    while (*v == ' ') ++v;
    if (v[0] >= '1' && v[0] <= '8' && (v[1] == '\0' || v[1] == ' ' || v[1] == ',')) return v[0] - '0';
  }
  return 1;
}

Image apply_orientation(const Image& in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;
  const int w = in.width, h = in.height;
  const bool swap = orientation >= 5;
  Image out;
  out.width = swap ? h : w;
  out.height = swap ? w : h;
  out.rgb.resize(in.rgb.size());
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      int ox = x, oy = y;
      switch (orientation) {
        case 2:
          ox = w - 1 - x;
          break;
        case 3:
          ox = w - 1 - x;
          oy = h - 1 - y;
          break;
        case 4:
          oy = h - 1 - y;
          break;
        case 5:
          ox = y;
          oy = x;
          break;
        case 6:
          ox = h - 1 - y;
          oy = x;
          break;
        case 7:
          ox = h - 1 - y;
          oy = w - 1 - x;
          break;
        case 8:
          ox = y;
          oy = w - 1 - x;
          break;
        default:
          break;
      }
      const uint8_t* s = &in.rgb[(static_cast<size_t>(y) * w + x) * 3];
      uint8_t* d = &out.rgb[(static_cast<size_t>(oy) * out.width + ox) * 3];
      d[0] = s[0];
      d[1] = s[1];
      d[2] = s[2];
    }
  }
  return out;
}

}  // namespace locus::media::detail
