// Tests only: hand-made media files (headers that lie, CMYK JPEG/TIFF, EXIF orientation) and picture statistics.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "media/media.h"

namespace locus::media::testing {

inline void put_be(std::string& s, uint32_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}
inline void put_le(std::string& s, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

inline uint32_t crc32(const std::string& s, size_t from, size_t n) {
  uint32_t c = 0xffffffffU;
  for (size_t i = from; i < from + n; ++i) {
    c ^= static_cast<unsigned char>(s[i]);
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320U & (0U - (c & 1)));
  }
  return ~c;
}

inline void png_chunk(std::string& s, const char* type, const std::string& data) {
  put_be(s, static_cast<uint32_t>(data.size()), 4);
  const size_t at = s.size();
  s += type;
  s += data;
  put_be(s, crc32(s, at, 4 + data.size()), 4);
}

// A PNG that declares width x height (8-bit RGB) and holds one tiny (invalid for that size) IDAT and IEND: a few
// dozen bytes that a decoder would have to allocate the whole picture for.
inline std::string png_declaring(uint32_t width, uint32_t height) {
  std::string s("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  put_be(ihdr, width, 4);
  put_be(ihdr, height, 4);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);
  png_chunk(s, "IHDR", ihdr);
  png_chunk(s, "IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8));
  png_chunk(s, "IEND", "");
  return s;
}

inline std::string gif_declaring(uint16_t width, uint16_t height) {
  std::string s = "GIF89a";
  put_le(s, width, 2);
  put_le(s, height, 2);
  s += std::string("\x00\x00\x00", 3);  // no global palette
  s += std::string("\x2c\x00\x00\x00\x00", 5);
  put_le(s, width, 2);
  put_le(s, height, 2);
  s += std::string("\x80\x00\x00\x00\xff\xff\xff\x02\x02\x44\x01\x00\x3b", 13);
  return s;
}

inline std::string bmp_declaring(int32_t width, int32_t height) {
  std::string s = "BM";
  put_le(s, 54 + 16, 4);
  put_le(s, 0, 4);
  put_le(s, 54, 4);
  put_le(s, 40, 4);
  put_le(s, static_cast<uint32_t>(width), 4);
  put_le(s, static_cast<uint32_t>(height), 4);
  put_le(s, 1, 2);
  put_le(s, 24, 2);
  put_le(s, 0, 4);
  put_le(s, 16, 4);
  s += std::string(16 + 16, '\0');
  return s;
}

// ---- JPEG by hand: blocks of constant colour, every AC coefficient zero ----

class BitWriter {
 public:
  void put(uint32_t bits, int n) {
    for (int i = n - 1; i >= 0; --i) {
      acc_ = static_cast<uint8_t>((acc_ << 1) | ((bits >> i) & 1));
      if (++count_ == 8) flush_byte();
    }
  }
  std::string finish() {
    while (count_ != 0) put(1, 1);  // pad with ones
    return out_;
  }

 private:
  void flush_byte() {
    out_ += static_cast<char>(acc_);
    if (acc_ == 0xff) out_ += '\0';  // byte stuffing
    acc_ = 0;
    count_ = 0;
  }
  std::string out_;
  uint8_t acc_ = 0;
  int count_ = 0;
};

// A baseline JPEG with `ncomp` components (1, 3 or 4), no subsampling, quantizer 1, where 8x8 block (bx, by) of
// component c has the constant value value(c, bx, by). With 4 components it carries an Adobe APP14 marker with
// transform 0 (CMYK as Photoshop writes it, values inverted: 0 is full ink).
template <typename F>
std::string jpeg_blocks(int width, int height, int ncomp, F value, bool adobe) {
  std::string s("\xff\xd8", 2);
  if (adobe) {
    s += std::string("\xff\xee", 2);
    put_be(s, 14, 2);
    s += "Adobe";
    put_be(s, 100, 2);
    put_be(s, 0, 2);
    put_be(s, 0, 2);
    s += '\0';  // transform 0: no colour transform
  }
  s += std::string("\xff\xdb", 2);
  put_be(s, 67, 2);
  s += '\0';
  s += std::string(64, '\x01');
  s += std::string("\xff\xc0", 2);
  put_be(s, static_cast<uint32_t>(8 + 3 * ncomp), 2);
  s += '\x08';
  put_be(s, static_cast<uint32_t>(height), 2);
  put_be(s, static_cast<uint32_t>(width), 2);
  s += static_cast<char>(ncomp);
  for (int c = 0; c < ncomp; ++c) {
    s += static_cast<char>(c + 1);
    s += '\x11';
    s += '\0';
  }
  // DC table 0: the standard luminance one (categories 0..11); AC table 0: only end-of-block, code "0".
  const uint8_t dc_bits[16] = {0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
  s += std::string("\xff\xc4", 2);
  put_be(s, 2 + 1 + 16 + 12, 2);
  s += '\x00';
  s.append(reinterpret_cast<const char*>(dc_bits), 16);
  for (int v = 0; v < 12; ++v) s += static_cast<char>(v);
  s += std::string("\xff\xc4", 2);
  put_be(s, 2 + 1 + 16 + 1, 2);
  s += '\x10';
  s += '\x01';
  s += std::string(15, '\0');
  s += '\0';
  s += std::string("\xff\xda", 2);
  put_be(s, static_cast<uint32_t>(6 + 2 * ncomp), 2);
  s += static_cast<char>(ncomp);
  for (int c = 0; c < ncomp; ++c) {
    s += static_cast<char>(c + 1);
    s += '\x00';
  }
  s += std::string("\x00\x3f\x00", 3);
  // Standard DC luminance codes for categories 0..11.
  const uint32_t code[12] = {0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0xe, 0x1e, 0x3e, 0x7e, 0xfe, 0x1fe};
  const int len[12] = {2, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9};
  BitWriter bw;
  std::vector<int> prev(static_cast<size_t>(ncomp), 0);
  for (int by = 0; by < (height + 7) / 8; ++by) {
    for (int bx = 0; bx < (width + 7) / 8; ++bx) {
      for (int c = 0; c < ncomp; ++c) {
        const int dc = 8 * (static_cast<int>(value(c, bx, by)) - 128);
        const int diff = dc - prev[static_cast<size_t>(c)];
        prev[static_cast<size_t>(c)] = dc;
        int cat = 0;
        for (int a = diff < 0 ? -diff : diff; a; a >>= 1) ++cat;
        bw.put(code[cat], len[cat]);
        if (cat) bw.put(static_cast<uint32_t>(diff >= 0 ? diff : diff + (1 << cat) - 1), cat);
        bw.put(0, 1);  // end of block
      }
    }
  }
  s += bw.finish();
  s += std::string("\xff\xd9", 2);
  return s;
}

// A small valid JPEG whose frame header is then made to declare width x height.
inline std::string jpeg_declaring(uint16_t width, uint16_t height) {
  std::string s = jpeg_blocks(
      8, 8, 1, [](int, int, int) { return 99; }, false);
  const size_t sof = s.find("\xff\xc0");
  s[sof + 5] = static_cast<char>(height >> 8);
  s[sof + 6] = static_cast<char>(height & 0xff);
  s[sof + 7] = static_cast<char>(width >> 8);
  s[sof + 8] = static_cast<char>(width & 0xff);
  return s;
}

// An APP1 Exif segment with IFD0 holding Orientation = `orientation`, and IFD1 pointing at a small JPEG thumbnail
// (as cameras write it: a second SOI..EOI inside the first file's header).
inline std::string exif_segment(int orientation, const std::string& thumbnail) {
  std::string t = "II*";
  t += '\0';
  put_le(t, 8, 4);  // IFD0 at 8
  put_le(t, 1, 2);
  put_le(t, 0x0112, 2);
  put_le(t, 3, 2);
  put_le(t, 1, 4);
  put_le(t, static_cast<uint32_t>(orientation), 2);
  put_le(t, 0, 2);
  put_le(t, 26, 4);  // IFD1 at 26
  put_le(t, 2, 2);
  put_le(t, 0x0201, 2);
  put_le(t, 4, 2);
  put_le(t, 1, 4);
  put_le(t, 26 + 2 + 24 + 4, 4);  // thumbnail right after IFD1
  put_le(t, 0x0202, 2);
  put_le(t, 4, 2);
  put_le(t, 1, 4);
  put_le(t, static_cast<uint32_t>(thumbnail.size()), 4);
  put_le(t, 0, 4);
  t += thumbnail;
  std::string seg("\xff\xe1", 2);
  put_be(seg, static_cast<uint32_t>(2 + 6 + t.size()), 2);
  seg += std::string("Exif\0\0", 6);
  seg += t;
  return seg;
}

// `jpeg` with an Exif segment right after SOI.
inline std::string with_exif(const std::string& jpeg, int orientation, const std::string& thumbnail) {
  return jpeg.substr(0, 2) + exif_segment(orientation, thumbnail) + jpeg.substr(2);
}

// A simple (VP8) WebP file rewritten as VP8X with an EXIF chunk holding `orientation`.
inline std::string webp_with_exif(const std::string& webp, int width, int height, int orientation) {
  const std::string exif = exif_segment(orientation, "").substr(4 + 6);  // the TIFF part
  std::string body = "WEBPVP8X";
  put_le(body, 10, 4);
  body += static_cast<char>(0x08);  // EXIF present
  body.append(3, '\0');
  put_le(body, static_cast<uint32_t>(width - 1), 3);
  put_le(body, static_cast<uint32_t>(height - 1), 3);
  body += webp.substr(12);  // the VP8 chunk
  body += "EXIF";
  put_le(body, static_cast<uint32_t>(exif.size()), 4);
  body += exif;
  if (exif.size() & 1) body += '\0';
  std::string file = "RIFF";
  put_le(file, static_cast<uint32_t>(body.size()), 4);
  return file + body;
}

// An uncompressed CMYK TIFF (photometric 5: 0 is no ink), 8 bits per ink, one strip.
inline std::string tiff_cmyk(int width, int height, const std::vector<uint8_t>& cmyk) {
  std::string s = "II*";
  s += '\0';
  put_le(s, 8, 4);
  const int entries = 10;
  const uint32_t bits_at = 8 + 2 + 12 * entries + 4;
  const uint32_t data_at = bits_at + 8;
  put_le(s, entries, 2);
  const auto entry = [&](uint32_t tag, uint32_t type, uint32_t count, uint32_t value) {
    put_le(s, tag, 2);
    put_le(s, type, 2);
    put_le(s, count, 4);
    if (type == 3 && count == 1) {
      put_le(s, value, 2);
      put_le(s, 0, 2);
    } else {
      put_le(s, value, 4);
    }
  };
  entry(256, 3, 1, static_cast<uint32_t>(width));
  entry(257, 3, 1, static_cast<uint32_t>(height));
  entry(258, 3, 4, bits_at);
  entry(259, 3, 1, 1);
  entry(262, 3, 1, 5);
  entry(273, 4, 1, data_at);
  entry(277, 3, 1, 4);
  entry(278, 3, 1, static_cast<uint32_t>(height));
  entry(279, 4, 1, static_cast<uint32_t>(cmyk.size()));
  entry(284, 3, 1, 1);
  put_le(s, 0, 4);
  for (int i = 0; i < 4; ++i) put_le(s, 8, 2);
  s.append(reinterpret_cast<const char*>(cmyk.data()), cmyk.size());
  return s;
}

// ---- Picture statistics ----

// Mean of channel c over the rectangle [x0, x1) x [y0, y1).
inline double mean(const Image& img, int c, int x0, int y0, int x1, int y1) {
  double s = 0;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) s += img.rgb[(static_cast<size_t>(y) * img.width + x) * 3 + c];
  }
  return s / std::max(1, (x1 - x0) * (y1 - y0));
}

// Mean colour of quadrant q (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right), a quarter margin kept off
// the edges so lossy codecs' blur across the middle does not count.
inline std::array<double, 3> quadrant(const Image& img, int q) {
  const int w = img.width, h = img.height;
  const int x0 = (q & 1) ? w / 2 : 0, y0 = (q & 2) ? h / 2 : 0;
  const int x1 = x0 + w / 2, y1 = y0 + h / 2;
  const int mx = (x1 - x0) / 4, my = (y1 - y0) / 4;
  return {mean(img, 0, x0 + mx, y0 + my, x1 - mx, y1 - my), mean(img, 1, x0 + mx, y0 + my, x1 - mx, y1 - my),
          mean(img, 2, x0 + mx, y0 + my, x1 - mx, y1 - my)};
}

inline double max_channel_gap(const std::array<double, 3>& a, const uint8_t* b) {
  double m = 0;
  for (int c = 0; c < 3; ++c) m = std::max(m, std::fabs(a[static_cast<size_t>(c)] - b[c]));
  return m;
}

inline double mean_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size() || a.empty()) return 1e9;
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += std::abs(int(a[i]) - int(b[i]));
  return s / static_cast<double>(a.size());
}

inline int max_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return 1 << 20;
  int m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(int(a[i]) - int(b[i])));
  return m;
}

inline double rms(const std::vector<float>& v, size_t from = 0, size_t to = SIZE_MAX) {
  to = std::min(to, v.size());
  if (to <= from) return 0;
  double s = 0;
  for (size_t i = from; i < to; ++i) s += double(v[i]) * v[i];
  return std::sqrt(s / static_cast<double>(to - from));
}

// Runs f and returns the MediaError's message ("" if nothing was thrown).
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const MediaError& e) {
    return e.what();
  }
  return "";
}

}  // namespace locus::media::testing
