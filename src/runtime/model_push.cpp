#include "runtime/model_push.h"

#include <curl/curl.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>

#include "runtime/manifest.h"
#include "runtime/registry_http.h"
#include "runtime/sha256.h"

namespace locus::runtime {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

using registry_http::Request;
using registry_http::Transfer;

// A manifest is a few hundred bytes; a file near this size is not one.
constexpr uint64_t kMaxManifestBytes = uint64_t{4} << 20;

struct PushContext : registry_http::Session {
  const PushOptions& options;
  uint64_t bytes_uploaded = 0;
  uint64_t bytes_skipped = 0;
  Clock::time_point last_progress{};

  PushContext(const ModelName& n, const PushOptions& o)
      : registry_http::Session(registry_http::make_session(n, o.insecure, o.connect_timeout_ms, o.stall_timeout_ms,
                                                           o.user_agent, o.cancel)),
        options(o) {
    verb = "push";
    direction = "to";
    unauthorized_hint = "; unauthorized: the registry wants credentials locus does not have (locus pushes only to "
                        "registries that accept uploads without sign-in)";
    cancelled_message = "push of '" + display + "' cancelled";
  }

  void report(PushProgress p) const {
    if (options.progress) options.progress(p);
  }
  void report_status(std::string status) const { report(PushProgress{std::move(status), {}, 0, 0}); }
  void report_blob(const ManifestLayer& l, uint64_t completed, bool force) {
    const auto now = Clock::now();
    if (!force && now - last_progress < std::chrono::milliseconds(options.progress_interval_ms)) return;
    last_progress = now;
    report(PushProgress{push_status_for_digest(l.digest), l.digest, l.size, completed});
  }
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

// The URL to PUT a blob to: the registry's Location resolved against the POST's URL (it may be absolute, or a
// path, or relative), with digest=<digest> added to whatever query it already has.
std::string upload_put_url(const PushContext& ctx, const std::string& post_url, const std::string& location,
                           const std::string& digest, const std::string& what) {
  std::unique_ptr<CURLU, CurlUrlDeleter> u(curl_url());
  if (!u) throw PullError(PullErrorKind::network, "out of memory resolving the upload address of the " + what);
  const std::string query = "digest=" + digest;
  if (curl_url_set(u.get(), CURLUPART_URL, post_url.c_str(), 0) != CURLUE_OK ||
      curl_url_set(u.get(), CURLUPART_URL, location.c_str(), 0) != CURLUE_OK ||
      curl_url_set(u.get(), CURLUPART_QUERY, query.c_str(), CURLU_APPENDQUERY) != CURLUE_OK) {
    throw PullError(PullErrorKind::bad_response, "registry " + ctx.host + " gave \"" + registry_http::one_line(location) +
                                                     "\" as the upload address of the " + what + "; that is not a URL");
  }
  char* text = nullptr;
  if (curl_url_get(u.get(), CURLUPART_URL, &text, 0) != CURLUE_OK || text == nullptr) {
    throw PullError(PullErrorKind::bad_response, "registry " + ctx.host + " gave \"" + registry_http::one_line(location) +
                                                     "\" as the upload address of the " + what + "; that is not a URL");
  }
  std::string out(text);
  curl_free(text);
  return out;
}

std::string uploads_url(const PushContext& ctx) {
  return registry_scheme(ctx.name, ctx.options.insecure) + "://" + ctx.name.host + "/v2/" + ctx.name.name_space + "/" +
         ctx.name.model + "/blobs/uploads/";
}

// Makes one blob present in the registry: already there (HEAD 200), or uploaded in one PUT.
void push_blob(PushContext& ctx, const ModelStore& store, CURL* curl, const ManifestLayer& layer) {
  const std::string what = "blob " + layer.digest + " of '" + ctx.display + "'";
  ctx.check_cancel();
  const auto path = store.find_blob(layer.digest);
  std::error_code ec;
  if (!path || fs::file_size(*path, ec) != layer.size || ec) {
    throw StoreError(StoreErrorKind::corrupt, "model '" + ctx.display + "': " + what + " (" + std::to_string(layer.size) +
                                                  " bytes) is not in the store; pull or create the model again");
  }
  ctx.report_blob(layer, 0, true);

  {
    Transfer head;
    Request r;
    r.method = "HEAD";
    r.url = registry_blob_url(ctx.name, layer.digest, ctx.options.insecure);
    r.what = what;
    try {
      registry_http::perform(ctx, curl, head, r);
    } catch (const PullError&) {
      if (head.status != 404) throw;
    }
    if (head.status == 200) {
      ctx.bytes_skipped += layer.size;
      ctx.report_blob(layer, layer.size, true);
      return;
    }
  }

  // An empty blob sends no bytes to hash on the way, so it is checked here.
  if (layer.size == 0 && "sha256:" + sha256_hex("") != layer.digest) {
    throw PullError(PullErrorKind::digest_mismatch, "model '" + ctx.display + "': " + what +
                                                        " is empty in the store, which is not its digest; nothing was pushed");
  }

  Transfer post;
  Request start;
  start.method = "POST";
  start.url = uploads_url(ctx);
  start.what = "upload of the " + what;
  start.follow_redirects = false;
  registry_http::perform(ctx, curl, post, start);
  if (post.status != 202 || post.location.empty()) {
    throw PullError(PullErrorKind::bad_response,
                    "registry " + ctx.host + " answered the upload request for the " + what + " with HTTP " +
                        std::to_string(post.status) + (post.location.empty() ? " and no Location header" : "") +
                        ", expected 202 with a Location (" + start.url + ")");
  }

  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path->c_str(), "rb"));
  if (!file) {
    throw StoreError(StoreErrorKind::io, "model '" + ctx.display + "': cannot read " + path->string() + " for the " + what);
  }
  Sha256 hasher;
  uint64_t sent = 0;
  Transfer put;
  put.on_upload = [&](std::string_view bytes) {
    hasher.update(bytes);
    sent += bytes.size();
    if (sent == layer.size) {
      // The last bytes are not handed over before the digest is checked, so the registry never receives a
      // complete blob under a digest its bytes do not have.
      const std::string found = "sha256:" + hasher.finish_hex();
      if (found != layer.digest) {
        throw PullError(PullErrorKind::digest_mismatch,
                        "model '" + ctx.display + "': " + path->string() + " failed verification: expected " +
                            layer.digest + ", found " + found + "; the upload was stopped before its end");
      }
    }
    ctx.report_blob(layer, sent, false);
  };
  Request r;
  r.method = "PUT";
  r.url = upload_put_url(ctx, start.url, post.location, layer.digest, what);
  r.what = what;
  r.url_from_registry = true;
  r.follow_redirects = false;
  r.headers = {"Content-Type: application/octet-stream"};
  r.upload_file = file.get();
  r.upload_size = layer.size;
  registry_http::perform(ctx, curl, put, r);
  if (put.status != 200 && put.status != 201 && put.status != 202 && put.status != 204) {
    throw PullError(PullErrorKind::bad_response, "registry " + ctx.host + " answered the upload of the " + what +
                                                     " with HTTP " + std::to_string(put.status) + ", expected 201");
  }
  ctx.bytes_uploaded += layer.size;
  ctx.report_blob(layer, layer.size, true);
}

