// Limits::from_env, kind_name and the one-line refusals.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "media/media.h"
#include "media/media_internal.h"

namespace locus::media {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kImage:
      return "image";
    case Kind::kAudio:
      return "audio";
    case Kind::kVideo:
      return "video";
  }
  return "unknown";
}

namespace {

std::string shown(const char* value) {
  std::string s(value);
  if (s.size() > 40) s = s.substr(0, 40) + "...";
  return s;
}

// A positive whole number (digits only, surrounding blanks allowed) no larger than `max`.
uint64_t env_whole(const char* name, uint64_t fallback, uint64_t max) {
  const char* v = std::getenv(name);
  if (v == nullptr) return fallback;
  std::string s(v);
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
  bool digits = !s.empty() && s.size() <= 19;
  for (char c : s) digits = digits && c >= '0' && c <= '9';
  const uint64_t n = digits ? std::strtoull(s.c_str(), nullptr, 10) : 0;
  if (!digits || n == 0 || n > max) {
    throw MediaError(std::string(name) + " is '" + shown(v) + "'; expected a positive whole number up to " +
                     std::to_string(max));
  }
  return n;
}

double env_seconds(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr) return fallback;
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(v, &end);
  bool ok = end != v && errno == 0 && std::isfinite(d) && d > 0 && d <= 1e7;
  for (const char* p = end; ok && *p != '\0'; ++p) ok = *p == ' ' || *p == '\t';
  // strtod also takes hex floats, "inf" and "nan"; only plain decimals are meant.
  for (const char* p = v; ok && *p != '\0'; ++p) ok = (*p >= '0' && *p <= '9') || *p == '.' || *p == ' ' || *p == '\t';
  if (!ok) {
    throw MediaError(std::string(name) + " is '" + shown(v) + "'; expected a positive number of seconds (at most 1e7)");
  }
  return d;
}

}  // namespace

Limits Limits::from_env() {
  Limits l;
  l.max_bytes = env_whole("LOCUS_MEDIA_MAX_BYTES", l.max_bytes, std::numeric_limits<int64_t>::max());
  l.max_pixels = env_whole("LOCUS_MEDIA_MAX_PIXELS", l.max_pixels, uint64_t{1} << 40);
  l.max_audio_seconds = env_seconds("LOCUS_MEDIA_MAX_AUDIO_SECONDS", l.max_audio_seconds);
  l.max_video_seconds = env_seconds("LOCUS_MEDIA_MAX_VIDEO_SECONDS", l.max_video_seconds);
  l.max_streams = static_cast<int>(env_whole("LOCUS_MEDIA_MAX_STREAMS", l.max_streams, 1000));
  l.max_video_frames = static_cast<int>(env_whole("LOCUS_MEDIA_MAX_VIDEO_FRAMES", l.max_video_frames, 100000));
  return l;
}

namespace detail {

std::string format_number(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  std::string s(buf);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

void refuse_pixels(const char* what, uint64_t width, uint64_t height, const Limits& limits) {
  const unsigned __int128 p = static_cast<unsigned __int128>(width) * height;
  const std::string pixels = p > std::numeric_limits<uint64_t>::max() ? std::string("more than 2^64")
                                                                      : std::to_string(static_cast<uint64_t>(p));
  throw MediaError(std::string(what) + " is " + std::to_string(width) + "x" + std::to_string(height) + " = " + pixels +
                   " pixels; the limit is " + std::to_string(limits.max_pixels) + " (LOCUS_MEDIA_MAX_PIXELS)");
}

void refuse_seconds(const char* what, double seconds, bool at_least, double limit, const char* env) {
  throw MediaError(std::string(what) + " is " + (at_least ? "at least " : "") + format_number(seconds) +
                   " s long; the limit is " + format_number(limit) + " s (" + env + ")");
}

}  // namespace detail
}  // namespace locus::media
