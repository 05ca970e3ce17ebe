#include "server/go_duration.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace locus::server {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Nanoseconds per unit; 0 when `unit` is not one.
uint64_t unit_ns(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") return 1'000;  // µ (U+00B5) and μ (U+03BC)
  if (unit == "ms") return 1'000'000;
  if (unit == "s") return 1'000'000'000;
  if (unit == "m") return 60'000'000'000;
  if (unit == "h") return 3'600'000'000'000;
  return 0;
}

constexpr unsigned __int128 kLimit = static_cast<unsigned __int128>(1) << 63;  // |value| must stay below 2^63

KeepAlive from_seconds(double seconds) {
  KeepAlive k;
  if (seconds < 0) {
    k.forever = true;
  } else {
    const double ms = std::ceil(seconds * 1000.0);
    k.duration_ms = ms >= 9.2e18 ? INT64_MAX : static_cast<int64_t>(ms);
  }
  return k;
}

}  // namespace

std::optional<int64_t> parse_go_duration_ns(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return std::nullopt;
  unsigned __int128 total = 0;
  while (!s.empty()) {
    if (!is_digit(s[0]) && s[0] != '.') return std::nullopt;
    unsigned __int128 whole = 0;
    size_t i = 0;
    bool any_digit = false;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      whole = whole * 10 + static_cast<unsigned>(s[i] - '0');
      if (whole >= kLimit) return std::nullopt;
      any_digit = true;
    }
    unsigned __int128 frac = 0, scale = 1;
    if (i < s.size() && s[i] == '.') {
      for (++i; i < s.size() && is_digit(s[i]); ++i) {
        any_digit = true;
        if (scale < 1'000'000'000'000'000'000ULL) {  // later digits are below a nanosecond of any unit
          frac = frac * 10 + static_cast<unsigned>(s[i] - '0');
          scale *= 10;
        }
      }
    }
    if (!any_digit) return std::nullopt;
    size_t j = i;
    while (j < s.size() && s[j] != '.' && !is_digit(s[j])) ++j;
    const uint64_t unit = unit_ns(s.substr(i, j - i));
    if (unit == 0) return std::nullopt;  // missing or unknown unit
    total += whole * unit + frac * unit / scale;
    if (total >= kLimit + (negative ? 1 : 0)) return std::nullopt;
    s.remove_prefix(j);
  }
  if (negative) return total == kLimit ? INT64_MIN : -static_cast<int64_t>(total);
  return static_cast<int64_t>(total);
}

KeepAlive parse_keep_alive(const OrderedJson& value, const std::string& path) {
  if (value.is_number()) return from_seconds(value.get<double>());
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (auto ns = parse_go_duration_ns(s)) {
      KeepAlive k;
      if (*ns < 0) {
        k.forever = true;
      } else {
        k.duration_ms = *ns / 1'000'000 + (*ns % 1'000'000 != 0 ? 1 : 0);
      }
      return k;
    }
    // A bare number of seconds. strtod alone would also take "inf", "nan" and hex, so check the characters.
    bool plain = !s.empty();
    for (size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (!(is_digit(c) || c == '.' || (i == 0 && (c == '-' || c == '+')))) plain = false;
    }
    if (plain) {
      errno = 0;
      char* end = nullptr;
      const double seconds = std::strtod(s.c_str(), &end);
      if (errno == 0 && end == s.c_str() + s.size() && std::isfinite(seconds)) return from_seconds(seconds);
    }
  }
  fail_field(path, "a duration (\"5m\", \"1h30m\", \"300ms\"), a number of seconds, or -1 for forever", &value);
}

}  // namespace locus::server
