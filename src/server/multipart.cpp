#include "server/multipart.h"

#include <string.h>  // memmem (glibc: two-way search, linear whatever the bytes)

#include <cctype>
#include <cstdio>
#include <utility>

#include "server/http_token.h"

namespace locus::server {

namespace {

constexpr size_t kMaxBoundary = 70;  // RFC 2046


bool is_bchar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '\'': case '(': case ')': case '+': case '_': case ',': case '-': case '.': case '/': case ':':
    case '=': case '?': case ' ':
      return true;
    default:
      return false;
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Quoted, cut, non-printable bytes as \xNN: client text inside a one-line message.
std::string excerpt(std::string_view s, size_t max = 40) {
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

// A header value's "main ; name=value ; ..." form (Content-Type, Content-Disposition). Parameter names are
// lower-cased; a value is a quoted-string (backslash escapes) or a run of bytes other than ';', blanks, '"' and
// control characters (lenient: RFC 2045 would want a token, and some clients send boundaries with ':' or '='
// unquoted).
struct HeaderValue {
  std::string_view main;
  std::vector<std::pair<std::string, std::string>> params;
  std::string error;  // "expected ..., found ..."
  const std::string* param(std::string_view name) const {
    for (const auto& [n, v] : params) {
      if (n == name) return &v;
    }
    return nullptr;
  }
};

HeaderValue parse_header_value(std::string_view v) {
  HeaderValue h;
  size_t i = 0;
  auto skip_ows = [&] {
    while (i < v.size() && is_ows(v[i])) ++i;
  };
  skip_ows();
  const size_t main_start = i;
  while (i < v.size() && v[i] != ';') ++i;
  h.main = trim(v.substr(main_start, i - main_start));
  for (;;) {
    skip_ows();
    if (i == v.size()) return h;
    if (v[i] != ';') {
      h.error = "expected ';' between parameters, found " + excerpt(v.substr(i));
      return h;
    }
    ++i;
    skip_ows();
    if (i == v.size()) return h;  // a trailing ';'
    const size_t name_start = i;
    while (i < v.size() && is_tchar(static_cast<unsigned char>(v[i]))) ++i;
    const std::string name = lower(v.substr(name_start, i - name_start));
    skip_ows();
    if (name.empty() || i == v.size() || v[i] != '=') {
      h.error = "expected a parameter name=value, found " + excerpt(v.substr(name_start));
      return h;
    }
    ++i;
    skip_ows();
    std::string value;
    if (i < v.size() && v[i] == '"') {
      ++i;
      bool closed = false;
      while (i < v.size()) {
        unsigned char c = static_cast<unsigned char>(v[i++]);
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < v.size()) c = static_cast<unsigned char>(v[i++]);
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
          h.error = "expected printable characters in the quoted value of " + name + ", found a control byte";
          return h;
        }
        value += static_cast<char>(c);
      }
      if (!closed) {
        h.error = "expected a closing '\"' in the value of " + name + ", found the end of the header";
        return h;
      }
    } else {
      const size_t value_start = i;
      while (i < v.size()) {
        const unsigned char c = static_cast<unsigned char>(v[i]);
        if (c == ';' || is_ows(static_cast<char>(c)) || c == '"' || c < 0x20 || c == 0x7f) break;
        ++i;
      }
      value = std::string(v.substr(value_start, i - value_start));
      if (value.empty()) {
        h.error = "expected a value for the parameter " + name + ", found " +
                  (i == v.size() ? std::string("none") : excerpt(v.substr(i)));
        return h;
      }
    }
    if (h.param(name) != nullptr) {
      h.error = "expected the parameter " + name + " once, found it twice";
      return h;
    }
    h.params.emplace_back(name, std::move(value));
  }
}

bool iequals(std::string_view a, std::string_view b) { return a.size() == b.size() && lower(a) == lower(b); }

std::string part_label(size_t index) { return "part " + std::to_string(index + 1); }

// Finds `needle` in `hay` from `from`; npos when absent.
size_t find(std::string_view hay, std::string_view needle, size_t from) {
  if (from > hay.size()) return std::string_view::npos;
  const void* p = memmem(hay.data() + from, hay.size() - from, needle.data(), needle.size());
  return p == nullptr ? std::string_view::npos : static_cast<size_t>(static_cast<const char*>(p) - hay.data());
}

// Parses one part's header block (lines without the blank line that ends it) into `part`.
std::string parse_part_headers(std::string_view block, size_t index, MultipartPart& part) {
  const std::string label = part_label(index);
  bool have_disposition = false, have_type = false;
  size_t pos = 0;
  while (pos < block.size()) {
    size_t eol = block.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = block.size();
    const std::string_view line = block.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty() || is_ows(line.front())) {
      return label + ": expected a header line Name: value, found " +
             (line.empty() ? std::string("an empty line") : "a folded (indented) line " + excerpt(line));
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
      return label + ": expected a header line Name: value, found " + excerpt(line);
    }
    const std::string_view value = trim(line.substr(colon + 1));
    for (unsigned char c : value) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return label + ": expected printable header values, found a control byte in " + excerpt(line);
      }
    }
    const std::string name = lower(line.substr(0, colon));
    if (name == "content-disposition") {
      if (have_disposition) return label + ": expected one Content-Disposition header, found two";
      have_disposition = true;
      HeaderValue h = parse_header_value(value);
      if (!h.error.empty()) return label + ": Content-Disposition: " + h.error;
      if (!iequals(h.main, "form-data")) {
        return label + ": expected Content-Disposition: form-data, found " + excerpt(h.main);
      }
      const std::string* n = h.param("name");
      if (n == nullptr) return label + ": expected a name=\"...\" in Content-Disposition, found none";
      part.name = *n;
      if (const std::string* f = h.param("filename")) part.filename = *f;
    } else if (name == "content-type") {
      if (have_type) return label + ": expected one Content-Type header, found two";
      have_type = true;
      part.content_type = std::string(value);
    }
  }
  if (!have_disposition) return label + ": expected a Content-Disposition: form-data header, found none";
  return "";
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

