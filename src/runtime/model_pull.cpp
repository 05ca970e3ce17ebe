#include "runtime/model_pull.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "runtime/blob_writer.h"
#include "runtime/manifest.h"
#include "runtime/registry_http.h"

namespace locus::runtime {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

using registry_http::one_line;
using registry_http::Transfer;

// A manifest is a few hundred bytes; anything near this is not a manifest, and is not read whole.
constexpr size_t kMaxManifestBytes = size_t{4} << 20;

StoreErrorKind store_kind_for(PullErrorKind kind) {
  switch (kind) {
    case PullErrorKind::not_found: return StoreErrorKind::not_found;
    case PullErrorKind::digest_mismatch: return StoreErrorKind::digest_mismatch;
    default: return StoreErrorKind::io;
  }
}

// Facts about one pull that every message needs; the transport's share is the registry session.
struct PullContext : registry_http::Session {
  const PullOptions& options;
  uint64_t bytes_downloaded = 0;
  Clock::time_point last_progress{};

  PullContext(const ModelName& n, const PullOptions& o)
      : registry_http::Session(registry_http::make_session(n, o.insecure, o.connect_timeout_ms, o.stall_timeout_ms,
                                                           o.user_agent, o.cancel)),
        options(o) {
    verb = "pull";
    direction = "from";
    unauthorized_hint = "; locus pulls only models the registry serves without sign-in";
    cancelled_message = "pull of '" + display + "' cancelled; pull it again to resume";
  }

