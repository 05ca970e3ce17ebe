// data: URIs and media URL kinds (data_uri.h).
#include "server/data_uri.h"

#include <gtest/gtest.h>

#include <random>

#include "server/base64.h"

namespace locus::server {
namespace {

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

TEST(DataUri, DecodesTypeAndBytes) {
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  DataUriResult r = parse_data_uri("data:image/png;base64," + encode_base64(png));
  ASSERT_TRUE(r.uri) << r.error;
  EXPECT_EQ(r.uri->mime, "image/png");
  EXPECT_EQ(r.uri->bytes, png);
}

TEST(DataUri, AcceptsWhatClientsSend) {
  const std::string b64 = encode_base64("RIFF....WAVEfmt ");
  for (const std::string header : {"data:audio/wav;base64,", "DATA:Audio/WAV;BASE64,", "data:audio/wav;name=a.wav;base64,",
                                   "data:audio/wav;charset=\"utf-8\";base64,", "data:audio/x-wav;rate=16000;base64,"}) {
    DataUriResult r = parse_data_uri(header + b64);
    ASSERT_TRUE(r.uri) << header << ": " << r.error;
    EXPECT_EQ(r.uri->bytes, "RIFF....WAVEfmt ") << header;
    EXPECT_EQ(r.uri->mime.substr(0, 6), "audio/") << header;
  }
  // No type at all, and base64 wrapped at 76 columns (CRLF skipped, as Go's decoder skips it).
  DataUriResult none = parse_data_uri("data:;base64," + b64);
  ASSERT_TRUE(none.uri) << none.error;
  EXPECT_EQ(none.uri->mime, "");
  const std::string long_bytes(200, 'x');
  std::string wrapped = encode_base64(long_bytes);
  wrapped.insert(76, "\r\n");
  DataUriResult w = parse_data_uri("data:image/png;base64," + wrapped);
  ASSERT_TRUE(w.uri) << w.error;
  EXPECT_EQ(w.uri->bytes, long_bytes);
}

TEST(DataUri, ATypeThatLiesIsKeptAsDeclared) {
  // WAV bytes declared as a PNG: accepted; the media layer goes by the bytes.
  DataUriResult r = parse_data_uri("data:image/png;base64," + encode_base64("RIFF\x24\0\0\0WAVE"));
  ASSERT_TRUE(r.uri) << r.error;
  EXPECT_EQ(r.uri->mime, "image/png");
  EXPECT_EQ(r.uri->bytes.substr(0, 4), "RIFF");
}

TEST(DataUri, MalformedOnesSayWhatIsWrong) {
  struct Case {
    std::string uri;
    std::string error;
  };
  const Case cases[] = {
      {"data:image/png,rawbytes", "expected base64 data (data:<type>;base64,<data>), found the header \"image/png\" without ;base64"},
      {"data:image/png;base64", "expected a data: URI (data:<type>;base64,<data>), found no ',' before the data"},
      {"data:image/png;base64,ab$d", "expected standard base64 (A-Z a-z 0-9 + /, '=' padded) after the comma, found invalid character '$' at offset 2"},
      {"data:image/png;base64,aGVsbG8", "expected standard base64 (A-Z a-z 0-9 + /, '=' padded) after the comma, found length is not a multiple of 4 (missing '=' padding?)"},
      {"data:image/png;base64,aGVs bG8=", "expected standard base64 (A-Z a-z 0-9 + /, '=' padded) after the comma, found invalid character ' ' at offset 4"},
      {"data:image/png;base64,aGVs%3D", "expected standard base64 (A-Z a-z 0-9 + /, '=' padded) after the comma, found invalid character '%' at offset 4"},
      {"data:image/png;base64,", "expected media bytes in base64 after the comma, found none"},
      {"data:image;base64,aGVs", "expected a media type of the form type/subtype, found \"image\""},
      {"data:im age/png;base64,aGVs", "expected a media type of the form type/subtype, found \"im age/png\""},
      {"data:image/;base64,aGVs", "expected a media type of the form type/subtype, found \"image/\""},
      {"data:image/png;charset;base64,aGVs", "expected ;attribute=value parameters in the data: URI's header, found \"charset\""},
      {"data:image/png;=x;base64,aGVs", "expected ;attribute=value parameters in the data: URI's header, found \"=x\""},
      {"data:image/png;a=\"x;base64,aGVs", "expected ;attribute=value parameters in the data: URI's header, found \"a=\\x22x\""},
      {"data:image/png;;base64,aGVs", "expected ;attribute=value parameters in the data: URI's header, found \"\""},
      {"data:\x01/png;base64,aGVs", "expected a media type of the form type/subtype, found \"\\x01/png\""},
      {"https://example.com/cat.png", "expected a data: URI (data:<type>;base64,<data>), found \"https://example....\""},
      {"", "expected a data: URI (data:<type>;base64,<data>), found \"\""},
  };
  for (const Case& c : cases) {
    DataUriResult r = parse_data_uri(c.uri);
    EXPECT_FALSE(r.uri) << c.uri;
    EXPECT_EQ(r.error, c.error) << c.uri;
  }
}

TEST(DataUri, RandomBytesAndTypesRoundTrip) {
  std::mt19937 rng(7);
  const char* types[] = {"image/png", "image/jpeg", "audio/wav", "video/mp4", "application/octet-stream", ""};
  for (int i = 0; i < 500; ++i) {
    const std::string bytes = random_bytes(rng, 1 + rng() % 300);
    const std::string type = types[rng() % std::size(types)];
    DataUriResult r = parse_data_uri(make_data_uri(type, bytes));
    ASSERT_TRUE(r.uri) << r.error;
    EXPECT_EQ(r.uri->bytes, bytes);
    EXPECT_EQ(r.uri->mime, type);
  }
}

TEST(DataUri, AnyTextGivesAURIOrOneLineError) {
  // Mutations of a valid URI (bytes flipped, cut, duplicated): never a crash, and an error is one line that
  // says what was expected.
  std::mt19937 rng(11);
  const std::string valid = "data:image/png;name=\"a b\";base64," + encode_base64("\x89PNG\r\n\x1a\n....");
  for (int i = 0; i < 5000; ++i) {
    std::string s = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = rng() % s.size();
      switch (rng() % 3) {
        case 0: s[at] = static_cast<char>(rng() & 0xFF); break;
        case 1: s.erase(at, 1 + rng() % 8); break;
        default: s.insert(at, s.substr(rng() % s.size(), 1 + rng() % 6)); break;
      }
    }
    DataUriResult r = parse_data_uri(s);
    if (r.uri) {
      EXPECT_TRUE(r.error.empty());
      EXPECT_FALSE(r.uri->bytes.empty());
      DataUriResult again = parse_data_uri(make_data_uri(r.uri->mime, r.uri->bytes));
      ASSERT_TRUE(again.uri) << again.error;
      EXPECT_EQ(again.uri->bytes, r.uri->bytes);
      EXPECT_EQ(again.uri->mime, r.uri->mime);
    } else {
      EXPECT_EQ(r.error.rfind("expected", 0), 0u) << r.error;
      EXPECT_EQ(r.error.find('\n'), std::string::npos) << r.error;
      EXPECT_EQ(r.error.find('\r'), std::string::npos) << r.error;
    }
  }
}

TEST(MediaUrl, KindsBySchemeInAnyCase) {
  EXPECT_EQ(classify_media_url("data:image/png;base64,aGVs"), MediaUrlKind::kData);
  EXPECT_EQ(classify_media_url("DaTa:,x"), MediaUrlKind::kData);
  EXPECT_EQ(classify_media_url("http://example.com/a.png"), MediaUrlKind::kRemote);
  EXPECT_EQ(classify_media_url("HTTPS://example.com/a.png"), MediaUrlKind::kRemote);
  EXPECT_EQ(classify_media_url("file:///etc/passwd"), MediaUrlKind::kFile);
  EXPECT_EQ(classify_media_url("FILE:/etc/passwd"), MediaUrlKind::kFile);
  EXPECT_EQ(classify_media_url("ftp://example.com/a.png"), MediaUrlKind::kOther);
  EXPECT_EQ(classify_media_url("/etc/passwd"), MediaUrlKind::kOther);
  EXPECT_EQ(classify_media_url("aGVsbG8="), MediaUrlKind::kOther);
  EXPECT_EQ(classify_media_url(""), MediaUrlKind::kOther);
  EXPECT_EQ(classify_media_url("http:"), MediaUrlKind::kOther);
}

}  // namespace
}  // namespace locus::server
