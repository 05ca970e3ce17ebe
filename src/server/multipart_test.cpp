// multipart/form-data: the boundary from Content-Type, and bodies well-formed, malformed, cut at every offset
// and with the boundary placed at every offset of a file's data (multipart.h).
#include "server/multipart.h"

#include <gtest/gtest.h>

#include <random>

namespace locus::server {
namespace {

constexpr std::string_view kBoundary = "----locusFormBoundary7MA4YWxk";

MultipartPart field(std::string name, std::string_view data) {
  MultipartPart p;
  p.name = std::move(name);
  p.data = data;
  return p;
}

MultipartPart file(std::string name, std::string filename, std::string type, std::string_view data) {
  MultipartPart p = field(std::move(name), data);
  p.filename = std::move(filename);
  p.content_type = std::move(type);
  return p;
}

void expect_same(const std::vector<MultipartPart>& got, const std::vector<MultipartPart>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name) << i;
    EXPECT_EQ(got[i].filename, want[i].filename) << i;
    EXPECT_EQ(got[i].content_type, want[i].content_type) << i;
    EXPECT_EQ(got[i].data, want[i].data) << i;
  }
}

void expect_one_line_error(const MultipartResult& r, const std::string& context) {
  EXPECT_FALSE(r.ok()) << context;
  EXPECT_TRUE(r.parts.empty()) << context;
  EXPECT_EQ(r.error.rfind("multipart body: ", 0), 0u) << context << ": " << r.error;
  EXPECT_EQ(r.error.find('\n'), std::string::npos) << context << ": " << r.error;
  EXPECT_EQ(r.error.find('\r'), std::string::npos) << context << ": " << r.error;
}

TEST(MultipartBoundary, FromContentType) {
  struct Case {
    std::string header;
    std::string boundary;
  };
  const Case ok[] = {
      {"multipart/form-data; boundary=abc", "abc"},
      {"Multipart/Form-Data;BOUNDARY=abc", "abc"},
      {"multipart/form-data; charset=utf-8; boundary=\"a b:c=d?\"", "a b:c=d?"},
      {"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", "----WebKitFormBoundary7MA4YWxkTrZu0gW"},
      {"  multipart/form-data ;  boundary = xyz ; ", "xyz"},
      {"multipart/form-data; boundary=" + std::string(70, 'b'), std::string(70, 'b')},
      {"multipart/form-data; boundary=a:b", "a:b"},  // unquoted ':' (not a token; some clients send it)
  };
  for (const Case& c : ok) {
    BoundaryResult r = multipart_boundary(c.header);
    EXPECT_EQ(r.error, "") << c.header;
    EXPECT_EQ(r.boundary, c.boundary) << c.header;
  }
  const Case bad[] = {
      {"", "Content-Type: expected multipart/form-data; boundary=..., found none"},
      {"application/json", "Content-Type: expected multipart/form-data, found \"application/json\""},
      {"multipart/mixed; boundary=abc", "Content-Type: expected multipart/form-data, found \"multipart/mixed\""},
      {"multipart/form-data", "Content-Type: expected a boundary parameter (multipart/form-data; boundary=...), found none"},
      {"multipart/form-data; boundary=", "Content-Type: expected a value for the parameter boundary, found none"},
      {"multipart/form-data; boundary=\"\"", "Content-Type: expected a boundary of 1 to 70 letters, digits and '()+_,-./:=? (not ending in a space), found \"\""},
      {"multipart/form-data; boundary=" + std::string(71, 'b'), "Content-Type: expected a boundary of 1 to 70 letters, digits and '()+_,-./:=? (not ending in a space), found \"" + std::string(71, 'b') + "\""},
      {"multipart/form-data; boundary=\"ab \"", "Content-Type: expected a boundary of 1 to 70 letters, digits and '()+_,-./:=? (not ending in a space), found \"ab \""},
      {"multipart/form-data; boundary=a*b", "Content-Type: expected a boundary of 1 to 70 letters, digits and '()+_,-./:=? (not ending in a space), found \"a*b\""},
      {"multipart/form-data; boundary=\"abc", "Content-Type: expected a closing '\"' in the value of boundary, found the end of the header"},
      {"multipart/form-data; boundary=a; boundary=b", "Content-Type: expected the parameter boundary once, found it twice"},
      {"multipart/form-data; boundary", "Content-Type: expected a parameter name=value, found \"boundary\""},
      {"multipart/form-data; boundary=a b", "Content-Type: expected ';' between parameters, found \"b\""},
  };
  for (const Case& c : bad) {
    BoundaryResult r = multipart_boundary(c.header);
    EXPECT_EQ(r.error, c.boundary) << c.header;
    EXPECT_EQ(r.boundary, "") << c.header;
  }
}

