#include "server/data_uri.h"

#include <cctype>
#include <cstdio>

#include "server/base64.h"
#include "server/http_token.h"

namespace locus::server {

namespace {

constexpr size_t kMaxHeaderShown = 48;


bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Text for an error message: quoted, cut to `max` bytes, anything not printable ASCII as \xNN, so that the
// message stays one line whatever the client sent.
std::string excerpt(std::string_view s, size_t max = kMaxHeaderShown) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  out += s.size() > max ? "...\"" : "\"";
  return out;
}

// One `;attribute=value` parameter (without the ';'); the value a token or a quoted-string (no ';' or ','
// inside it, since the header is split on those first).
bool valid_parameter(std::string_view p) {
  const size_t eq = p.find('=');
  if (eq == std::string_view::npos || !is_token(p.substr(0, eq))) return false;
  std::string_view v = p.substr(eq + 1);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
    for (unsigned char c : v.substr(1, v.size() - 2)) {
      if (c < 0x20 || c == 0x7f || c == '"') return false;
    }
    return true;
  }
  return is_token(v);
}

}  // namespace

DataUriResult parse_data_uri(std::string_view text) {
  DataUriResult r;
  constexpr std::string_view kForm = "data:<type>;base64,<data>";
  if (!istarts_with(text, "data:")) {
    r.error = "expected a data: URI (" + std::string(kForm) + "), found " + excerpt(text, 16);
    return r;
  }
  const size_t comma = text.find(',');
  if (comma == std::string_view::npos) {
    r.error = "expected a data: URI (" + std::string(kForm) + "), found no ',' before the data";
    return r;
  }
  const std::string_view header = text.substr(5, comma - 5);
  // The header's last parameter must be base64; what comes before it is the type and its parameters.
  const size_t last = header.rfind(';');
  if (last == std::string_view::npos || !iequals(header.substr(last + 1), "base64")) {
    r.error = "expected base64 data (" + std::string(kForm) + "), found the header " + excerpt(header) +
              " without ;base64";
    return r;
  }
  std::string_view rest = header.substr(0, last);  // "type/subtype;attr=value;..."
  const size_t semi = rest.find(';');
  const std::string_view type = rest.substr(0, semi);
  if (!type.empty()) {
    const size_t slash = type.find('/');
    if (slash == std::string_view::npos || !is_token(type.substr(0, slash)) || !is_token(type.substr(slash + 1))) {
      r.error = "expected a media type of the form type/subtype, found " + excerpt(type);
      return r;
    }
  }
  if (semi != std::string_view::npos) {
    std::string_view params = rest.substr(semi + 1);
    for (;;) {
      const size_t next = params.find(';');
      const std::string_view p = params.substr(0, next);
      if (!valid_parameter(p)) {
        r.error = "expected ;attribute=value parameters in the data: URI's header, found " + excerpt(p);
        return r;
      }
      if (next == std::string_view::npos) break;
      params = params.substr(next + 1);
    }
  }
  Base64Result b = decode_base64(text.substr(comma + 1));
  if (!b.bytes) {
    r.error = "expected standard base64 (A-Z a-z 0-9 + /, '=' padded) after the comma, found " + b.error;
    return r;
  }
  if (b.bytes->empty()) {
    r.error = "expected media bytes in base64 after the comma, found none";
    return r;
  }
  DataUri uri;
  uri.mime.reserve(type.size());
  for (unsigned char c : type) uri.mime += static_cast<char>(std::tolower(c));
  uri.bytes = std::move(*b.bytes);
  r.uri = std::move(uri);
  return r;
}

MediaUrlKind classify_media_url(std::string_view url) {
  if (istarts_with(url, "data:")) return MediaUrlKind::kData;
  if (istarts_with(url, "http://") || istarts_with(url, "https://")) return MediaUrlKind::kRemote;
  if (istarts_with(url, "file:")) return MediaUrlKind::kFile;
  return MediaUrlKind::kOther;
}

std::string make_data_uri(std::string_view mime, std::string_view bytes) {
  return "data:" + std::string(mime) + ";base64," + encode_base64(bytes);
}

}  // namespace locus::server
