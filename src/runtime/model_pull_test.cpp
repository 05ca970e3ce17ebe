// pull_model against a registry that the test serves on loopback (cpp-httplib): a full pull that resolves,
// progress lines in Ollama's order, a second pull that downloads nothing, an interrupted transfer resumed with
// a Range request, a server that ignores Range, a corrupted blob and an oversized one rejected without a
// trace, 404 / 401 / connection refused as one-line errors, redirects, cancellation, and the registry URLs.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/store_test_files.h"
#include "runtime/model_pull.h"

namespace locus::runtime {
namespace {
namespace fs = std::filesystem;
using testing::contains;
using testing::read_all;
using testing::write_text;

// A tiny GGUF (about 1.4 KB) as the store tests make one.
std::string tiny_gguf_bytes(const fs::path& scratch, uint8_t seed) {
  testing::write_tiny_gguf(scratch / "tiny.gguf", seed);
  return read_all(scratch / "tiny.gguf");
}

std::string digest_of(std::string_view bytes) { return "sha256:" + sha256_hex(bytes); }

// A registry in the Ollama protocol on 127.0.0.1, with switches for the failures the tests need.
class TestRegistry {
 public:
  struct Seen {
    std::string path;
    std::string range;  // the Range header, empty when absent
  };

  TestRegistry() {
    server_.Get(R"(/v2/([^/]+)/([^/]+)/manifests/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      const std::string key = req.matches[1].str() + "/" + req.matches[2].str() + ":" + req.matches[3].str();
      std::lock_guard lock(mu_);
      if (req.matches[2].str() == "private") {
        res.status = 401;
        res.set_content(R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})", "application/json");
        return;
      }
      const auto it = manifests_.find(key);
      if (it == manifests_.end()) {
        res.status = 404;
        res.set_content(R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})", "application/json");
        return;
      }
      accept_seen_ = req.get_header_value("Accept");
      res.set_content(it->second, "application/vnd.docker.distribution.manifest.v2+json");
    });
    const auto blob = [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      const bool via_cdn = req.path.starts_with("/cdn/");
      const std::string digest = req.matches[via_cdn ? 1 : 3].str();
      std::lock_guard lock(mu_);
      if (redirect_blobs_ && !via_cdn) {
        res.set_redirect("/cdn/" + digest, 307);
        return;
      }
      const auto it = blobs_.find(digest);
      if (it == blobs_.end()) {
        res.status = 404;
        res.set_content(R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]})", "application/json");
        return;
      }
      auto bytes = std::make_shared<std::string>(it->second);
      if (corrupt_.count(digest) != 0) (*bytes)[bytes->size() / 2] ^= 0x5a;
      if (ignore_range_) {
        // httplib slices the body by the request's ranges after the handler returns; forgetting them here
        // makes it answer 200 with the whole blob, as a server without Range support does.
        const_cast<httplib::Request&>(req).ranges.clear();
      }
      const size_t cut = cut_after_.exchange(0);
      // httplib answers a Range request with 206 and Content-Range, calling the provider from the offset.
      res.set_content_provider(bytes->size(), "application/octet-stream",
                               [bytes, cut, sent = size_t{0}](size_t offset, size_t length, httplib::DataSink& sink) mutable {
                                 size_t n = std::min<size_t>(length, 256);
                                 if (cut != 0) {
                                   if (sent >= cut) return false;  // closes the connection mid-body
                                   n = std::min(n, cut - sent);
                                 }
                                 sink.write(bytes->data() + offset, n);
                                 sent += n;
                                 return true;
                               });
    };
    server_.Get(R"(/v2/([^/]+)/([^/]+)/blobs/(sha256:[0-9a-f]+))", blob);
    server_.Get(R"(/cdn/(sha256:[0-9a-f]+))", blob);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the accept loop runs would be lost and leave join() waiting forever.
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~TestRegistry() { stop(); }
  void stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string add_blob(const std::string& bytes) {
    std::lock_guard lock(mu_);
    const std::string d = digest_of(bytes);
    blobs_[d] = bytes;
    return d;
  }
  void set_manifest(const std::string& name_space, const std::string& model, const std::string& tag, const std::string& json) {
    std::lock_guard lock(mu_);
    manifests_[name_space + "/" + model + ":" + tag] = json;
  }
  void cut_next_blob_after(size_t bytes) { cut_after_ = bytes; }
  void set_ignore_range(bool on) {
    std::lock_guard lock(mu_);
    ignore_range_ = on;
  }
  void set_corrupt(const std::string& digest) {
    std::lock_guard lock(mu_);
    corrupt_.insert(digest);
  }
  void set_redirect_blobs(bool on) {
    std::lock_guard lock(mu_);
    redirect_blobs_ = on;
  }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  size_t blob_requests() const {
    size_t n = 0;
    for (const auto& s : seen()) n += s.path.find("/blobs/") != std::string::npos || s.path.starts_with("/cdn/") ? 1 : 0;
    return n;
  }
  std::string accept_seen() const {
    std::lock_guard lock(mu_);
    return accept_seen_;
  }

 private:
  void record(const httplib::Request& req) {
    std::lock_guard lock(mu_);
    seen_.push_back({req.path, req.get_header_value("Range")});
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::map<std::string, std::string> manifests_;
  std::map<std::string, std::string> blobs_;
  std::set<std::string> corrupt_;
  std::atomic<size_t> cut_after_{0};
  bool ignore_range_ = false;
  bool redirect_blobs_ = false;
  std::string accept_seen_;
  std::vector<Seen> seen_;
};