TEST(Multipart, ReadsACurlUpload) {
  // What curl -F file=@a.wav -F model=whisper-1 sends, with binary data holding CR, LF, NUL and dashes.
  const std::string wav("RIFF\x10\0\0\0WAVE\r\n--\r\n-\0\xff", 20);
  const std::string body = "--" + std::string(kBoundary) +
                           "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                           "Content-Type: audio/wav\r\n\r\n" + wav + "\r\n--" + std::string(kBoundary) +
                           "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--" +
                           std::string(kBoundary) + "--\r\n";
  MultipartResult r = parse_multipart(body, kBoundary);
  ASSERT_TRUE(r.ok()) << r.error;
  expect_same(r.parts, {file("file", "a.wav", "audio/wav", wav), field("model", "whisper-1")});
}

TEST(Multipart, PreambleEpilogueHeaderCaseAndPadding) {
  const std::string b(kBoundary);
  const std::string body = "This is a preamble.\r\n--" + b + " \t\r\n"
                           "content-disposition: FORM-DATA ; Name = \"language\"\r\n"
                           "X-Ignored: yes\r\n\r\nen\r\n--" + b + "\r\n"
                           "CONTENT-DISPOSITION: form-data; name=prompt; filename=\"\"\r\n"
                           "CONTENT-TYPE:  text/plain;charset=utf-8  \r\n\r\n\r\n--" + b + "--and an epilogue\r\n--" + b;
  MultipartResult r = parse_multipart(body, kBoundary);
  ASSERT_TRUE(r.ok()) << r.error;
  expect_same(r.parts, {field("language", "en"), file("prompt", "", "text/plain;charset=utf-8", "")});
}

TEST(Multipart, QuotedNamesTakeBackslashEscapes) {
  const std::string b(kBoundary);
  const std::string body = "--" + b + "\r\nContent-Disposition: form-data; name=\"a\\\"b\\\\c\"; filename=\"x;y=z.wav\"; "
                           "filename*=UTF-8''%E2%82%AC.wav\r\n\r\n1\r\n--" + b + "--";
  MultipartResult r = parse_multipart(body, kBoundary);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.parts.size(), 1u);
  EXPECT_EQ(r.parts[0].name, "a\"b\\c");
  EXPECT_EQ(r.parts[0].filename, "x;y=z.wav");
}

TEST(Multipart, MalformedBodies) {
  const std::string b(kBoundary);
  const std::string open = "--" + b + "\r\n";
  const std::string close = "\r\n--" + b + "--\r\n";
  const std::string cd = "Content-Disposition: form-data; name=\"f\"\r\n";
  struct Case {
    std::string body;
    std::string error;
  };
  const Case cases[] = {
      {"", "expected a boundary line \"--" + b + "\" (from Content-Type), found none"},
      {"hello", "expected a boundary line \"--" + b + "\" (from Content-Type), found none"},
      {"--" + b.substr(1) + "\r\n", "expected a boundary line \"--" + b + "\" (from Content-Type), found none"},
      {"--" + b, "expected CRLF or \"--\" after the boundary before part 1, found the end of the body"},
      {"--" + b + "x\r\n", "expected CRLF or \"--\" after the boundary before part 1, found \"x\\x0D\\x0A\""},
      {"--" + b + "\n" + cd + "\r\nv" + close, "expected CRLF or \"--\" after the boundary before part 1, found \"\\x0AContent-Disposi...\""},
      {open + cd + "\r\nvalue", "expected a boundary after part 1's data, found the end of the body (cut short?)"},
      {open + cd + "\r\nvalue\r\n--" + b + "junk", "expected CRLF or \"--\" after the boundary before part 2, found \"junk\""},
      {open + cd, "expected part 1's header to end with a blank line, found the end of the body"},
      {open + "\r\nvalue" + close, "part 1: expected a Content-Disposition: form-data header, found none"},
      {open + "Content-Type: text/plain\r\n\r\nvalue" + close, "part 1: expected a Content-Disposition: form-data header, found none"},
      {open + "Content-Disposition: attachment; name=\"f\"\r\n\r\nv" + close, "part 1: expected Content-Disposition: form-data, found \"attachment\""},
      {open + "Content-Disposition: form-data; filename=\"a\"\r\n\r\nv" + close, "part 1: expected a name=\"...\" in Content-Disposition, found none"},
      {open + "Content-Disposition: form-data; name=\"f\r\n\r\nv" + close, "part 1: Content-Disposition: expected a closing '\"' in the value of name, found the end of the header"},
      {open + "Content-Disposition: form-data; name=\"f\"; name=\"g\"\r\n\r\nv" + close, "part 1: Content-Disposition: expected the parameter name once, found it twice"},
      {open + "Content-Disposition: form-data; name\r\n\r\nv" + close, "part 1: Content-Disposition: expected a parameter name=value, found \"name\""},
      {open + cd + cd + "\r\nv" + close, "part 1: expected one Content-Disposition header, found two"},
      {open + cd + "Content-Type: a\r\nContent-Type: b\r\n\r\nv" + close, "part 1: expected one Content-Type header, found two"},
      {open + cd + " continued\r\n\r\nv" + close, "part 1: expected a header line Name: value, found a folded (indented) line \" continued\""},
      {open + cd + "Broken header\r\n\r\nv" + close, "part 1: expected a header line Name: value, found \"Broken header\""},
      {open + cd + "X: a\x01" "b\r\n\r\nv" + close, "part 1: expected printable header values, found a control byte in \"X: a\\x01b\""},
      {open + cd + "X: a\nb\r\n\r\nv" + close, "part 1: expected printable header values, found a control byte in \"X: a\\x0Ab\""},
      {open + cd + "\r\nv\r\n--" + b + "\r\n" + "\r\nw" + close, "part 2: expected a Content-Disposition: form-data header, found none"},
  };
  for (const Case& c : cases) {
    MultipartResult r = parse_multipart(c.body, kBoundary);
    expect_one_line_error(r, c.body);
    EXPECT_EQ(r.error, "multipart body: " + c.error) << c.body;
  }
  EXPECT_EQ(parse_multipart("--\r\n", "").error, "multipart body: expected a boundary of 1 to 70 characters, found 0");
}

