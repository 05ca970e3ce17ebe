#include "server/server_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "server/event_channel.h"

namespace locus::server {
namespace {

HostPort host(std::string_view text) {
  std::string err;
  auto hp = parse_host(text, &err);
  EXPECT_TRUE(hp.has_value()) << text << ": " << err;
  return hp.value_or(HostPort{});
}

TEST(ParseHost, FormsOfOllamaHost) {
  EXPECT_EQ(host("0.0.0.0:8080"), (HostPort{"0.0.0.0", 8080}));
  EXPECT_EQ(host("example.lan"), (HostPort{"example.lan", 11434}));
  EXPECT_EQ(host(":9000"), (HostPort{"127.0.0.1", 9000}));
  EXPECT_EQ(host("http://127.0.0.1:1234/"), (HostPort{"127.0.0.1", 1234}));
  EXPECT_EQ(host("[::1]:5000"), (HostPort{"::1", 5000}));
  EXPECT_EQ(host("[::1]"), (HostPort{"::1", 11434}));
  EXPECT_EQ(host(""), (HostPort{"127.0.0.1", 11434}));
  EXPECT_EQ(host(":0"), (HostPort{"127.0.0.1", 0}));
}

TEST(ParseHost, RefusesWhatItCannotServe) {
  for (const char* bad : {"host:99999", "host:port", "https://x:1", "x:1/path", "::1:80", "[::1", "[::1]x"}) {
    std::string err;
    EXPECT_FALSE(parse_host(bad, &err).has_value()) << bad;
    EXPECT_NE(err.find(bad), std::string::npos) << err;  // the message quotes what it found
  }
}

TEST(ParseHost, Loopback) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("192.168.1.2"));
  EXPECT_FALSE(is_loopback_host("::"));
}

TEST(Cors, DefaultOriginsAreLocal) {
  const auto d = default_origins();
  EXPECT_TRUE(origin_allowed(d, "http://localhost"));
  EXPECT_TRUE(origin_allowed(d, "http://localhost:3000"));
  EXPECT_TRUE(origin_allowed(d, "https://127.0.0.1:8443"));
  EXPECT_TRUE(origin_allowed(d, "app://obsidian.md"));
  EXPECT_TRUE(origin_allowed(d, "vscode-webview://abc"));
  EXPECT_FALSE(origin_allowed(d, "https://evil.example"));
  EXPECT_FALSE(origin_allowed(d, "http://localhost.evil.example"));
  EXPECT_FALSE(origin_allowed(d, "http://127.0.0.1.nip.io"));
}