PullError pull_error_of(const std::function<void()>& f) {
  return testing::error_of<PullError>(f, PullError(PullErrorKind::bad_response, "(no error)"));
}


class PullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / (std::string("model_pull_test_") + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    gguf_ = tiny_gguf_bytes(dir_ / "src", 7);
    template_ = "{{ .Prompt }}";
    config_ = R"({"model_format":"gguf","model_family":"gemma4","model_type":"1B","file_type":"Q4_K_M"})";
    model_digest_ = registry_.add_blob(gguf_);
    template_digest_ = registry_.add_blob(template_);
    config_digest_ = registry_.add_blob(config_);
    registry_.set_manifest("library", "tiny", "latest", manifest_json(gguf_.size()));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string manifest_json(uint64_t model_size) const {
    nlohmann::json m = {
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
        {"config", {{"mediaType", "application/vnd.docker.container.image.v1+json"}, {"digest", config_digest_}, {"size", config_.size()}}},
        {"layers",
         {{{"mediaType", "application/vnd.ollama.image.model"}, {"digest", model_digest_}, {"size", model_size}},
          {{"mediaType", "application/vnd.ollama.image.template"}, {"digest", template_digest_}, {"size", template_.size()}}}}};
    return m.dump();
  }

  ModelStore store() const { return ModelStore(StoreRoots{dir_ / "locus", std::nullopt}); }
  ModelName name(const std::string& model = "tiny") const {
    return parse_model_name(registry_.host() + "/library/" + model + ":latest");
  }
  PullOptions quick_options(std::vector<PullProgress>* lines = nullptr) const {
    PullOptions o;
    o.progress_interval_ms = 0;
    o.connect_timeout_ms = 5000;
    o.stall_timeout_ms = 5000;
    o.blob_attempts = 1;
    o.retry_delay_ms = 1;
    if (lines != nullptr) o.progress = [lines](const PullProgress& p) { lines->push_back(p); };
    return o;
  }
  fs::path partial_path(const std::string& digest) const {
    return dir_ / "locus" / "blobs" / (blob_file_name(digest) + "-partial");
  }
  fs::path final_path(const std::string& digest) const { return dir_ / "locus" / "blobs" / blob_file_name(digest); }
  bool model_resolves() const {
    try {
      store().resolve(name());
      return true;
    } catch (const StoreError& e) {
      EXPECT_EQ(e.kind(), StoreErrorKind::not_found) << e.what();
      return false;
    }
  }

  TestRegistry registry_;
  fs::path dir_;
  std::string gguf_, template_, config_;
  std::string model_digest_, template_digest_, config_digest_;
};

TEST_F(PullTest, FullPullResolvesThroughTheStore) {
  auto s = store();
  const PullResult r = pull_model(s, name(), quick_options());
  EXPECT_EQ(r.bytes_downloaded, gguf_.size() + template_.size() + config_.size());
  EXPECT_EQ(r.bytes_total, r.bytes_downloaded);
  const ResolvedModel m = s.resolve(name());
  EXPECT_EQ(read_all(m.model_path), gguf_);
  ASSERT_TRUE(m.template_text.has_value());
  EXPECT_EQ(*m.template_text, template_);
  EXPECT_EQ(m.digest, r.manifest_digest);
  EXPECT_EQ(registry_.accept_seen(), "application/vnd.docker.distribution.manifest.v2+json");
  EXPECT_FALSE(fs::exists(partial_path(model_digest_)));
}

