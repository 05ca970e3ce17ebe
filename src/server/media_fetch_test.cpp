// Fetching media by URL (media_fetch.h): which addresses may be reached, and fetches from a loopback server
// (allowed only by the test-only switch) that answers, redirects, fails, sends too much or too slowly.
#include "server/media_fetch.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>

#include <cstdlib>
#include <thread>

namespace locus::server {
namespace {

using namespace std::chrono_literals;

// "" when allowed, else the reason.
std::string verdict(const std::string& text, bool allow_loopback = false) {
  sockaddr_storage ss{};
  if (text.find(':') == std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    EXPECT_EQ(inet_pton(AF_INET, text.c_str(), &a->sin_addr), 1) << text;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, text.c_str(), &a->sin6_addr), 1) << text;
  }
  std::string why;
  const bool ok = media_address_allowed(reinterpret_cast<const sockaddr*>(&ss), allow_loopback, &why);
  EXPECT_EQ(ok, why.empty()) << text;
  return why;
}

TEST(MediaFetchAddresses, OnlyPublicUnicast) {
  const std::pair<const char*, const char*> cases[] = {
      {"93.184.216.34", ""},
      {"8.8.8.8", ""},
      {"1.1.1.1", ""},
      {"127.0.0.1", "a loopback address"},
      {"127.255.0.9", "a loopback address"},
      {"0.0.0.0", "an unspecified address"},
      {"0.1.2.3", "an unspecified address"},
      {"10.0.0.1", "a private address"},
      {"172.16.0.1", "a private address"},
      {"172.31.255.255", "a private address"},
      {"172.32.0.1", ""},
      {"192.168.1.1", "a private address"},
      {"100.64.0.1", "a shared (carrier-grade NAT) address"},
      {"100.128.0.1", ""},
      {"169.254.169.254", "a link-local address"},  // cloud metadata
      {"224.0.0.1", "a multicast address"},
      {"255.255.255.255", "a reserved address"},
      {"192.0.2.1", "a reserved address"},
      {"198.18.0.1", "a reserved address"},
      {"2606:4700:4700::1111", ""},
      {"2001:4860:4860::8888", ""},
      {"::1", "a loopback address"},
      {"::", "an unspecified address"},
      {"::ffff:127.0.0.1", "a loopback address"},
      {"::ffff:10.1.2.3", "a private address"},
      {"::ffff:8.8.8.8", ""},
      {"64:ff9b::a9fe:a9fe", "a link-local address"},  // NAT64 of 169.254.169.254
      {"64:ff9b::808:808", ""},
      {"64:ff9b:1::1", "a private address"},
      {"2002:7f00:1::", "a loopback address"},  // 6to4 of 127.0.0.1
      {"2002:0808:0808::1", ""},
      {"fc00::1", "a private address"},
      {"fd12:3456::1", "a private address"},
      {"fe80::1", "a link-local address"},
      {"fec0::1", "a private address"},
      {"ff02::1", "a multicast address"},
      {"2001:db8::1", "a reserved address"},
      {"2001:0:4136:e378::1", "a reserved address"},  // Teredo
      {"::8.8.8.8", "a reserved address"},            // IPv4-compatible (deprecated)
      {"100::1", "a reserved address"},
  };
  for (const auto& [address, why] : cases) EXPECT_EQ(verdict(address), why) << address;
  EXPECT_EQ(verdict("127.0.0.1", true), "");
  EXPECT_EQ(verdict("::1", true), "");
  EXPECT_EQ(verdict("::ffff:127.0.0.1", true), "");
  EXPECT_EQ(verdict("10.0.0.1", true), "a private address");  // the test switch opens loopback only
}