TEST(Cors, GlobAndList) {
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_TRUE(glob_match("https://*.example.com", "https://a.b.example.com"));
  EXPECT_FALSE(glob_match("https://*.example.com", "https://example.com"));
  EXPECT_TRUE(glob_match("a*b*c", "aXbYbc"));
  EXPECT_FALSE(glob_match("a*b", "ac"));
  EXPECT_EQ(split_list(" a, ,b ,c"), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Auth, BearerKey) {
  EXPECT_TRUE(authorized("", ""));
  EXPECT_TRUE(authorized("", "Bearer whatever"));
  EXPECT_TRUE(authorized("s3cret", "Bearer s3cret"));
  EXPECT_TRUE(authorized("s3cret", "bearer  s3cret "));
  EXPECT_FALSE(authorized("s3cret", ""));
  EXPECT_FALSE(authorized("s3cret", "Bearer s3cre"));
  EXPECT_FALSE(authorized("s3cret", "Bearer s3creT"));
  EXPECT_FALSE(authorized("s3cret", "Basic s3cret"));
  EXPECT_FALSE(authorized("s3cret", "s3cret"));
}

TEST(Envelope, ByPath) {
  const ApiError e{404, "model \"x\" not found, try pulling it first", "model"};
  const auto ollama = nlohmann::json::parse(error_body_for_path("/api/chat", e));
  EXPECT_EQ(ollama["error"], e.message);
  const auto openai = nlohmann::json::parse(error_body_for_path("/v1/chat/completions", e));
  EXPECT_EQ(openai["error"]["message"], e.message);
  EXPECT_EQ(openai["error"]["type"], "not_found_error");
  EXPECT_TRUE(is_openai_path("/v1/models"));
  EXPECT_FALSE(is_openai_path("/v10/models"));
  EXPECT_FALSE(is_openai_path("/api/v1"));
}

TEST(Environment, OverridesDefaults) {
  std::map<std::string, std::string> env = {{"LOCUS_HOST", ":8081"},           {"LOCUS_API_KEY", "k"},
                                            {"LOCUS_ORIGINS", "https://a.example"}, {"LOCUS_MAX_REQUEST_BYTES", "1000"},
                                            {"LOCUS_NUM_PARALLEL", "2"},        {"LOCUS_MAX_QUEUE", "7"},
                                            {"LOCUS_CONTEXT_LENGTH", "8192"},   {"LOCUS_KEEP_ALIVE", "-1"}};
  auto getenv_fn = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  ServeOptions o;
  ASSERT_FALSE(apply_environment(o, getenv_fn).has_value());
  EXPECT_EQ(o.listen, (HostPort{"127.0.0.1", 8081}));
  EXPECT_EQ(o.api_key, "k");
  EXPECT_TRUE(origin_allowed(o.origins, "https://a.example"));
  EXPECT_TRUE(origin_allowed(o.origins, "http://localhost:1"));  // added to the defaults, not instead
  EXPECT_EQ(o.max_request_bytes, 1000u);
  EXPECT_EQ(o.n_slots, 2);
  EXPECT_EQ(o.max_queue, 7);
  EXPECT_EQ(o.ctx, 8192u);
  EXPECT_TRUE(o.keep_alive.forever);

  env = {{"LOCUS_NUM_PARALLEL", "0"}};
  auto err = apply_environment(o, getenv_fn);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("LOCUS_NUM_PARALLEL"), std::string::npos) << *err;
  env = {{"LOCUS_KEEP_ALIVE", "soon"}};
  EXPECT_TRUE(apply_environment(o, getenv_fn).has_value());
  env = {{"LOCUS_HOST", "x:y"}};
  EXPECT_TRUE(apply_environment(o, getenv_fn).has_value());
}

TEST(Environment, KeepAliveText) {
  EXPECT_EQ(parse_keep_alive_text("5m"), (KeepAlive{false, 300000}));
  EXPECT_EQ(parse_keep_alive_text("300"), (KeepAlive{false, 300000}));
  EXPECT_EQ(parse_keep_alive_text("0"), (KeepAlive{false, 0}));
  EXPECT_TRUE(parse_keep_alive_text("-1")->forever);
  EXPECT_FALSE(parse_keep_alive_text("five").has_value());
}

TEST(EventChannel, DeliversInOrderAcrossThreads) {
  EventChannel ch;
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) ch.push(GenerationEvent{GenerationEvent::Kind::kText, std::to_string(i), "", "", {}, {}});
    ch.push(GenerationEvent{GenerationEvent::Kind::kDone, "", "", "", {}, {}});
  });
  std::vector<GenerationEvent> got;
  while (got.empty() || got.back().kind != GenerationEvent::Kind::kDone) {
    ch.pop_all(got, std::chrono::milliseconds(1000));
  }
  producer.join();
  ASSERT_EQ(got.size(), 101u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[static_cast<size_t>(i)].text, std::to_string(i));
  EXPECT_TRUE(ch.ended());
  std::vector<GenerationEvent> none;
  EXPECT_FALSE(ch.pop_all(none, std::chrono::milliseconds(10)));
}

}  // namespace
}  // namespace locus::server