// A manifest laid out as Ollama's library serves a vision model (model, projector, template): the projector
// blob is pulled and resolution finds it, checked; a second pull of a model sharing the projector fetches only
// what is new; a projector locus cannot use still pulls, and resolves without one, saying why.
TEST_F(PullTest, AProjectorLayerIsPulledAndResolved) {
  testing::write_projector_gguf(dir_ / "src" / "mmproj.gguf");
  const std::string proj = read_all(dir_ / "src" / "mmproj.gguf");
  const std::string proj_digest = registry_.add_blob(proj);
  const auto manifest_with = [&](const std::string& projector_digest, uint64_t projector_size) {
    nlohmann::json m = nlohmann::json::parse(manifest_json(gguf_.size()));
    m["layers"].insert(m["layers"].begin() + 1, nlohmann::json{{"mediaType", "application/vnd.ollama.image.projector"},
                                                               {"digest", projector_digest},
                                                               {"size", projector_size}});
    return m.dump();
  };
  registry_.set_manifest("library", "vision", "latest", manifest_with(proj_digest, proj.size()));
  auto s = store();
  std::vector<PullProgress> lines;
  const PullResult r = pull_model(s, name("vision"), quick_options(&lines));
  EXPECT_EQ(r.bytes_downloaded, gguf_.size() + proj.size() + template_.size() + config_.size());
  bool announced = false;
  for (const auto& l : lines) announced |= l.digest == proj_digest && l.status == "pulling " + proj_digest.substr(7, 12);
  EXPECT_TRUE(announced);
  const ResolvedModel m = s.resolve(name("vision"));
  ASSERT_TRUE(m.projector_path.has_value());
  EXPECT_EQ(read_all(*m.projector_path), proj);
  ASSERT_TRUE(m.projector.has_value()) << m.projector_note;
  EXPECT_TRUE(m.projector->has_vision && m.projector->has_audio);
  EXPECT_EQ(read_all(m.model_path), gguf_);

  // The same projector in another model: nothing fetched twice.
  registry_.set_manifest("library", "vision2", "latest", manifest_with(proj_digest, proj.size()));
  const size_t before = registry_.blob_requests();
  EXPECT_EQ(pull_model(s, name("vision2"), quick_options()).bytes_downloaded, 0u);
  EXPECT_EQ(registry_.blob_requests(), before);

  // Another kind of projector (Gemma 3's): pulled whole, the model resolves without one and says why.
  testing::TestProjector gemma3;
  gemma3.audio = false;
  gemma3.vision_type = "gemma3";
  testing::write_projector_gguf(dir_ / "src" / "gemma3.gguf", gemma3);
  const std::string other = read_all(dir_ / "src" / "gemma3.gguf");
  registry_.set_manifest("library", "other", "latest", manifest_with(registry_.add_blob(other), other.size()));
  pull_model(s, name("other"), quick_options());
  const ResolvedModel o = s.resolve(name("other"));
  ASSERT_TRUE(o.projector_path.has_value());
  EXPECT_FALSE(o.projector.has_value());
  EXPECT_TRUE(contains(o.projector_note, "found \"gemma3\"")) << o.projector_note;
}

TEST_F(PullTest, ProgressLinesFollowOllamasPhasesWithTotals) {
  auto s = store();
  std::vector<PullProgress> lines;
  pull_model(s, name(), quick_options(&lines));
  ASSERT_GE(lines.size(), 8u);
  EXPECT_EQ(lines.front().status, "pulling manifest");
  const size_t n = lines.size();
  EXPECT_EQ(lines[n - 3].status, "verifying sha256 digest");
  EXPECT_EQ(lines[n - 2].status, "writing manifest");
  EXPECT_EQ(lines[n - 1].status, "success");

  // Blob lines: layers in manifest order, then the config; each blob's completed only grows and ends at total.
  const std::vector<std::pair<std::string, uint64_t>> want = {
      {model_digest_, gguf_.size()}, {template_digest_, template_.size()}, {config_digest_, config_.size()}};
  size_t next = 0;
  uint64_t last_completed = 0;
  for (size_t i = 1; i + 3 < n; ++i) {
    const PullProgress& p = lines[i];
    if (next < want.size() && p.digest != want[next].first) {
      ASSERT_EQ(last_completed, want[next].second) << "blob " << next << " did not end at its total";
      ++next;
      last_completed = 0;
    }
    ASSERT_LT(next, want.size()) << "unexpected line " << p.status;
    EXPECT_EQ(p.digest, want[next].first);
    EXPECT_EQ(p.status, "pulling " + want[next].first.substr(7, 12));
    EXPECT_EQ(p.total, want[next].second);
    EXPECT_GE(p.completed, last_completed);
    last_completed = p.completed;
  }
  EXPECT_EQ(next, want.size() - 1);
  EXPECT_EQ(last_completed, config_.size());
}