  void report(PullProgress p) const {
    if (options.progress) options.progress(p);
  }
  void report_status(std::string status) const { report(PullProgress{std::move(status), {}, 0, 0}); }
  void report_blob(const ManifestLayer& l, uint64_t completed, bool force) {
    const auto now = Clock::now();
    if (!force && now - last_progress < std::chrono::milliseconds(options.progress_interval_ms)) return;
    last_progress = now;
    report(PullProgress{pull_status_for_digest(l.digest), l.digest, l.size, completed});
  }
};

// One GET. Throws PullError for transport failures and for HTTP statuses >= 300, worded for `what`
// ("manifest of 'x'", "blob sha256:... of 'x'").
void perform(PullContext& ctx, CURL* curl, Transfer& t, const std::string& url, const std::string& what,
             const std::optional<uint64_t>& range_from, std::string_view accept) {
  registry_http::Request r;
  r.url = url;
  r.what = what;
  r.range_from = range_from;
  if (!accept.empty()) r.headers.push_back("Accept: " + std::string(accept));
  registry_http::perform(ctx, curl, t, r);
}

Manifest fetch_manifest(PullContext& ctx, CURL* curl) {
  Transfer t;
  std::string body;
  t.on_body = [&](std::string_view bytes) {
    if (body.size() + bytes.size() > kMaxManifestBytes) {
      throw PullError(PullErrorKind::bad_response, "registry " + ctx.host + " sent more than " +
                                                       std::to_string(kMaxManifestBytes) + " bytes as the manifest of '" +
                                                       ctx.display + "'; that is not a manifest");
    }
    body.append(bytes);
  };
  const std::string url = registry_manifest_url(ctx.name, ctx.options.insecure);
  try {
    perform(ctx, curl, t, url, "manifest of '" + ctx.display + "'", std::nullopt, media_type::kManifest);
  } catch (const PullError&) {
    if (t.status == 404) {
      throw PullError(PullErrorKind::not_found, "model '" + ctx.display + "' not found in registry " + ctx.host);
    }
    throw;
  }
  try {
    return parse_manifest(body, "of '" + ctx.display + "' from " + ctx.host);
  } catch (const StoreError& e) {
    throw PullError(PullErrorKind::bad_response, e.what());
  }
}

// "found sha256:<hex>" from BlobWriter's mismatch message, so our message can name both hashes without
// hashing the blob a second time. runtime_pull_test checks that both appear.
std::string found_hash_in(std::string_view message) {
  constexpr std::string_view kFound = "found sha256:";
  const size_t at = message.rfind(kFound);
  if (at == std::string_view::npos) return {};
  return std::string(message.substr(at + kFound.size(), 64));
}

// Makes one blob present and verified in the locus root: already there, linked from Ollama's root, or
// downloaded (resuming a partial file) and checked.
void pull_blob(PullContext& ctx, ModelStore& store, CURL* curl, const ManifestLayer& layer) {
  const std::string what = "blob " + layer.digest + " of '" + ctx.display + "'";
  ctx.check_cancel();

  // Already in the locus root: blobs get their final name only after their digest was checked, so one of the
  // right size is the right blob.
  std::error_code ec;
  const fs::path final_path = store.blob_path(layer.digest);
  if (fs::is_regular_file(final_path, ec) && fs::file_size(final_path, ec) == layer.size && !ec) {
    ctx.report_blob(layer, layer.size, true);
    return;
  }
  // In Ollama's root: link (or copy) it over instead of downloading it again. add_blob_file hashes what it
  // reads, so a damaged Ollama blob is stored under its own digest, not this one, and we download instead.
  if (const auto found = store.find_blob(layer.digest); found && *found != final_path) {
    if (fs::file_size(*found, ec) == layer.size && !ec) {
      ctx.report_blob(layer, 0, true);
      const std::string got = store.add_blob_file(*found, true, [&](uint64_t done, uint64_t) {
        ctx.report_blob(layer, done, false);
      });
      if (got == layer.digest) {
        ctx.report_blob(layer, layer.size, true);
        return;
      }
    }
  }

  std::optional<BlobWriter> writer;
  writer.emplace(store.open_blob_writer(layer.digest, layer.size));
  ctx.report_blob(layer, writer->offset(), true);
  const std::string url = registry_blob_url(ctx.name, layer.digest, ctx.options.insecure);
  int delay_ms = ctx.options.retry_delay_ms;
  for (int attempt = 1;; ++attempt) {
    if (writer->offset() == layer.size) break;  // every byte is here (an earlier pull stopped before finishing)
    Transfer t;
    const uint64_t asked_from = writer->offset();
    t.on_start = [&](Transfer& tr) {
      uint64_t from = 0;
      if (tr.status == 206) {
        // "bytes START-END/TOTAL": the server must resume exactly where our file ends.
        const std::string& cr = tr.content_range;
        uint64_t start = 0, total = 0;
        const bool parsed = std::sscanf(cr.c_str(), "bytes %" SCNu64 "-%*[0-9]/%" SCNu64, &start, &total) == 2;
        if (!parsed || start != asked_from || total != layer.size) {
          throw PullError(PullErrorKind::bad_response,
                          "registry " + ctx.host + " resumed the " + what + " with Content-Range \"" + one_line(cr) +
                              "\", expected bytes " + std::to_string(asked_from) + "-" + std::to_string(layer.size - 1) +
                              "/" + std::to_string(layer.size));
        }
        from = start;
      } else if (asked_from > 0) {
        // The server ignored Range and sends the whole blob: start the file again rather than append it.
        writer->discard();
        writer.reset();
        writer.emplace(store.open_blob_writer(layer.digest, layer.size));
        ctx.report_blob(layer, 0, true);
      }
      // The manifest's size is the truth; a Content-Length beyond it is refused before a byte is stored.
      if (tr.content_length && from + *tr.content_length > layer.size) {
        writer->discard();
        throw PullError(PullErrorKind::bad_response, "registry " + ctx.host + " offers " +
                                                         std::to_string(from + *tr.content_length) + " bytes for the " +
                                                         what + ", the manifest says " + std::to_string(layer.size));
      }
    };
    t.on_body = [&](std::string_view bytes) {
      if (writer->offset() + bytes.size() > layer.size) {
        writer->discard();
        throw PullError(PullErrorKind::bad_response,
                        "registry " + ctx.host + " sent more than the " + std::to_string(layer.size) +
                            " bytes the manifest gives for the " + what + "; the download was deleted");
      }
      writer->append(bytes);
      ctx.bytes_downloaded += bytes.size();
      ctx.report_blob(layer, writer->offset(), false);
    };
    try {
      perform(ctx, curl, t, url, what, asked_from, {});
      break;
    } catch (const PullError& e) {
      if (t.status == 416) {
        // Our partial file is longer than what the server has, or not a prefix: start over next time.
        writer->discard();
        writer.reset();
        writer.emplace(store.open_blob_writer(layer.digest, layer.size));
      } else if (t.status == 404) {
        throw PullError(PullErrorKind::bad_response, "registry " + ctx.host + " has no " + what +
                                                         " that its manifest names (HTTP 404)");
      } else if (e.pull_kind() != PullErrorKind::network) {
        throw;
      }
      if (attempt >= ctx.options.blob_attempts) {
        if (e.pull_kind() == PullErrorKind::network && writer->offset() > 0) {
          throw PullError(PullErrorKind::network, std::string(e.what()) + "; " + std::to_string(writer->offset()) +
                                                      " of " + std::to_string(layer.size) +
                                                      " bytes kept, pull again to resume");
        }
        throw;
      }
      // Wait before the next try, in small steps so that a cancel is not held up.
      const auto until = Clock::now() + std::chrono::milliseconds(delay_ms);
      while (Clock::now() < until) {
        ctx.check_cancel();
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(delay_ms, 50)));
      }
      delay_ms *= 2;
    }
  }

  if (writer->offset() != layer.size) {
    const uint64_t got = writer->offset();
    writer->discard();
    throw PullError(PullErrorKind::bad_response, "registry " + ctx.host + " sent " + std::to_string(got) +
                                                     " bytes for the " + what + ", the manifest says " +
                                                     std::to_string(layer.size) + "; the download was deleted");
  }
  try {
    writer->finish();  // checks the sha256 computed as the bytes came in; deletes the file when it differs
  } catch (const StoreError& e) {
    if (e.kind() != StoreErrorKind::digest_mismatch) throw;
    const std::string found = found_hash_in(e.what());
    throw PullError(PullErrorKind::digest_mismatch,
                    "blob " + layer.digest + " of '" + ctx.display + "' from " + ctx.host +
                        " failed verification: expected " + layer.digest + ", found " +
                        (found.empty() ? std::string(e.what()) : "sha256:" + found) + "; the download was deleted");
  }
  ctx.report_blob(layer, layer.size, true);
}

}  // namespace