BoundaryResult multipart_boundary(std::string_view content_type) {
  BoundaryResult r;
  if (trim(content_type).empty()) {
    r.error = "Content-Type: expected multipart/form-data; boundary=..., found none";
    return r;
  }
  HeaderValue h = parse_header_value(content_type);
  if (!iequals(h.main, "multipart/form-data")) {
    r.error = "Content-Type: expected multipart/form-data, found " + excerpt(h.main);
    return r;
  }
  if (!h.error.empty()) {
    r.error = "Content-Type: " + h.error;
    return r;
  }
  const std::string* b = h.param("boundary");
  if (b == nullptr) {
    r.error = "Content-Type: expected a boundary parameter (multipart/form-data; boundary=...), found none";
    return r;
  }
  bool valid = !b->empty() && b->size() <= kMaxBoundary && b->back() != ' ';
  for (unsigned char c : *b) valid = valid && is_bchar(c);
  if (!valid) {
    r.error = "Content-Type: expected a boundary of 1 to 70 letters, digits and '()+_,-./:=? (not ending in a "
              "space), found " + excerpt(*b, 80);
    return r;
  }
  r.boundary = *b;
  return r;
}

MultipartResult parse_multipart(std::string_view body, std::string_view boundary, const MultipartLimits& limits) {
  MultipartResult r;
  auto fail = [&](std::string what) {
    r.parts.clear();
    r.error = "multipart body: " + std::move(what);
    return r;
  };
  if (boundary.empty() || boundary.size() > kMaxBoundary) {
    return fail("expected a boundary of 1 to 70 characters, found " + std::to_string(boundary.size()));
  }
  const std::string delimiter = "\r\n--" + std::string(boundary);  // what ends a part's data
  size_t pos;
  if (body.substr(0, delimiter.size() - 2) == std::string_view(delimiter).substr(2)) {
    pos = delimiter.size() - 2;
  } else {
    const size_t first = find(body, delimiter, 0);
    if (first == std::string_view::npos) {
      return fail("expected a boundary line " + excerpt(std::string_view(delimiter).substr(2), 80) +
                  " (from Content-Type), found none");
    }
    pos = first + delimiter.size();
  }
  for (;;) {
    // After a boundary: "--" ends the body (the rest is an epilogue), else blanks and CRLF start a part.
    if (body.substr(pos, 2) == "--") return r;
    while (pos < body.size() && is_ows(body[pos])) ++pos;
    if (body.substr(pos, 2) != "\r\n") {
      const std::string found = pos >= body.size() ? "the end of the body" : excerpt(body.substr(pos), 16);
      return fail("expected CRLF or \"--\" after the boundary before " + part_label(r.parts.size()) + ", found " +
                  found);
    }
    pos += 2;
    const size_t index = r.parts.size();
    if (index == limits.max_parts) {
      return fail("expected at most " + std::to_string(limits.max_parts) + " parts, found more");
    }
    MultipartPart part;
    size_t data_start;
    if (body.substr(pos, 2) == "\r\n") {
      data_start = pos + 2;  // no headers: caught below (a part needs its Content-Disposition)
      if (std::string e = parse_part_headers({}, index, part); !e.empty()) return fail(e);
    } else {
      const size_t window = std::min(body.size() - pos, limits.max_header_bytes + 4);
      const size_t end = find(body.substr(0, pos + window), "\r\n\r\n", pos);
      if (end == std::string_view::npos) {
        if (window < limits.max_header_bytes + 4) {
          return fail("expected " + part_label(index) + "'s header to end with a blank line, found the end of the body");
        }
        return fail("expected " + part_label(index) + "'s header within " + std::to_string(limits.max_header_bytes) +
                    " bytes, found more");
      }
      if (std::string e = parse_part_headers(body.substr(pos, end - pos), index, part); !e.empty()) return fail(e);
      data_start = end + 4;
    }
    const size_t data_end = find(body, delimiter, data_start);
    if (data_end == std::string_view::npos) {
      return fail("expected a boundary after " + part_label(index) + "'s data, found the end of the body (cut short?)");
    }
    part.data = body.substr(data_start, data_end - data_start);
    const size_t limit = part.filename ? limits.max_file_bytes : limits.max_field_bytes;
    if (part.data.size() > limit) {
      return fail("expected " + part_label(index) + " (" + excerpt(part.name) + ") within " + std::to_string(limit) +
                  " bytes, found " + std::to_string(part.data.size()));
    }
    r.parts.push_back(std::move(part));
    pos = data_end + delimiter.size();
  }
}

std::string write_multipart(const std::vector<MultipartPart>& parts, std::string_view boundary) {
  std::string out;
  for (const MultipartPart& p : parts) {
    out += "--";
    out += boundary;
    out += "\r\nContent-Disposition: form-data; name=" + quoted(p.name);
    if (p.filename) out += "; filename=" + quoted(*p.filename);
    out += "\r\n";
    if (!p.content_type.empty()) out += "Content-Type: " + p.content_type + "\r\n";
    out += "\r\n";
    out += p.data;
    out += "\r\n";
  }
  out += "--";
  out += boundary;
  out += "--\r\n";
  return out;
}

}  // namespace locus::server