namespace locus::server {
namespace {

TEST(HostAllowed, LoopbackServerTakesOnlyLocalNames) {
  ServeOptions o;  // 127.0.0.1:11434
  for (const char* ok : {"", "localhost", "localhost:11434", "LOCALHOST:1", "localhost.", "app.localhost:3000",
                         "127.0.0.1", "127.0.0.1:11434", "127.1.2.3:80", "[::1]", "[::1]:11434"}) {
    EXPECT_TRUE(host_allowed(o, ok)) << ok;
  }
  for (const char* bad : {"evil.example", "evil.example:11434", "127.0.0.1.evil.example", "127.evil.example",
                          "localhost.evil.example", "evillocalhost", "0.0.0.0:11434", "192.168.1.5:11434",
                          "[::2]:11434", "[::1", "[::1]x", "localhost:port", "localhost:1:2", "10.0.0.1"}) {
    EXPECT_FALSE(host_allowed(o, bad)) << bad;
  }
  char self[256] = {};
  ASSERT_EQ(gethostname(self, sizeof self - 1), 0);
  EXPECT_TRUE(host_allowed(o, std::string(self) + ":11434")) << self;
}

TEST(HostAllowed, ExtraNamesAndOtherAddresses) {
  ServeOptions o;
  o.allowed_hosts = {"models.example", "*.internal.example"};
  EXPECT_TRUE(host_allowed(o, "models.example:11434"));
  EXPECT_TRUE(host_allowed(o, "a.internal.example"));
  EXPECT_FALSE(host_allowed(o, "evil.example"));
  o.allowed_hosts = {"*"};
  EXPECT_TRUE(host_allowed(o, "evil.example:11434"));
  // Listening on another address the operator chose to be reached by other names.
  ServeOptions wide;
  wide.listen.host = "0.0.0.0";
  EXPECT_TRUE(host_allowed(wide, "evil.example:11434"));
  wide.listen.host = "localhost";
  EXPECT_FALSE(host_allowed(wide, "evil.example:11434"));
  wide.listen.host = "::1";
  EXPECT_FALSE(host_allowed(wide, "evil.example"));
}

TEST(ApplyEnvironment, AllowedHostsAndConnectionLimit) {
  std::map<std::string, std::string> env = {{"LOCUS_ALLOWED_HOSTS", "a.example, *.b.example"},
                                            {"LOCUS_MAX_CONNECTIONS", "100"}};
  auto get = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  ServeOptions o;
  ASSERT_FALSE(apply_environment(o, get).has_value());
  EXPECT_EQ(o.allowed_hosts, (std::vector<std::string>{"a.example", "*.b.example"}));
  EXPECT_EQ(o.max_connections, 100u);
  env["LOCUS_MAX_CONNECTIONS"] = "0";
  const auto err = apply_environment(o, get);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("LOCUS_MAX_CONNECTIONS"), std::string::npos) << *err;
}

TEST(ApplyEnvironment, AllowMediaUrls) {
  std::map<std::string, std::string> env;
  auto get = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  ServeOptions o;
  ASSERT_FALSE(apply_environment(o, get).has_value());
  EXPECT_FALSE(o.allow_media_urls);  // off unless asked
  for (const char* on : {"1", "true", " true "}) {
    env = {{"LOCUS_ALLOW_MEDIA_URLS", on}};
    ServeOptions a;
    ASSERT_FALSE(apply_environment(a, get).has_value()) << on;
    EXPECT_TRUE(a.allow_media_urls) << on;
    EXPECT_FALSE(a.media_urls_allow_loopback_for_tests);  // nothing in the environment opens loopback
  }
  for (const char* off : {"0", "false"}) {
    env = {{"LOCUS_ALLOW_MEDIA_URLS", off}};
    ServeOptions a;
    a.allow_media_urls = true;
    ASSERT_FALSE(apply_environment(a, get).has_value()) << off;
    EXPECT_FALSE(a.allow_media_urls) << off;
  }
  env = {{"LOCUS_ALLOW_MEDIA_URLS", "yes"}};
  EXPECT_EQ(apply_environment(o, get), "LOCUS_ALLOW_MEDIA_URLS: expected 1, true, 0 or false, found 'yes'");
}

}  // namespace
}  // namespace locus::server
