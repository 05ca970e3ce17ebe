// Ollama's blob protocol and create-from-files against the real RuntimeBackend on a temporary model store, over
// loopback: HEAD /api/blobs (404, 200, 400 for a malformed digest), POST /api/blobs (201, a digest mismatch
// refused and not kept, a blob already there not rewritten, bodies above the JSON limit accepted, auth), and
// POST /api/create with "files" (the uploaded GGUF becomes the model; a missing blob and adapters refused).
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "gguf/writer.h"
#include "runtime/model_store.h"
#include "runtime/sha256.h"
#include "server/backend.h"
#include "server/http_server.h"

namespace locus::server {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr size_t kBodyLimit = 4096;  // the JSON body limit of these servers; the GGUF below is larger

// A small random-weight GGUF (architecture "test", one 256 x 32 F32 tensor: 32 KiB of data).
std::string write_gguf(const fs::path& p, float seed) {
  gguf::GgufWriter w;
  w.add("general.architecture", gguf::Value::string("test"));
  w.add("general.file_type", gguf::Value::u32(0));
  w.add_tensor("token_embd.weight", {256, 32}, gguf::GgmlType::F32);
  fs::create_directories(p.parent_path());
  w.begin_data(p.string());
  std::vector<float> values(256 * 32);
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::sin(seed + static_cast<float>(i) * 0.37f);
  w.write_tensor(std::span(reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(float)));
  w.finish();
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.insert(e.path().filename().string());
  return out;
}

class BlobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("locus_blobs_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    runtime::StoreRoots roots;
    roots.locus = dir_ / "store";
    store_ = std::make_unique<runtime::ModelStore>(roots);
    backend_ = std::make_unique<RuntimeBackend>(*store_, BackendOptions{});
    gguf_ = write_gguf(dir_ / "src" / "m.gguf", 1.0f);
    digest_ = "sha256:" + runtime::sha256_hex(gguf_);
    ASSERT_GT(gguf_.size(), kBodyLimit);
  }
  void start(const std::string& api_key = "") {
    ServeOptions o;
    o.listen.port = 0;
    o.max_request_bytes = kBodyLimit;
    o.api_key = api_key;
    o.version = "9.9.9";
    server_ = std::make_unique<HttpServer>(*backend_, o);
    std::string err;
    ASSERT_TRUE(server_->bind(&err)) << err;
    thread_ = std::thread([this] { server_->run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(20, 0);
    client_->set_keep_alive(true);  // one connection throughout: every answer must leave it in step
    if (!api_key.empty()) client_->set_default_headers({{"Authorization", "Bearer " + api_key}});
  }
  void TearDown() override {
    client_.reset();  // closes the kept-alive connection, which the server would otherwise wait out
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    backend_.reset();
    fs::remove_all(dir_);
  }
  httplib::Result upload(const std::string& digest, const std::string& body) {
    return client_->Post(("/api/blobs/" + digest).c_str(), body, "application/octet-stream");
  }
  httplib::Result create(const Json& body) {
    return client_->Post("/api/create", body.dump(), "application/json");
  }
  std::string error_of(const httplib::Result& r) {
    const Json j = Json::parse(r->body, nullptr, false);
    return j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : r->body;
  }

  fs::path dir_;
  std::unique_ptr<runtime::ModelStore> store_;
  std::unique_ptr<RuntimeBackend> backend_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
  std::string gguf_;
  std::string digest_;
};

TEST_F(BlobsTest, HeadSaysWhetherTheStoreHoldsTheBlob) {
  start();
  auto r = client_->Head(("/api/blobs/" + digest_).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  store_->add_blob(gguf_);
  r = client_->Head(("/api/blobs/" + digest_).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = client_->Head(("/api/blobs/sha256-" + digest_.substr(7)).c_str());  // the blob file's spelling
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = client_->Get(("/api/blobs/" + digest_).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  for (const std::string& bad : std::vector<std::string>{"sha256:1234", "md5:" + std::string(64, 'a'), "sha256:" + std::string(64, 'A'),
                                "sha256:" + std::string(63, 'a') + "g"}) {
    r = client_->Head(("/api/blobs/" + bad).c_str());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad;
  }
}

TEST_F(BlobsTest, UploadAboveTheJsonBodyLimitIsStored) {
  start();
  auto r = upload(digest_, gguf_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  const fs::path blob = store_->blob_path(digest_);
  ASSERT_TRUE(fs::is_regular_file(blob));
  EXPECT_EQ(fs::file_size(blob), gguf_.size());
  EXPECT_EQ(runtime::sha256_file_hex(blob), digest_.substr(7));
  EXPECT_FALSE(fs::exists(blob.string() + "-partial"));
  r = client_->Head(("/api/blobs/" + digest_).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);

  // Once more: 201, the file is not rewritten (same inode, same mtime).
  struct stat before {};
  ASSERT_EQ(::stat(blob.c_str(), &before), 0);
  r = upload(digest_, gguf_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  struct stat after {};
  ASSERT_EQ(::stat(blob.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);

  // The JSON routes keep their limit (413 in the path's envelope), and the connection stays usable after it.
  r = client_->Post("/api/show", Json{{"model", std::string(kBodyLimit, 'x')}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(error_of(r).find("LOCUS_MAX_REQUEST_BYTES"), std::string::npos) << r->body;
  r = client_->Post("/v1/chat/completions", Json{{"model", std::string(kBodyLimit, 'x')}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(Json::parse(r->body)["error"]["message"].is_string()) << r->body;
  // Only the upload route itself is exempt, not whatever lies under /api/blobs/.
  r = client_->Post(("/api/blobs/" + digest_ + "/x").c_str(), gguf_, "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  r = client_->Get("/api/version");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(BlobsTest, DigestMismatchIsRefusedAndNotKept) {
  start();
  ASSERT_TRUE(upload(digest_, gguf_));  // a blob already there, so the folder exists and has something to compare
  const std::set<std::string> before = files_in(store_->blobs_dir());
  const std::string other = "sha256:" + runtime::sha256_hex("something else");
  auto r = upload(other, gguf_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(error_of(r).find("digest mismatch"), std::string::npos) << r->body;
  EXPECT_NE(error_of(r).find(other), std::string::npos) << r->body;
  EXPECT_NE(error_of(r).find("digest is " + digest_), std::string::npos) << r->body;  // what the bytes hash to
  EXPECT_EQ(files_in(store_->blobs_dir()), before);  // neither the blob nor a partial file
  r = client_->Head(("/api/blobs/" + other).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  // A malformed digest: 400 before anything is written; the connection is still in step afterwards.
  r = upload("sha256:nothex", gguf_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(files_in(store_->blobs_dir()), before);
  r = client_->Get("/api/version");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(BlobsTest, UploadNeedsTheApiKey) {
  start("k1");
  httplib::Client anonymous("127.0.0.1", server_->port());
  auto r = anonymous.Post(("/api/blobs/" + digest_).c_str(), gguf_, "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_FALSE(fs::exists(store_->blob_path(digest_)));
  r = anonymous.Head(("/api/blobs/" + digest_).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = upload(digest_, gguf_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
}

TEST_F(BlobsTest, CreateFromUploadedFiles) {
  start();
  ASSERT_EQ(upload(digest_, gguf_)->status, 201);
  auto r = create({{"model", "fromblob:1"},
                   {"files", {{"m.gguf", digest_}}},
                   {"system", "Be brief."},
                   {"parameters", {{"temperature", 0.5}}},
                   {"stream", false}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Json::parse(r->body)["status"], "success");
  const runtime::ResolvedModel m = store_->resolve("fromblob:1");
  EXPECT_EQ(m.manifest.find_layer(runtime::media_type::kModel)->digest, digest_);
  EXPECT_EQ(m.system_text, "Be brief.");
  EXPECT_EQ(m.params->dump(), R"({"temperature":0.5})");

  // Streamed: progress lines ending with success.
  r = create({{"model", "fromblob:2"}, {"files", {{"m.gguf", digest_}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find(R"({"status":"success"})"), std::string::npos) << r->body;
  EXPECT_EQ(store_->resolve("fromblob:2").model_path, store_->blob_path(digest_));

  // A blob that was never uploaded: 400 naming it, and no model.
  const std::string missing = "sha256:" + std::string(64, 'b');
  r = create({{"model", "nope"}, {"files", {{"x.gguf", missing}}}, {"stream", false}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(error_of(r).find(missing), std::string::npos) << r->body;
  // Adapters: refused with a clear 400.
  r = create({{"model", "nope"}, {"files", {{"m.gguf", digest_}}}, {"adapters", {{"l.gguf", digest_}}},
              {"stream", false}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(error_of(r).find("adapters are not supported"), std::string::npos) << r->body;
  EXPECT_THROW(store_->resolve("nope"), runtime::StoreError);
}

}  // namespace
}  // namespace locus::server