TEST(Multipart, Limits) {
  const std::string b(kBoundary);
  std::vector<MultipartPart> parts;
  const std::string value = "v";
  for (char c = 'a'; c < 'f'; ++c) parts.push_back(field(std::string(1, c), value));
  const std::string body = write_multipart(parts, b);
  MultipartLimits limits;
  limits.max_parts = 5;
  EXPECT_TRUE(parse_multipart(body, b, limits).ok());
  limits.max_parts = 4;
  EXPECT_EQ(parse_multipart(body, b, limits).error, "multipart body: expected at most 4 parts, found more");

  const std::string big(1000, 'x');
  const std::string fields = write_multipart({field("prompt", big)}, b);
  const std::string files = write_multipart({file("file", "a.wav", "audio/wav", big)}, b);
  limits = MultipartLimits{};
  limits.max_field_bytes = 999;
  EXPECT_EQ(parse_multipart(fields, b, limits).error,
            "multipart body: expected part 1 (\"prompt\") within 999 bytes, found 1000");
  EXPECT_TRUE(parse_multipart(files, b, limits).ok());  // a file is not a field
  limits.max_field_bytes = 1000;
  EXPECT_TRUE(parse_multipart(fields, b, limits).ok());
  limits.max_file_bytes = 999;
  EXPECT_EQ(parse_multipart(files, b, limits).error,
            "multipart body: expected part 1 (\"file\") within 999 bytes, found 1000");

  // A header block over the limit is refused without looking further.
  const std::string header = "Content-Disposition: form-data; name=\"f\"\r\nX-Pad: " + std::string(200, 'p');
  const std::string long_header = "--" + b + "\r\n" + header + "\r\n\r\nv\r\n--" + b + "--";
  limits = MultipartLimits{};
  limits.max_header_bytes = header.size();
  EXPECT_TRUE(parse_multipart(long_header, b, limits).ok());
  limits.max_header_bytes = header.size() - 1;
  EXPECT_EQ(parse_multipart(long_header, b, limits).error,
            "multipart body: expected part 1's header within " + std::to_string(header.size() - 1) + " bytes, found more");
}

TEST(Multipart, CutAtEveryOffset) {
  // A body cut anywhere before its closing "--" is an error (one line); cut after it, it parses whole.
  const std::string b(kBoundary);
  const std::string data("\r\n-\r\n--\0x", 8);
  const std::vector<MultipartPart> parts = {file("file", "clip.mp3", "audio/mpeg", data), field("model", "m"),
                                            field("response_format", "text")};
  const std::string body = write_multipart(parts, b);
  const size_t complete = body.size() - 2;  // "--" + boundary + "--", before the final CRLF
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    MultipartResult r = parse_multipart(std::string_view(body).substr(0, cut), b);
    if (cut >= complete) {
      ASSERT_TRUE(r.ok()) << cut << ": " << r.error;
      expect_same(r.parts, parts);
    } else {
      expect_one_line_error(r, "cut at " + std::to_string(cut));
    }
  }
}