TEST_F(PullTest, SecondPullSkipsBlobsAlreadyStored) {
  auto s = store();
  pull_model(s, name(), quick_options());
  const size_t blob_requests = registry_.blob_requests();
  EXPECT_EQ(blob_requests, 3u);
  std::vector<PullProgress> lines;
  const PullResult r = pull_model(s, name(), quick_options(&lines));
  EXPECT_EQ(registry_.blob_requests(), blob_requests);
  EXPECT_EQ(r.bytes_downloaded, 0u);
  for (const auto& p : lines) {
    if (!p.digest.empty()) {
      EXPECT_EQ(p.completed, p.total) << p.status;
    }
  }
  EXPECT_EQ(lines.back().status, "success");
}

TEST_F(PullTest, InterruptedTransferFailsThenResumesWithRange) {
  auto s = store();
  registry_.cut_next_blob_after(500);
  const PullError e = pull_error_of([&] { pull_model(s, name(), quick_options()); });
  EXPECT_EQ(e.pull_kind(), PullErrorKind::network) << e.what();
  EXPECT_TRUE(contains(e.what(), model_digest_)) << e.what();
  EXPECT_TRUE(contains(e.what(), "pull again to resume")) << e.what();
  EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  ASSERT_TRUE(fs::exists(partial_path(model_digest_)));
  EXPECT_EQ(fs::file_size(partial_path(model_digest_)), 500u);
  EXPECT_FALSE(model_resolves());

  std::vector<PullProgress> lines;
  const PullResult r = pull_model(s, name(), quick_options(&lines));
  EXPECT_EQ(r.bytes_downloaded, gguf_.size() - 500 + template_.size() + config_.size());
  bool saw_range = false;
  for (const auto& seen : registry_.seen()) saw_range |= contains(seen.path, model_digest_) && seen.range == "bytes=500-";
  EXPECT_TRUE(saw_range);
  // The first line for the GGUF already counts the bytes kept from the first attempt.
  for (const auto& p : lines) {
    if (p.digest == model_digest_) {
      EXPECT_EQ(p.completed, 500u);
      break;
    }
  }
  EXPECT_EQ(read_all(final_path(model_digest_)), gguf_);
  EXPECT_FALSE(fs::exists(partial_path(model_digest_)));
  EXPECT_TRUE(model_resolves());
}

TEST_F(PullTest, RetriesWithinOnePullResumeFromWhereTheyStopped) {
  auto s = store();
  registry_.cut_next_blob_after(300);
  PullOptions o = quick_options();
  o.blob_attempts = 2;
  pull_model(s, name(), o);
  bool saw_range = false;
  for (const auto& seen : registry_.seen()) saw_range |= seen.range == "bytes=300-";
  EXPECT_TRUE(saw_range);
  EXPECT_EQ(read_all(final_path(model_digest_)), gguf_);
}

TEST_F(PullTest, ServerThatIgnoresRangeRestartsTheBlobCleanly) {
  auto s = store();
  registry_.cut_next_blob_after(500);
  EXPECT_EQ(pull_error_of([&] { pull_model(s, name(), quick_options()); }).pull_kind(), PullErrorKind::network);
  registry_.set_ignore_range(true);
  pull_model(s, name(), quick_options());
  bool saw_range = false;
  for (const auto& seen : registry_.seen()) saw_range |= seen.range == "bytes=500-";
  EXPECT_TRUE(saw_range);
  EXPECT_EQ(read_all(final_path(model_digest_)), gguf_);
  EXPECT_TRUE(model_resolves());
}

