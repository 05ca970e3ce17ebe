// The picture size from an image file's header, read before any decoder runs, so that a small file declaring a
// huge picture is refused without allocating anything (the decoders' own max_pixels check is the backstop for
// formats this does not read).
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "media/media_internal.h"

namespace locus::media::detail {
namespace {

struct Bytes {
  const uint8_t* p;
  size_t n;
  bool has(size_t off, size_t len) const { return off <= n && len <= n - off; }
  uint32_t be16(size_t o) const { return (uint32_t{p[o]} << 8) | p[o + 1]; }
  uint32_t be32(size_t o) const { return (be16(o) << 16) | be16(o + 2); }
  uint32_t le16(size_t o) const { return uint32_t{p[o]} | (uint32_t{p[o + 1]} << 8); }
  uint32_t le24(size_t o) const { return le16(o) | (uint32_t{p[o + 2]} << 16); }
  uint32_t le32(size_t o) const { return le16(o) | (le16(o + 2) << 16); }
  bool at(size_t o, const char* magic) const {
    const size_t len = std::strlen(magic);
    return has(o, len) && std::memcmp(p + o, magic, len) == 0;
  }
};

std::optional<HeaderSize> png(const Bytes& b) {
  // Signature, then the IHDR chunk: length 13, "IHDR", width, height (big-endian).
  if (!b.at(0, "\x89PNG\r\n\x1a\n") || !b.has(8, 16) || !b.at(12, "IHDR")) return std::nullopt;
  return HeaderSize{b.be32(16), b.be32(20)};
}

std::optional<HeaderSize> gif(const Bytes& b) {
  if ((!b.at(0, "GIF87a") && !b.at(0, "GIF89a")) || !b.has(6, 4)) return std::nullopt;
  return HeaderSize{b.le16(6), b.le16(8)};  // the logical screen
}

std::optional<HeaderSize> bmp(const Bytes& b) {
  if (!b.at(0, "BM") || !b.has(14, 4)) return std::nullopt;
  const uint32_t dib = b.le32(14);
  if (dib == 12) {  // BITMAPCOREHEADER: 16-bit sizes
    if (!b.has(18, 4)) return std::nullopt;
    return HeaderSize{b.le16(18), b.le16(20)};
  }
  if (!b.has(18, 8)) return std::nullopt;
  const int32_t w = static_cast<int32_t>(b.le32(18));
  const int32_t h = static_cast<int32_t>(b.le32(22));  // negative: stored top-down
  const auto mag = [](int32_t v) {
    return v < 0 ? uint64_t{0} - static_cast<uint64_t>(static_cast<int64_t>(v)) : static_cast<uint64_t>(v);
  };
  return HeaderSize{mag(w), mag(h)};
}

std::optional<HeaderSize> webp(const Bytes& b) {
  if (!b.at(0, "RIFF") || !b.at(8, "WEBP") || !b.has(12, 8)) return std::nullopt;
  const size_t d = 20;  // the first chunk's data
  if (b.at(12, "VP8X")) {
    if (!b.has(d, 10)) return std::nullopt;
    return HeaderSize{uint64_t{b.le24(d + 4)} + 1, uint64_t{b.le24(d + 7)} + 1};  // the canvas
  }
  if (b.at(12, "VP8L")) {
    if (!b.has(d, 5) || b.p[d] != 0x2f) return std::nullopt;
    const uint32_t bits = b.le32(d + 1);
    return HeaderSize{uint64_t{bits & 0x3fff} + 1, uint64_t{(bits >> 14) & 0x3fff} + 1};
  }
  if (b.at(12, "VP8 ")) {
    // Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height (2 bits of scale each).
    if (!b.has(d, 10) || b.p[d + 3] != 0x9d || b.p[d + 4] != 0x01 || b.p[d + 5] != 0x2a) return std::nullopt;
    return HeaderSize{b.le16(d + 6) & 0x3fff, b.le16(d + 8) & 0x3fff};
  }
  return std::nullopt;
}

std::optional<HeaderSize> jpeg(const Bytes& b) {
  if (!b.has(0, 3) || b.p[0] != 0xff || b.p[1] != 0xd8) return std::nullopt;
  size_t o = 2;
  for (int segments = 0; segments < 4096; ++segments) {
    while (b.has(o, 1) && b.p[o] != 0xff) ++o;  // tolerate junk between segments, as decoders do
    while (b.has(o, 1) && b.p[o] == 0xff) ++o;  // fill bytes
    if (!b.has(o, 1)) return std::nullopt;
    const uint8_t m = b.p[o++];
    if (m == 0x01 || (m >= 0xd0 && m <= 0xd7)) continue;  // no length
    if (m == 0xd9 || m == 0xda) return std::nullopt;      // end of image, or scan data before any frame header
    if (!b.has(o, 2)) return std::nullopt;
    const uint32_t len = b.be16(o);
    if (len < 2) return std::nullopt;
    const bool sof = m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
    if (sof) {
      // length, precision, height, width
      if (!b.has(o, 7)) return std::nullopt;
      return HeaderSize{b.be16(o + 5), b.be16(o + 3)};
    }
    o += len;
  }
  return std::nullopt;
}

std::optional<HeaderSize> tiff(const Bytes& b) {
  const bool le = b.has(0, 4) && std::memcmp(b.p, "II*\0", 4) == 0;
  const bool be = b.has(0, 4) && std::memcmp(b.p, "MM\0*", 4) == 0;
  if (!le && !be) return std::nullopt;
  const auto u16 = [&](size_t o) { return le ? b.le16(o) : b.be16(o); };
  const auto u32 = [&](size_t o) { return le ? b.le32(o) : b.be32(o); };
  if (!b.has(4, 4)) return std::nullopt;
  const size_t ifd = u32(4);
  if (!b.has(ifd, 2)) return std::nullopt;
  const uint32_t count = u16(ifd);
  std::optional<uint64_t> w, h;
  for (uint32_t i = 0; i < count; ++i) {
    const size_t e = ifd + 2 + size_t{i} * 12;
    if (!b.has(e, 12)) break;
    const uint32_t tag = u16(e);
    const uint32_t type = u16(e + 2);
    if (tag != 256 && tag != 257) continue;
    uint64_t v;
    if (type == 3) {
      v = u16(e + 8);  // SHORT, left-justified in the value field
    } else if (type == 4) {
      v = u32(e + 8);
    } else {
      continue;
    }
    (tag == 256 ? w : h) = v;
  }
  if (!w || !h) return std::nullopt;
  return HeaderSize{*w, *h};
}

void put_le(std::string& s, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

void put_chunk(std::string& s, const Bytes& b, size_t at, uint32_t size) {
  s.append(reinterpret_cast<const char*>(b.p + at), 8 + size_t{size});
  if (size & 1) s += '\0';
}

}  // namespace

std::optional<std::string> webp_first_frame(std::string_view bytes) {
  const Bytes b{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
  if (!b.at(0, "RIFF") || !b.at(8, "WEBP") || !b.at(12, "VP8X") || !b.has(20, 10) || !(b.p[20] & 0x02)) {
    return std::nullopt;  // not an animation
  }
  // The first ANMF chunk among the file's chunks.
  size_t o = 12;
  for (int guard = 0; guard < 100000 && b.has(o, 8); ++guard) {
    const uint32_t size = b.le32(o + 4);
    if (!b.has(o + 8, size)) return std::nullopt;
    if (b.at(o, "ANMF")) {
      if (size < 16) return std::nullopt;
      const uint32_t w = b.le24(o + 8 + 6) + 1;
      const uint32_t h = b.le24(o + 8 + 9) + 1;
      // Inside: an optional ALPH chunk, then VP8 or VP8L (unknown chunks skipped).
      size_t f = o + 8 + 16;
      const size_t end = o + 8 + size;
      std::optional<std::pair<size_t, uint32_t>> alph, image;
      while (f + 8 <= end && !image) {
        const uint32_t fs = b.le32(f + 4);
        if (f + 8 + size_t{fs} > end) return std::nullopt;
        if (b.at(f, "ALPH")) alph = std::make_pair(f, fs);
        if (b.at(f, "VP8 ") || b.at(f, "VP8L")) image = std::make_pair(f, fs);
        f += 8 + size_t{fs} + (fs & 1);
      }
      if (!image) return std::nullopt;
      std::string body = "WEBP";
      if (alph && b.at(image->first, "VP8 ")) {
        body += "VP8X";
        put_le(body, 10, 4);
        body += static_cast<char>(0x10);  // alpha
        body.append(3, '\0');
        put_le(body, w - 1, 3);
        put_le(body, h - 1, 3);
        put_chunk(body, b, alph->first, alph->second);
      }
      put_chunk(body, b, image->first, image->second);
      std::string out = "RIFF";
      put_le(out, static_cast<uint32_t>(body.size()), 4);
      return out + body;
    }
    o += 8 + size_t{size} + (size & 1);
  }
  return std::nullopt;
}

std::optional<HeaderSize> image_header_size(std::string_view bytes) {
  const Bytes b{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
  for (auto* f : {png, gif, bmp, webp, jpeg, tiff}) {
    if (auto s = f(b)) return s;
  }
  return std::nullopt;
}

}  // namespace locus::media::detail
