// push_model against a registry that the test serves on loopback (cpp-httplib) and that records every upload:
// each blob arrives once with its bytes under its digest and the manifest byte for byte; a second push only
// asks (HEAD) and uploads nothing; the pushed model pulls back into a fresh store identical; relative and
// absolute upload Locations (with and without a query of their own); a model from Ollama's read-only root;
// 401, a failing PUT, a damaged store blob, an unknown model and a cancel as errors without "success".
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/model_pull.h"
#include "runtime/model_push.h"
#include "runtime/store_test_files.h"

namespace locus::runtime {
namespace {
namespace fs = std::filesystem;
using testing::contains;
using testing::read_all;
using testing::write_text;

fs::path write_tiny_gguf(const fs::path& dir, uint8_t seed) {
  testing::write_tiny_gguf(dir / "tiny.gguf", seed);
  return dir / "tiny.gguf";
}

// A registry on 127.0.0.1 that takes uploads (HEAD, POST uploads/, PUT Location?digest=, PUT manifests) and
// serves what it holds back for pulls (GET manifests and blobs).
class UploadRegistry {
 public:
  enum class LocationStyle { relative_with_query, absolute };
  struct Request {
    std::string method;
    std::string path;
    std::string query_digest;  // the PUT's digest parameter
    std::string query_state;   // the PUT's _state parameter (kept from a Location with a query)
    std::string content_type;
    std::string content_length;
  };