TEST_F(PullTest, CorruptedBlobIsRejectedAndNotKept) {
  auto s = store();
  registry_.set_corrupt(model_digest_);
  std::string corrupted = gguf_;
  corrupted[corrupted.size() / 2] ^= 0x5a;
  const PullError e = pull_error_of([&] { pull_model(s, name(), quick_options()); });
  EXPECT_EQ(e.pull_kind(), PullErrorKind::digest_mismatch) << e.what();
  EXPECT_EQ(e.kind(), StoreErrorKind::digest_mismatch);
  EXPECT_TRUE(contains(e.what(), "expected " + model_digest_)) << e.what();
  EXPECT_TRUE(contains(e.what(), "found " + digest_of(corrupted))) << e.what();
  EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  EXPECT_FALSE(fs::exists(partial_path(model_digest_)));
  EXPECT_FALSE(fs::exists(final_path(model_digest_)));
  EXPECT_FALSE(fs::exists(dir_ / "locus" / "manifests"));
  EXPECT_FALSE(model_resolves());
}

TEST_F(PullTest, BlobLargerThanTheManifestSaysIsRefused) {
  registry_.set_manifest("library", "tiny", "latest", manifest_json(gguf_.size() - 100));
  auto s = store();
  const PullError e = pull_error_of([&] { pull_model(s, name(), quick_options()); });
  EXPECT_EQ(e.pull_kind(), PullErrorKind::bad_response) << e.what();
  EXPECT_TRUE(contains(e.what(), std::to_string(gguf_.size() - 100))) << e.what();
  EXPECT_FALSE(fs::exists(partial_path(model_digest_)));
  EXPECT_FALSE(fs::exists(final_path(model_digest_)));
  EXPECT_FALSE(model_resolves());
}

TEST_F(PullTest, UnknownModelIsAClearNotFound) {
  auto s = store();
  const PullError e = pull_error_of([&] { pull_model(s, name("missing"), quick_options()); });
  EXPECT_EQ(e.pull_kind(), PullErrorKind::not_found);
  EXPECT_EQ(e.kind(), StoreErrorKind::not_found);
  EXPECT_EQ(std::string(e.what()),
            "model '" + name("missing").display() + "' not found in registry " + registry_.host());
}

TEST_F(PullTest, RefusedAccessSaysSo) {
  auto s = store();
  const PullError e = pull_error_of([&] { pull_model(s, name("private"), quick_options()); });
  EXPECT_EQ(e.pull_kind(), PullErrorKind::unauthorized) << e.what();
  EXPECT_TRUE(contains(e.what(), "HTTP 401")) << e.what();
  EXPECT_TRUE(contains(e.what(), "authentication required")) << e.what();
}

TEST_F(PullTest, ConnectionRefusedIsANetworkError) {
  const ModelName n = name();
  registry_.stop();
  auto s = store();
  const PullError e = pull_error_of([&] { pull_model(s, n, quick_options()); });
  EXPECT_EQ(e.pull_kind(), PullErrorKind::network) << e.what();
  EXPECT_TRUE(contains(e.what(), "cannot connect to registry " + registry_.host())) << e.what();
}

TEST_F(PullTest, RedirectsToAnotherPathAreFollowed) {
  registry_.set_redirect_blobs(true);
  auto s = store();
  pull_model(s, name(), quick_options());
  size_t via_cdn = 0;
  for (const auto& seen : registry_.seen()) via_cdn += seen.path.starts_with("/cdn/") ? 1 : 0;
  EXPECT_EQ(via_cdn, 3u);
  EXPECT_EQ(read_all(final_path(model_digest_)), gguf_);
  EXPECT_TRUE(model_resolves());
}

TEST_F(PullTest, CancelKeepsThePartialBlobForTheNextPull) {
  auto s = store();
  std::atomic<bool> cancel{false};
  PullOptions o = quick_options();
  o.cancel = &cancel;
  o.progress = [&](const PullProgress& p) {
    if (p.digest == model_digest_ && p.completed >= 512) cancel = true;
  };
  const PullError e = pull_error_of([&] { pull_model(s, name(), o); });
  EXPECT_EQ(e.pull_kind(), PullErrorKind::cancelled) << e.what();
  ASSERT_TRUE(fs::exists(partial_path(model_digest_)));
  EXPECT_GE(fs::file_size(partial_path(model_digest_)), 512u);
  EXPECT_FALSE(model_resolves());
  pull_model(s, name(), quick_options());
  EXPECT_TRUE(model_resolves());
}