TEST(Multipart, TheBoundaryAtEveryOffsetOfAFile) {
  // The delimiter is found wherever it falls in the data: followed by junk it is an error, followed by "--" it
  // ends the body there (the file cut at that offset, the rest an epilogue).
  const std::string b(kBoundary);
  std::mt19937 rng(3);
  std::string data(300, '\0');
  for (char& c : data) c = "ab\r\n-\0"[rng() % 6];
  for (size_t at = 0; at <= data.size(); ++at) {
    const std::string junk = data.substr(0, at) + "\r\n--" + b + "x" + data.substr(at);
    const std::string end = data.substr(0, at) + "\r\n--" + b + "--" + data.substr(at);
    // The random data must not hold the delimiter itself, or the cut would come earlier.
    ASSERT_EQ(data.find("\r\n--" + b), std::string::npos);
    MultipartResult bad = parse_multipart(write_multipart({file("file", "a", "", junk)}, b), b);
    expect_one_line_error(bad, "junk at " + std::to_string(at));
    MultipartResult cut = parse_multipart(write_multipart({file("file", "a", "", end)}, b), b);
    ASSERT_TRUE(cut.ok()) << at << ": " << cut.error;
    ASSERT_EQ(cut.parts.size(), 1u);
    EXPECT_EQ(cut.parts[0].data, data.substr(0, at));
  }
}

TEST(Multipart, RandomFormsRoundTrip) {
  std::mt19937 rng(5);
  const std::string b(kBoundary);
  const std::string alphabet("ab\"\\; =\r\n-\0\xff", 13);
  for (int round = 0; round < 400; ++round) {
    std::vector<std::string> storage;  // the parts' data, kept alive
    const size_t n = 1 + rng() % 6;
    storage.reserve(n);
    std::vector<MultipartPart> parts;
    for (size_t i = 0; i < n; ++i) {
      std::string name, filename, data;
      for (size_t k = rng() % 12; k > 0; --k) name += "ab\"\\; =x"[rng() % 8];
      for (size_t k = rng() % 3000; k > 0; --k) data += alphabet[rng() % alphabet.size()];
      // Data that happens to hold the delimiter cannot be sent with this boundary (a client picks another).
      if (data.find("\r\n--" + b) != std::string::npos) data.clear();
      storage.push_back(std::move(data));
      if (rng() % 2) {
        for (size_t k = rng() % 12; k > 0; --k) filename += "ab\"\\; =.x"[rng() % 9];
        parts.push_back(file(name, filename, rng() % 2 ? "audio/wav" : "", storage.back()));
      } else {
        parts.push_back(field(name, storage.back()));
      }
    }
    const std::string body = (rng() % 2 ? "preamble\r\n" : "") + write_multipart(parts, b) + (rng() % 2 ? "epilogue" : "");
    MultipartResult r = parse_multipart(body, b);
    ASSERT_TRUE(r.ok()) << r.error;
    expect_same(r.parts, parts);
    for (const MultipartPart& p : r.parts) {  // views into the body, never copies
      EXPECT_GE(p.data.data(), body.data());
      EXPECT_LE(p.data.data() + p.data.size(), body.data() + body.size());
    }
  }
}

TEST(Multipart, MutatedBodiesParseOrFailOnOneLine) {
  std::mt19937 rng(9);
  const std::string b(kBoundary);
  const std::string wav("RIFF\x10\0\0\0WAVE", 12);
  const std::string base = write_multipart({file("file", "a.wav", "audio/wav", wav), field("model", "m")}, b);
  for (int i = 0; i < 20000; ++i) {
    std::string s = base;
    for (int e = 1 + static_cast<int>(rng() % 3); e > 0 && !s.empty(); --e) {
      const size_t at = rng() % s.size();
      switch (rng() % 4) {
        case 0: s[at] = static_cast<char>(rng() & 0xFF); break;
        case 1: s.erase(at, 1 + rng() % 16); break;
        case 2: s.insert(at, s.substr(rng() % s.size(), 1 + rng() % 40)); break;
        default: s.insert(at, "\r\n--" + b.substr(0, rng() % (b.size() + 1))); break;
      }
    }
    MultipartResult r = parse_multipart(s, b);
    if (!r.ok()) {
      expect_one_line_error(r, "mutation " + std::to_string(i));
      continue;
    }
    for (const MultipartPart& p : r.parts) {
      ASSERT_GE(p.data.data(), s.data());
      ASSERT_LE(p.data.data() + p.data.size(), s.data() + s.size());
    }
    // What parsed writes back to a body that parses the same.
    const std::string again = write_multipart(r.parts, b);
    MultipartResult r2 = parse_multipart(again, b);
    ASSERT_TRUE(r2.ok()) << r2.error;
    expect_same(r2.parts, r.parts);
  }
}

}  // namespace
}  // namespace locus::server