std::string read_manifest_bytes(const fs::path& path, const std::string& display) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (ec || !in || size > kMaxManifestBytes) {
    throw StoreError(StoreErrorKind::io, "model '" + display + "': cannot read its manifest " + path.string());
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

std::string push_status_for_digest(std::string_view digest) {
  const size_t colon = digest.find(':');
  const std::string_view hex = colon == std::string_view::npos ? digest : digest.substr(colon + 1);
  return "pushing " + std::string(hex.substr(0, 12));
}

PushResult push_model(const ModelStore& store, const ModelName& name, const PushOptions& options) {
  PushContext ctx(name, options);
  ctx.report_status("retrieving manifest");
  ResolvedModel model;
  try {
    model = store.resolve(name);
  } catch (const StoreError& e) {
    if (e.kind() != StoreErrorKind::not_found) throw;
    throw PullError(PullErrorKind::not_found, std::string(e.what()) + "; nothing to push");
  }
  // The bytes exactly as stored go to the registry, so its digest of the manifest is the store's.
  const std::string bytes = read_manifest_bytes(model.manifest_path, ctx.display);
  const Manifest manifest = parse_manifest(bytes, model.manifest_path.string());

  const registry_http::CurlHandle curl = registry_http::new_curl_handle();
  // Layers first, in manifest order, then the config, as Ollama shows them; a digest named twice once.
  std::vector<ManifestLayer> blobs = manifest.layers;
  blobs.push_back(manifest.config);
  std::set<std::string> seen;
  for (const auto& layer : blobs) {
    if (!seen.insert(layer.digest).second) continue;
    push_blob(ctx, store, curl.get(), layer);
  }

  ctx.check_cancel();
  ctx.report_status("pushing manifest");
  Transfer t;
  Request r;
  r.method = "PUT";
  r.url = registry_manifest_url(name, options.insecure);
  r.what = "manifest of '" + ctx.display + "'";
  r.follow_redirects = false;
  r.headers = {"Content-Type: " + std::string(media_type::kManifest)};
  r.body = bytes;
  registry_http::perform(ctx, curl.get(), t, r);

  PushResult result;
  result.name = name;
  result.manifest_digest = sha256_hex(bytes);
  result.bytes_uploaded = ctx.bytes_uploaded;
  result.bytes_skipped = ctx.bytes_skipped;
  result.bytes_total = manifest.total_bytes();
  ctx.report_status("success");
  return result;
}

PushResult push_model_for_api(const ModelStore& store, std::string_view model, bool insecure,
                              const std::function<void(const nlohmann::json& line)>& on_line,
                              const std::atomic<bool>* cancel) {
  const ModelName name = parse_model_name(model);
  PushOptions options;
  options.insecure = insecure;
  options.cancel = cancel;
  // Half a second between a blob's lines keeps a multi-gigabyte push to a few thousand lines.
  options.progress_interval_ms = 500;
  options.progress = [&](const PushProgress& p) {
    if (on_line) on_line(pull_progress_json(p));
  };
  return push_model(store, name, options);
}

}  // namespace locus::runtime