PullError::PullError(PullErrorKind kind, const std::string& message)
    : StoreError(store_kind_for(kind), message), pull_kind_(kind) {}

bool is_loopback_host(std::string_view host) {
  std::string_view h = host;
  if (!h.empty() && h.front() == '[') {
    const size_t close = h.find(']');
    if (close == std::string_view::npos) return false;
    return h.substr(1, close - 1) == "::1";
  }
  if (const size_t colon = h.find(':'); colon != std::string_view::npos) h = h.substr(0, colon);
  std::string lower;
  for (char c : h) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "localhost") return true;
  // 127.0.0.0/8, written as four decimal parts.
  if (!lower.starts_with("127.")) return false;
  int parts = 0;
  for (size_t start = 0; start <= lower.size();) {
    size_t end = lower.find('.', start);
    if (end == std::string::npos) end = lower.size();
    const std::string_view part = std::string_view(lower).substr(start, end - start);
    if (part.empty() || part.size() > 3 || !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(std::string(part)) > 255) {
      return false;
    }
    ++parts;
    start = end + 1;
  }
  return parts == 4;
}

std::string registry_scheme(const ModelName& name, bool insecure) {
  return insecure || is_loopback_host(name.host) ? "http" : "https";
}

// Parts of a ModelName hold only letters, digits, '_', '-', '.' (and ':' for a port in the host), so they go
// into the URL without escaping.
std::string registry_manifest_url(const ModelName& name, bool insecure) {
  return registry_scheme(name, insecure) + "://" + name.host + "/v2/" + name.name_space + "/" + name.model +
         "/manifests/" + name.tag;
}

std::string registry_blob_url(const ModelName& name, std::string_view digest, bool insecure) {
  return registry_scheme(name, insecure) + "://" + name.host + "/v2/" + name.name_space + "/" + name.model +
         "/blobs/" + std::string(digest);
}

std::string pull_status_for_digest(std::string_view digest) {
  const size_t colon = digest.find(':');
  const std::string_view hex = colon == std::string_view::npos ? digest : digest.substr(colon + 1);
  return "pulling " + std::string(hex.substr(0, 12));
}

PullResult pull_model(ModelStore& store, const ModelName& name, const PullOptions& options) {
  PullContext ctx(name, options);
  const registry_http::CurlHandle curl = registry_http::new_curl_handle();

  ctx.report_status("pulling manifest");
  const Manifest manifest = fetch_manifest(ctx, curl.get());
  // locus runs GGUF models; a manifest without one (a cloud-only or safetensors model) would download
  // gigabytes that can never be resolved.
  if (manifest.find_layer(media_type::kModel) == nullptr) {
    throw PullError(PullErrorKind::bad_response, "model '" + ctx.display + "' from " + ctx.host +
                                                     " has no GGUF layer (" + std::string(media_type::kModel) +
                                                     "); locus runs GGUF models only");
  }

  // Layers first, in manifest order, then the config, as Ollama shows them; a digest named twice once.
  std::vector<ManifestLayer> blobs = manifest.layers;
  blobs.push_back(manifest.config);
  std::set<std::string> seen;
  for (const auto& layer : blobs) {
    if (!seen.insert(layer.digest).second) continue;
    pull_blob(ctx, store, curl.get(), layer);
  }

  // Each blob's sha256 was checked as it was completed (BlobWriter::finish) and blobs already here were
  // checked when they were stored, so this phase does not read gigabytes again; write_manifest still checks
  // that every blob is in place with its size.
  ctx.check_cancel();
  ctx.report_status("verifying sha256 digest");
  ctx.report_status("writing manifest");
  PullResult result;
  result.name = name;
  result.manifest_digest = store.write_manifest(name, manifest);
  result.bytes_downloaded = ctx.bytes_downloaded;
  result.bytes_total = manifest.total_bytes();
  ctx.report_status("success");
  return result;
}

nlohmann::json pull_progress_json(const PullProgress& p) {
  nlohmann::json j = {{"status", p.status}};
  if (!p.digest.empty()) j["digest"] = p.digest;
  if (p.total != 0) j["total"] = p.total;
  if (p.completed != 0) j["completed"] = p.completed;
  return j;
}

PullResult pull_model_for_api(ModelStore& store, std::string_view model, bool insecure,
                              const std::function<void(const nlohmann::json& line)>& on_line,
                              const std::atomic<bool>* cancel) {
  const ModelName name = parse_model_name(model);
  PullOptions options;
  options.insecure = insecure;
  options.cancel = cancel;
  // Half a second between a blob's lines keeps a multi-gigabyte pull to a few thousand lines.
  options.progress_interval_ms = 500;
  options.progress = [&](const PullProgress& p) {
    if (on_line) on_line(pull_progress_json(p));
  };
  return pull_model(store, name, options);
}

}  // namespace locus::runtime