TEST_F(PullTest, ApiEntryPointStreamsOllamaShapedLines) {
  auto s = store();
  std::vector<nlohmann::json> lines;
  pull_model_for_api(s, name().display(), false, [&](const nlohmann::json& j) { lines.push_back(j); });
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), nlohmann::json({{"status", "pulling manifest"}}));
  EXPECT_EQ(lines.back(), nlohmann::json({{"status", "success"}}));
  bool saw_blob = false;
  for (const auto& j : lines) {
    if (j.contains("digest") && j["digest"] == model_digest_ && j.value("completed", uint64_t{0}) == gguf_.size()) {
      saw_blob = j["total"] == gguf_.size() && j["status"] == "pulling " + model_digest_.substr(7, 12);
    }
  }
  EXPECT_TRUE(saw_blob);
  const StoreError bad = [&] {
    try {
      pull_model_for_api(s, "no//such", false, {});
    } catch (const StoreError& e) {
      return e;
    }
    return StoreError(StoreErrorKind::io, "(no error)");
  }();
  EXPECT_EQ(bad.kind(), StoreErrorKind::invalid_name);
}

TEST(PullProgressJson, OmitsEmptyFieldsAsOllamaDoes) {
  EXPECT_EQ(pull_progress_json({"pulling manifest", "", 0, 0}).dump(), R"({"status":"pulling manifest"})");
  EXPECT_EQ(pull_progress_json({"pulling 0123456789ab", "sha256:0123", 10, 0}).dump(),
            R"({"digest":"sha256:0123","status":"pulling 0123456789ab","total":10})");
  EXPECT_EQ(pull_progress_json({"pulling 0123456789ab", "sha256:0123", 10, 4}).dump(),
            R"({"completed":4,"digest":"sha256:0123","status":"pulling 0123456789ab","total":10})");
}

TEST(RegistryUrls, MapNamesToTheV2Paths) {
  const std::string d = "sha256:" + std::string(64, 'a');
  const ModelName hf = parse_model_name("hf.co/unsloth/gemma-4-12b-it-GGUF:Q4_K_M");
  EXPECT_EQ(registry_manifest_url(hf, false), "https://hf.co/v2/unsloth/gemma-4-12b-it-GGUF/manifests/Q4_K_M");
  EXPECT_EQ(registry_blob_url(hf, d, false), "https://hf.co/v2/unsloth/gemma-4-12b-it-GGUF/blobs/" + d);
  EXPECT_EQ(registry_manifest_url(parse_model_name("hf.co/bartowski/some-GGUF"), false),
            "https://hf.co/v2/bartowski/some-GGUF/manifests/latest");
  EXPECT_EQ(registry_manifest_url(parse_model_name("gemma4"), false),
            "https://registry.ollama.ai/v2/library/gemma4/manifests/latest");
  EXPECT_EQ(registry_manifest_url(parse_model_name("me/mine:v2"), false),
            "https://registry.ollama.ai/v2/me/mine/manifests/v2");
  EXPECT_EQ(registry_manifest_url(parse_model_name("mirror.example:5000/library/gemma4:12b"), true),
            "http://mirror.example:5000/v2/library/gemma4/manifests/12b");
  EXPECT_EQ(registry_manifest_url(parse_model_name("localhost:11434/library/gemma4:12b"), false),
            "http://localhost:11434/v2/library/gemma4/manifests/12b");
  EXPECT_EQ(pull_status_for_digest(d), "pulling aaaaaaaaaaaa");
}

TEST(RegistryUrls, LoopbackHostsOnly) {
  for (const char* h : {"127.0.0.1", "127.0.0.1:8080", "127.1.2.3", "localhost", "LOCALHOST:11434", "[::1]", "[::1]:80"}) {
    EXPECT_TRUE(is_loopback_host(h)) << h;
  }
  for (const char* h : {"registry.ollama.ai", "hf.co", "128.0.0.1", "127.0.0.256", "127.0.0", "localhost.example.com",
                        "127.0.0.1.example.com", "[::2]", ""}) {
    EXPECT_FALSE(is_loopback_host(h)) << h;
  }
}

}  // namespace
}  // namespace locus::runtime
