#include "server/media_fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <mutex>

namespace locus::server {

namespace {

constexpr size_t kMaxUrlShown = 100;

std::string shown_url(const std::string& url) {
  std::string s;
  for (size_t i = 0; i < url.size() && i < kMaxUrlShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(url[i]);
    s += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
  }
  return url.size() > kMaxUrlShown ? s + "..." : s;
}

// RFC 6890's special-purpose IPv4 blocks that a media URL must not reach; nullptr for a public address.
const char* ipv4_refusal(uint32_t a, bool allow_loopback) {
  auto in = [&](uint32_t net, int bits) { return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits)); };
  if (in(0x7F000000, 8)) return allow_loopback ? nullptr : "a loopback address";
  if (in(0x00000000, 8)) return "an unspecified address";
  if (in(0x0A000000, 8) || in(0xAC100000, 12) || in(0xC0A80000, 16)) return "a private address";
  if (in(0x64400000, 10)) return "a shared (carrier-grade NAT) address";
  if (in(0xA9FE0000, 16)) return "a link-local address";
  if (in(0xE0000000, 4)) return "a multicast address";
  if (in(0xF0000000, 4) || in(0xC0000000, 24) || in(0xC0000200, 24) || in(0xC0586300, 24) || in(0xC6120000, 15) ||
      in(0xC6336400, 24) || in(0xCB007100, 24)) {
    return "a reserved address";
  }
  return nullptr;
}

uint32_t v4_at(const uint8_t* b) {
  return static_cast<uint32_t>(b[0]) << 24 | static_cast<uint32_t>(b[1]) << 16 | static_cast<uint32_t>(b[2]) << 8 | b[3];
}

// Only global unicast (2000::/3) outside its special blocks; IPv4 embedded in IPv6 is judged as IPv4.
const char* ipv6_refusal(const uint8_t* b, bool allow_loopback) {
  auto zeros = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      if (b[i] != 0) return false;
    }
    return true;
  };
  if (zeros(0, 15) && b[15] == 1) return allow_loopback ? nullptr : "a loopback address";
  if (zeros(0, 16)) return "an unspecified address";
  if (zeros(0, 10) && b[10] == 0xFF && b[11] == 0xFF) return ipv4_refusal(v4_at(b + 12), allow_loopback);  // v4-mapped
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B) {  // NAT64: 64:ff9b::/96 and 64:ff9b:1::/48
    return zeros(4, 12) ? ipv4_refusal(v4_at(b + 12), false) : "a private address";
  }
  if (b[0] == 0x20 && b[1] == 0x02) return ipv4_refusal(v4_at(b + 2), false);  // 6to4
  if ((b[0] & 0xFE) == 0xFC) return "a private address";                       // unique local fc00::/7
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return "a link-local address";    // fe80::/10
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return "a private address";       // site-local fec0::/10
  if (b[0] == 0xFF) return "a multicast address";
  if ((b[0] & 0xE0) != 0x20) return "a reserved address";                      // outside 2000::/3
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) return "a reserved address";  // Teredo
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8) return "a reserved address";  // documentation
  return nullptr;
}

struct Transfer {
  const MediaFetchOptions* options = nullptr;
  std::string bytes;
  std::string refused;  // why a connection was refused (the socket callback's verdict)
  bool too_large = false;
};

curl_socket_t open_checked_socket(void* clientp, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(clientp);
  std::string why;
  if (purpose != CURLSOCKTYPE_IPCXN ||
      !media_address_allowed(&address->addr, t->options->allow_loopback_for_tests, &why)) {
    char text[INET6_ADDRSTRLEN] = "?";
    if (address->family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&address->addr)->sin_addr, text, sizeof text);
    } else if (address->family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&address->addr)->sin6_addr, text, sizeof text);
    }
    if (t->refused.empty()) {
      t->refused = std::string("its host is at ") + text + ", " + (why.empty() ? "not a plain connection" : why) +
                   " (media is fetched only from public addresses)";
    }
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype, address->protocol);
}

size_t on_data(char* data, size_t size, size_t n, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  const size_t len = size * n;
  if (t->bytes.size() + len > t->options->max_bytes) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->bytes.append(data, len);
  return len;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

bool media_address_allowed(const sockaddr* address, bool allow_loopback, std::string* why) {
  const char* refusal = "an address that is neither IPv4 nor IPv6";
  if (address->sa_family == AF_INET) {
    refusal = ipv4_refusal(ntohl(reinterpret_cast<const sockaddr_in*>(address)->sin_addr.s_addr), allow_loopback);
  } else if (address->sa_family == AF_INET6) {
    refusal = ipv6_refusal(reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr.s6_addr, allow_loopback);
  }
  if (refusal != nullptr && why != nullptr) *why = refusal;
  return refusal == nullptr;
}

MediaFetchResult fetch_media_url(const std::string& url, const MediaFetchOptions& options) {
  MediaFetchResult r;
  const std::string shown = shown_url(url);
  auto fail = [&](const std::string& why) {
    r.bytes.clear();
    r.error = "could not fetch " + shown + ": " + why;
    return r;
  };
  global_init();

  // The URL's parts as libcurl reads them, so that what is checked is what would be fetched.
  CURLU* parsed = curl_url();
  if (parsed == nullptr) return fail("out of memory");
  const CURLUcode uc = curl_url_set(parsed, CURLUPART_URL, url.c_str(), 0);
  char* scheme = nullptr;
  char* user = nullptr;
  if (uc == CURLUE_OK) {
    curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(parsed, CURLUPART_USER, &user, 0);
  }
  const std::string scheme_text = scheme != nullptr ? scheme : "";
  const bool has_user = user != nullptr;
  curl_free(scheme);
  curl_free(user);
  curl_url_cleanup(parsed);
  if (uc != CURLUE_OK) return fail(std::string("not a valid URL (") + curl_url_strerror(uc) + ")");
  if (scheme_text != "http" && scheme_text != "https") return fail("only http and https URLs are fetched");
  if (has_user) return fail("URLs with credentials (user@host) are not fetched");

  CURL* curl = curl_easy_init();
  if (curl == nullptr) return fail("out of memory");
  Transfer t;
  t.options = &options;
  char error_text[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");  // no proxy, whatever the environment says
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_bytes));
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_checked_socket);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "locus");
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  char* type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
  if (type != nullptr) {
    std::string_view v(type);
    v = v.substr(0, v.find(';'));
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    for (unsigned char c : v) r.content_type += static_cast<char>(std::tolower(c));
  }
  curl_easy_cleanup(curl);

  if (!t.refused.empty()) return fail(t.refused);
  const std::string limit = std::to_string(options.max_bytes) + " bytes (LOCUS_MAX_REQUEST_BYTES)";
  if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED) return fail("the media is larger than the limit of " + limit);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return fail("no complete answer within " + std::to_string(options.timeout.count()) + " ms");
  }
  if (rc != CURLE_OK) {
    std::string why = error_text[0] != '\0' ? error_text : curl_easy_strerror(rc);
    for (char& c : why) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    return fail(why);
  }
  if (status >= 300 && status < 400) return fail("the server answered HTTP " + std::to_string(status) + " (redirects are not followed)");
  if (status != 200) return fail("the server answered HTTP " + std::to_string(status));
  if (t.bytes.empty()) return fail("the answer is empty");
  r.bytes = std::move(t.bytes);
  return r;
}

}  // namespace locus::server