  UploadRegistry() {
    const auto refused = [](httplib::Response& res) {
      res.status = 401;
      res.set_content(R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})", "application/json");
    };
    server_.Get(R"(/v2/([^/]+)/([^/]+)/blobs/(sha256:[0-9a-f]+))", [this, refused](const httplib::Request& req, httplib::Response& res) {
      record(req);
      if (req.matches[2].str() == "private") return refused(res);
      std::lock_guard lock(mu_);
      const auto it = blobs_.find(req.matches[3].str());
      if (it == blobs_.end()) {
        res.status = 404;
        return;
      }
      res.set_content(it->second, "application/octet-stream");  // httplib leaves the body out for HEAD
    });
    server_.Post(R"(/v2/([^/]+)/([^/]+)/blobs/uploads/)", [this, refused](const httplib::Request& req, httplib::Response& res) {
      record(req);
      if (req.matches[2].str() == "private") return refused(res);
      std::lock_guard lock(mu_);
      const std::string id = "u" + std::to_string(++uploads_started_);
      res.status = 202;
      if (style_ == LocationStyle::absolute) {
        res.set_header("Location", "http://" + host() + "/upload/" + id);
      } else {
        res.set_header("Location", "/v2/" + req.matches[1].str() + "/" + req.matches[2].str() + "/blobs/uploads/" + id +
                                       "?_state=s-" + id);
      }
    });
    const auto put_blob = [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      std::lock_guard lock(mu_);
      if (fail_put_) {
        res.status = 500;
        res.set_content(R"({"errors":[{"code":"UNKNOWN","message":"storage is down"}]})", "application/json");
        return;
      }
      const std::string digest = req.get_param_value("digest");
      if ("sha256:" + sha256_hex(req.body) != digest) {
        res.status = 400;
        res.set_content(R"({"errors":[{"code":"DIGEST_INVALID","message":"digest does not match"}]})", "application/json");
        return;
      }
      blobs_[digest] = req.body;
      ++blob_puts_;
      res.status = 201;
    };
    server_.Put(R"(/v2/([^/]+)/([^/]+)/blobs/uploads/([^/]+))", put_blob);
    server_.Put(R"(/upload/([^/]+))", put_blob);
    server_.Put(R"(/v2/([^/]+)/([^/]+)/manifests/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      std::lock_guard lock(mu_);
      manifests_[req.matches[1].str() + "/" + req.matches[2].str() + ":" + req.matches[3].str()] = req.body;
      res.status = 201;
    });
    server_.Get(R"(/v2/([^/]+)/([^/]+)/manifests/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      std::lock_guard lock(mu_);
      const auto it = manifests_.find(req.matches[1].str() + "/" + req.matches[2].str() + ":" + req.matches[3].str());
      if (it == manifests_.end()) {
        res.status = 404;
        return;
      }
      res.set_content(it->second, "application/vnd.docker.distribution.manifest.v2+json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~UploadRegistry() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  void set_location_style(LocationStyle s) {
    std::lock_guard lock(mu_);
    style_ = s;
  }
  void set_fail_put(bool on) {
    std::lock_guard lock(mu_);
    fail_put_ = on;
  }
  std::map<std::string, std::string> blobs() const {
    std::lock_guard lock(mu_);
    return blobs_;
  }
  std::map<std::string, std::string> manifests() const {
    std::lock_guard lock(mu_);
    return manifests_;
  }
  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t count(const std::string& method, const std::string& path_part) const {
    size_t n = 0;
    for (const auto& r : requests()) n += r.method == method && contains(r.path, path_part) ? 1 : 0;
    return n;
  }
  int blob_puts() const {
    std::lock_guard lock(mu_);
    return blob_puts_;
  }

 private:
  void record(const httplib::Request& req) {
    std::lock_guard lock(mu_);
    requests_.push_back({req.method, req.path, req.get_param_value("digest"), req.get_param_value("_state"),
                         req.get_header_value("Content-Type"), req.get_header_value("Content-Length")});
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  LocationStyle style_ = LocationStyle::relative_with_query;
  bool fail_put_ = false;
  int uploads_started_ = 0;
  int blob_puts_ = 0;
  std::map<std::string, std::string> blobs_;
  std::map<std::string, std::string> manifests_;
  std::vector<Request> requests_;
};

PullError push_error_of(const std::function<void()>& f) {
  return testing::error_of<PullError>(f, PullError(PullErrorKind::bad_response, "(no error)"));
}

class PushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / (std::string("model_push_test_") + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    gguf_path_ = write_tiny_gguf(dir_ / "src", 11);
  }
  void TearDown() override { fs::remove_all(dir_); }

  ModelName name(const std::string& model = "tiny") const {
    return parse_model_name(registry_.host() + "/library/" + model + ":latest");
  }
  // A model with a GGUF, a template and a config in a store rooted at `root`.
  ResolvedModel import_into(const fs::path& root, const ModelName& n) const {
    ModelStore s(StoreRoots{root, std::nullopt});
    ImportOptions o;
    o.template_text = "{{ .Prompt }}";
    o.allow_hard_link = false;
    return s.import_gguf(n, gguf_path_, o);
  }
  ModelStore store() const { return ModelStore(StoreRoots{dir_ / "locus", std::nullopt}); }
  PushOptions quick_options(std::vector<PushProgress>* lines = nullptr) const {
    PushOptions o;
    o.progress_interval_ms = 0;
    o.connect_timeout_ms = 5000;
    o.stall_timeout_ms = 5000;
    if (lines != nullptr) o.progress = [lines](const PushProgress& p) { lines->push_back(p); };
    return o;
  }
  static std::vector<ManifestLayer> blobs_of(const Manifest& m) {
    std::vector<ManifestLayer> all = m.layers;
    all.push_back(m.config);
    return all;
  }
  static bool said_success(const std::vector<PushProgress>& lines) {
    for (const auto& p : lines) {
      if (p.status == "success") return true;
    }
    return false;
  }

  UploadRegistry registry_;
  fs::path dir_;
  fs::path gguf_path_;
};

TEST_F(PushTest, EveryBlobArrivesUnderItsDigestAndTheManifestByteForByte) {
  const ResolvedModel m = import_into(dir_ / "locus", name());
  auto s = store();
  std::vector<PushProgress> lines;
  const PushResult r = push_model(s, name(), quick_options(&lines));

  const auto blobs = registry_.blobs();
  const auto all = blobs_of(m.manifest);
  ASSERT_EQ(all.size(), 3u);  // GGUF, template, config
  EXPECT_EQ(blobs.size(), all.size());
  for (const auto& l : all) {
    ASSERT_TRUE(blobs.count(l.digest)) << l.digest;
    EXPECT_EQ(blobs.at(l.digest), read_all(*s.find_blob(l.digest))) << l.media_type;
  }
  EXPECT_EQ(registry_.blob_puts(), 3);
  const auto manifests = registry_.manifests();
  ASSERT_TRUE(manifests.count("library/tiny:latest"));
  EXPECT_EQ(manifests.at("library/tiny:latest"), read_all(m.manifest_path));
  EXPECT_EQ(r.manifest_digest, m.digest);
  EXPECT_EQ(r.bytes_uploaded, m.manifest.total_bytes());
  EXPECT_EQ(r.bytes_skipped, 0u);

  // The wire: every blob PUT to the relative Location, its _state kept and digest added, as octet-stream with
  // its length; the manifest with the manifest media type.
  size_t blob_puts = 0;
  for (const auto& q : registry_.requests()) {
    if (q.method == "PUT" && contains(q.path, "/blobs/uploads/")) {
      ++blob_puts;
      EXPECT_FALSE(q.query_state.empty()) << q.path;
      EXPECT_EQ(q.content_type, "application/octet-stream");
      EXPECT_EQ(q.content_length, std::to_string(blobs.at(q.query_digest).size()));
    } else if (q.method == "PUT") {
      EXPECT_EQ(q.path, "/v2/library/tiny/manifests/latest");
      EXPECT_EQ(q.content_type, "application/vnd.docker.distribution.manifest.v2+json");
    }
  }
  EXPECT_EQ(blob_puts, 3u);
  EXPECT_EQ(registry_.count("HEAD", "/blobs/sha256:"), 3u);
  EXPECT_EQ(registry_.count("POST", "/blobs/uploads/"), 3u);

  // Ollama's phases: retrieving manifest, per blob (layers, then config) pushing <12 hex> up to its total,
  // pushing manifest, success.
  ASSERT_GE(lines.size(), 5u);
  EXPECT_EQ(lines.front().status, "retrieving manifest");
  EXPECT_EQ(lines[lines.size() - 2].status, "pushing manifest");
  EXPECT_EQ(lines.back().status, "success");
  size_t next = 0;
  for (size_t i = 1; i + 2 < lines.size(); ++i) {
    const PushProgress& p = lines[i];
    if (p.digest != all[next].digest) {
      ASSERT_EQ(lines[i - 1].completed, all[next].size);
      ++next;
    }
    ASSERT_LT(next, all.size());
    EXPECT_EQ(p.digest, all[next].digest);
    EXPECT_EQ(p.status, "pushing " + all[next].digest.substr(7, 12));
    EXPECT_EQ(p.total, all[next].size);
  }
  EXPECT_EQ(next, all.size() - 1);
  EXPECT_EQ(lines[lines.size() - 3].completed, all.back().size);
}

TEST_F(PushTest, SecondPushAsksAndUploadsNothing) {
  const ResolvedModel m = import_into(dir_ / "locus", name());
  auto s = store();
  push_model(s, name(), quick_options());
  const size_t posts = registry_.count("POST", "/blobs/uploads/");
  std::vector<PushProgress> lines;
  const PushResult r = push_model(s, name(), quick_options(&lines));
  EXPECT_EQ(registry_.count("POST", "/blobs/uploads/"), posts);
  EXPECT_EQ(registry_.blob_puts(), 3);
  EXPECT_EQ(registry_.count("HEAD", "/blobs/sha256:"), 6u);
  EXPECT_EQ(registry_.count("PUT", "/manifests/latest"), 2u);
  EXPECT_EQ(r.bytes_uploaded, 0u);
  EXPECT_EQ(r.bytes_skipped, m.manifest.total_bytes());
  // Each skipped blob still ends complete, as Ollama reports one the registry has.
  for (const auto& l : blobs_of(m.manifest)) {
    bool complete = false;
    for (const auto& p : lines) complete |= p.digest == l.digest && p.completed == l.size;
    EXPECT_TRUE(complete) << l.digest;
  }
  EXPECT_EQ(lines.back().status, "success");
}

TEST_F(PushTest, PushedModelPullsBackIntoAFreshStoreIdentical) {
  const ResolvedModel m = import_into(dir_ / "locus", name());
  auto s = store();
  push_model(s, name(), quick_options());

  ModelStore fresh(StoreRoots{dir_ / "fresh", std::nullopt});
  PullOptions po;
  po.blob_attempts = 1;
  po.connect_timeout_ms = 5000;
  const PullResult pulled = pull_model(fresh, name(), po);
  EXPECT_EQ(pulled.manifest_digest, m.digest);
  const ResolvedModel back = fresh.resolve(name());
  EXPECT_EQ(back.digest, m.digest);
  EXPECT_EQ(read_all(back.manifest_path), read_all(m.manifest_path));
  EXPECT_EQ(read_all(back.model_path), read_all(gguf_path_));
  ASSERT_TRUE(back.template_text.has_value());
  EXPECT_EQ(*back.template_text, "{{ .Prompt }}");
}

// A model with a projector layer: the projector blob goes up under its digest, the manifest names it, and the
// model pulled back into a fresh store resolves with the same projector, usable.
TEST_F(PushTest, AProjectorLayerIsPushedAndPullsBackUsable) {
  const fs::path proj = dir_ / "src" / "mmproj.gguf";
  testing::write_projector_gguf(proj);
  ModelStore s = store();
  ImportOptions o;
  o.projector_path = proj;
  o.allow_hard_link = false;
  const ResolvedModel m = s.import_gguf(name("vision"), gguf_path_, o);
  const ManifestLayer* layer = m.manifest.find_layer(media_type::kProjector);
  ASSERT_NE(layer, nullptr);
  push_model(s, name("vision"), quick_options());
  const auto blobs = registry_.blobs();
  ASSERT_TRUE(blobs.count(layer->digest));
  EXPECT_EQ(blobs.at(layer->digest), read_all(proj));
  EXPECT_EQ(registry_.blob_puts(), 3);  // GGUF, projector, config
  EXPECT_EQ(registry_.manifests().at("library/vision:latest"), read_all(m.manifest_path));

  ModelStore fresh(StoreRoots{dir_ / "fresh", std::nullopt});
  PullOptions po;
  po.blob_attempts = 1;
  po.connect_timeout_ms = 5000;
  pull_model(fresh, name("vision"), po);
  const ResolvedModel back = fresh.resolve(name("vision"));
  ASSERT_TRUE(back.projector) << back.projector_note;
  EXPECT_EQ(read_all(*back.projector_path), read_all(proj));
  EXPECT_TRUE(back.projector->has_vision && back.projector->has_audio);
}

TEST_F(PushTest, AbsoluteUploadLocationsAreUsedAsGiven) {
  registry_.set_location_style(UploadRegistry::LocationStyle::absolute);
  const ResolvedModel m = import_into(dir_ / "locus", name());
  push_model(store(), name(), quick_options());
  EXPECT_EQ(registry_.count("PUT", "/upload/u"), 3u);
  for (const auto& q : registry_.requests()) {
    if (q.method == "PUT" && contains(q.path, "/upload/")) {
      EXPECT_TRUE(is_valid_digest(q.query_digest)) << q.query_digest;
    }
  }
  EXPECT_EQ(registry_.blobs().size(), 3u);
  EXPECT_EQ(registry_.manifests().at("library/tiny:latest"), read_all(m.manifest_path));
}

TEST_F(PushTest, ModelFromOllamasReadOnlyRootPushesWithoutWritingAnything) {
  const ResolvedModel m = import_into(dir_ / "ollama", name());
  ModelStore s(StoreRoots{dir_ / "locus", dir_ / "ollama"});
  push_model(s, name(), quick_options());
  EXPECT_EQ(registry_.manifests().at("library/tiny:latest"), read_all(m.manifest_path));
  EXPECT_EQ(registry_.blobs().size(), 3u);
  EXPECT_FALSE(fs::exists(dir_ / "locus"));
}

TEST_F(PushTest, UnauthorizedRegistrySaysCredentialsAreWanted) {
  import_into(dir_ / "locus", name("private"));
  std::vector<PushProgress> lines;
  const PullError e = push_error_of([&] { push_model(store(), name("private"), quick_options(&lines)); });
  EXPECT_EQ(e.pull_kind(), PullErrorKind::unauthorized) << e.what();
  EXPECT_TRUE(contains(e.what(), "HTTP 401")) << e.what();
  EXPECT_TRUE(contains(e.what(), "unauthorized: the registry wants credentials locus does not have")) << e.what();
  EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  EXPECT_FALSE(said_success(lines));
  EXPECT_TRUE(registry_.manifests().empty());
}

TEST_F(PushTest, FailingBlobPutIsAnErrorAndNoManifestIsSent) {
  import_into(dir_ / "locus", name());
  registry_.set_fail_put(true);
  std::vector<PushProgress> lines;
  const PullError e = push_error_of([&] { push_model(store(), name(), quick_options(&lines)); });
  EXPECT_EQ(e.pull_kind(), PullErrorKind::network) << e.what();
  EXPECT_TRUE(contains(e.what(), "HTTP 500")) << e.what();
  EXPECT_TRUE(contains(e.what(), "storage is down")) << e.what();
  EXPECT_FALSE(said_success(lines));
  EXPECT_EQ(registry_.count("PUT", "/manifests/"), 0u);
  EXPECT_TRUE(registry_.manifests().empty());
}

TEST_F(PushTest, DamagedStoreBlobIsStoppedBeforeItsLastByte) {
  const ResolvedModel m = import_into(dir_ / "locus", name());
  std::string bytes = read_all(m.model_path);
  bytes[bytes.size() / 2] ^= 0x5a;
  write_text(m.model_path, bytes);  // same size, other bytes: the store's size check cannot see it
  std::vector<PushProgress> lines;
  const PullError e = push_error_of([&] { push_model(store(), name(), quick_options(&lines)); });
  EXPECT_EQ(e.pull_kind(), PullErrorKind::digest_mismatch) << e.what();
  EXPECT_TRUE(contains(e.what(), "expected " + m.manifest.layers[0].digest)) << e.what();
  EXPECT_TRUE(contains(e.what(), "found sha256:" + sha256_hex(bytes))) << e.what();
  EXPECT_FALSE(said_success(lines));
  EXPECT_EQ(registry_.blobs().count(m.manifest.layers[0].digest), 0u);
  EXPECT_TRUE(registry_.manifests().empty());
}

TEST_F(PushTest, UnknownModelIsNotFoundBeforeAnyRequest) {
  const PullError e = push_error_of([&] { push_model(store(), name("missing"), quick_options()); });
  EXPECT_EQ(e.pull_kind(), PullErrorKind::not_found) << e.what();
  EXPECT_EQ(e.kind(), StoreErrorKind::not_found);
  EXPECT_TRUE(contains(e.what(), name("missing").display())) << e.what();
  EXPECT_TRUE(registry_.requests().empty());
}

TEST_F(PushTest, CancelStopsThePushWithoutSuccess) {
  import_into(dir_ / "locus", name());
  std::atomic<bool> cancel{false};
  std::vector<PushProgress> lines;
  PushOptions o = quick_options(&lines);
  o.cancel = &cancel;
  o.progress = [&](const PushProgress& p) {
    lines.push_back(p);
    if (!p.digest.empty()) cancel = true;
  };
  const PullError e = push_error_of([&] { push_model(store(), name(), o); });
  EXPECT_EQ(e.pull_kind(), PullErrorKind::cancelled) << e.what();
  EXPECT_FALSE(said_success(lines));
  EXPECT_TRUE(registry_.manifests().empty());
}

TEST_F(PushTest, ApiEntryPointStreamsOllamaShapedLines) {
  const ResolvedModel m = import_into(dir_ / "locus", name());
  std::vector<nlohmann::json> lines;
  push_model_for_api(store(), name().display(), false, [&](const nlohmann::json& j) { lines.push_back(j); });
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), nlohmann::json({{"status", "retrieving manifest"}}));
  EXPECT_EQ(lines.back(), nlohmann::json({{"status", "success"}}));
  const std::string& d = m.manifest.layers[0].digest;
  bool saw_blob = false;
  for (const auto& j : lines) {
    saw_blob |= j.value("digest", "") == d && j.value("completed", uint64_t{0}) == m.manifest.layers[0].size &&
                j.value("status", "") == "pushing " + d.substr(7, 12);
  }
  EXPECT_TRUE(saw_blob);
  const StoreError bad = [&] {
    try {
      push_model_for_api(store(), "no//such", false, {});
    } catch (const StoreError& e) {
      return e;
    }
    return StoreError(StoreErrorKind::io, "(no error)");
  }();
  EXPECT_EQ(bad.kind(), StoreErrorKind::invalid_name);
}

TEST(PushStatus, FirstTwelveHexDigits) {
  EXPECT_EQ(push_status_for_digest("sha256:" + std::string(64, 'b')), "pushing bbbbbbbbbbbb");
}

}  // namespace
}  // namespace locus::runtime