class MediaFetch : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/cat.png", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string("\x89PNG\r\n\x1a\n\0\0", 10), "Image/PNG; charset=binary");
    });
    server_.Get("/moved", [](const httplib::Request&, httplib::Response& res) {
      res.status = 302;
      res.set_header("Location", "/cat.png");
    });
    server_.Get("/missing", [](const httplib::Request&, httplib::Response& res) { res.status = 404; });
    server_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(2000, 'x'), "video/mp4");
    });
    server_.Get("/big-chunked", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("video/mp4", [](size_t offset, httplib::DataSink& sink) {
        if (offset >= 4000) {
          sink.done();
          return true;
        }
        const std::string piece(500, 'y');
        return sink.write(piece.data(), piece.size());
      });
    });
    server_.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(1500ms);
      res.set_content("late", "image/png");
    });
    server_.Get("/empty", [](const httplib::Request&, httplib::Response& res) { res.set_content("", "image/png"); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the accept loop runs would be lost and leave join() waiting forever.
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
    options_.allow_loopback_for_tests = true;
    options_.max_bytes = 1000;
    options_.timeout = 500ms;
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  MediaFetchOptions options_;
};

TEST_F(MediaFetch, FetchesBytesAndType) {
  MediaFetchResult r = fetch_media_url(url("/cat.png"), options_);
  ASSERT_FALSE(r.error) << *r.error;
  EXPECT_EQ(r.bytes, std::string("\x89PNG\r\n\x1a\n\0\0", 10));
  EXPECT_EQ(r.content_type, "image/png");
}

TEST_F(MediaFetch, EveryFailureIsOneLine) {
  const std::string base = "http://127.0.0.1:" + std::to_string(port_);
  const std::pair<std::string, std::string> cases[] = {
      {"/moved", "the server answered HTTP 302 (redirects are not followed)"},
      {"/missing", "the server answered HTTP 404"},
      {"/big", "the media is larger than the limit of 1000 bytes (LOCUS_MAX_REQUEST_BYTES)"},
      {"/big-chunked", "the media is larger than the limit of 1000 bytes (LOCUS_MAX_REQUEST_BYTES)"},
      {"/slow", "no complete answer within 500 ms"},
      {"/empty", "the answer is empty"},
  };
  for (const auto& [path, why] : cases) {
    MediaFetchResult r = fetch_media_url(url(path), options_);
    ASSERT_TRUE(r.error) << path;
    EXPECT_EQ(*r.error, "could not fetch " + base + path + ": " + why);
    EXPECT_TRUE(r.bytes.empty()) << path;
  }
}

TEST_F(MediaFetch, LoopbackIsRefusedWithoutTheTestSwitch) {
  options_.allow_loopback_for_tests = false;
  MediaFetchResult r = fetch_media_url(url("/cat.png"), options_);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(*r.error, "could not fetch " + url("/cat.png") +
                          ": its host is at 127.0.0.1, a loopback address (media is fetched only from public addresses)");
  // A name that resolves to loopback is judged by the address it resolves to, when the socket opens.
  r = fetch_media_url("http://localhost:" + std::to_string(port_) + "/cat.png", options_);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("a loopback address"), std::string::npos) << *r.error;
  r = fetch_media_url("http://[::1]:" + std::to_string(port_) + "/cat.png", options_);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("its host is at ::1, a loopback address"), std::string::npos) << *r.error;
}

TEST_F(MediaFetch, ProxiesInTheEnvironmentAreNotUsed) {
  // A proxy would connect for us, out of reach of the address check; the fetch must go direct.
  setenv("http_proxy", "http://127.0.0.1:1", 1);
  setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
  setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
  MediaFetchResult r = fetch_media_url(url("/cat.png"), options_);
  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
  unsetenv("ALL_PROXY");
  EXPECT_FALSE(r.error) << *r.error;
}

TEST(MediaFetchUrls, OnlyHttpAndHttpsWithoutCredentials) {
  MediaFetchOptions o;
  const std::pair<std::string, std::string> cases[] = {
      {"file:///etc/passwd", "only http and https URLs are fetched"},
      {"ftp://example.com/a.png", "only http and https URLs are fetched"},
      {"gopher://example.com/", "only http and https URLs are fetched"},
      {"http://user:secret@example.com/a.png", "URLs with credentials (user@host) are not fetched"},
      {"http://user@example.com/a.png", "URLs with credentials (user@host) are not fetched"},
  };
  for (const auto& [u, why] : cases) {
    MediaFetchResult r = fetch_media_url(u, o);
    ASSERT_TRUE(r.error) << u;
    EXPECT_EQ(*r.error, "could not fetch " + u + ": " + why);
  }
  MediaFetchResult bad = fetch_media_url("http://exa mple.com/\n", o);
  ASSERT_TRUE(bad.error);
  EXPECT_EQ(bad.error->rfind("could not fetch http://exa mple.com/?: not a valid URL (", 0), 0u) << *bad.error;
  EXPECT_EQ(bad.error->find('\n'), std::string::npos);
}

}  // namespace
}  // namespace locus::server
