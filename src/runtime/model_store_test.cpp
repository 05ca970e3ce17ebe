// ModelStore: import, resolve, list, copy, remove with garbage collection in a temporary locus root; a fake
// Ollama root that is read but never changed; BlobWriter's verification and resume; clear errors for bad
// manifests, missing blobs and files that are not GGUF.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/store_test_files.h"
#include "runtime/model_store.h"

namespace locus::runtime {
namespace {
namespace fs = std::filesystem;
using testing::contains;
using testing::read_all;
using testing::write_text;

using testing::write_tiny_gguf;

StoreError error_of(const std::function<void()>& f) {
  return testing::error_of<StoreError>(f, StoreError(StoreErrorKind::io, "(no error)"));
}


size_t count_files(const fs::path& dir) {
  if (!fs::exists(dir)) return 0;
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

class ModelStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / (std::string("model_store_test_") + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    locus_root_ = dir_ / "locus";
    ollama_root_ = dir_ / "ollama";
    gguf_ = dir_ / "src" / "tiny.gguf";
    write_tiny_gguf(gguf_, 1);
  }
  void TearDown() override { fs::remove_all(dir_); }

  ModelStore store(bool with_ollama = false) const {
    return ModelStore(StoreRoots{locus_root_, with_ollama ? std::optional(ollama_root_) : std::nullopt});
  }

  // An Ollama root as `ollama pull` leaves it: one model with config, model, template and params layers.
  // The config carries only the format, so details come from the GGUF.
  // With `projector`, a projector layer follows the model layer, as Ollama lays out a vision model.
  void make_ollama_model(const std::string& rel_manifest, uint8_t seed,
                         const std::optional<fs::path>& projector = std::nullopt) {
    const fs::path blobs = ollama_root_ / "blobs";
    fs::create_directories(blobs);
    const auto add = [&](const std::string& bytes) {
      const std::string hex = sha256_hex(bytes);
      write_text(blobs / ("sha256-" + hex), bytes);
      return std::make_pair("sha256:" + hex, bytes.size());
    };
    const fs::path g = dir_ / "ollama-src.gguf";
    write_tiny_gguf(g, seed, 7, "gemma3");
    const auto model = add(read_all(g));
    const auto tmpl = add("{{ .Prompt }}");
    const auto params = add(R"({"temperature":1,"top_k":64})");
    const auto config = add(R"({"model_format":"gguf","rootfs":{"type":"layers","diff_ids":[]}})");
    nlohmann::json m = {
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
        {"config", {{"mediaType", "application/vnd.docker.container.image.v1+json"}, {"digest", config.first}, {"size", config.second}}},
        {"layers",
         {{{"mediaType", "application/vnd.ollama.image.model"}, {"digest", model.first}, {"size", model.second}},
          {{"mediaType", "application/vnd.ollama.image.template"}, {"digest", tmpl.first}, {"size", tmpl.second}},
          {{"mediaType", "application/vnd.ollama.image.params"}, {"digest", params.first}, {"size", params.second}}}}};
    if (projector) {
      const auto proj = add(read_all(*projector));
      m["layers"].insert(m["layers"].begin() + 1, nlohmann::json{{"mediaType", "application/vnd.ollama.image.projector"},
                                                                 {"digest", proj.first},
                                                                 {"size", proj.second}});
    }
    write_text(ollama_root_ / "manifests" / rel_manifest, m.dump());
  }

  fs::path dir_, locus_root_, ollama_root_, gguf_;
};

TEST_F(ModelStoreTest, ImportResolveListCopyRemoveWithGarbageCollection) {
  ModelStore s = store();
  ImportOptions opts;
  opts.template_text = "{{ .Prompt }}";
  opts.system_text = "Be brief.";
  opts.params = nlohmann::json{{"temperature", 1.0}, {"stop", {"<turn|>"}}};
  const ResolvedModel imported = s.import_gguf(parse_model_name("gemma4:tiny"), gguf_, opts);

  const ResolvedModel r = s.resolve("gemma4:tiny");
  EXPECT_EQ(r.root, StoreRootKind::locus);
  EXPECT_EQ(r.display_name, "gemma4:tiny");
  EXPECT_EQ(r.manifest_path, locus_root_ / "manifests/registry.ollama.ai/library/gemma4/tiny");
  EXPECT_EQ(r.digest, sha256_hex(read_all(r.manifest_path)));
  EXPECT_EQ(r.digest, imported.digest);
  EXPECT_EQ(read_all(r.model_path), read_all(gguf_));
  EXPECT_EQ(r.model_path.parent_path(), locus_root_ / "blobs");
  EXPECT_EQ(r.model_path.filename().string(), "sha256-" + sha256_hex(read_all(gguf_)));
  EXPECT_NO_THROW(verify_blob("sha256:" + sha256_hex(read_all(gguf_)), r.model_path));
  EXPECT_EQ(r.template_text, "{{ .Prompt }}");
  EXPECT_EQ(r.system_text, "Be brief.");
  ASSERT_TRUE(r.params.has_value());
  EXPECT_EQ((*r.params)["stop"][0], "<turn|>");
  EXPECT_FALSE(r.projector_path.has_value());
  ASSERT_EQ(r.manifest.layers.size(), 4u);
  EXPECT_EQ(r.manifest.layers[0].media_type, media_type::kModel);
  EXPECT_EQ(r.size_bytes, r.manifest.total_bytes());
  EXPECT_EQ(r.size_bytes, fs::file_size(gguf_) + 13 + 9 + opts.params->dump().size() + r.manifest.config.size);
  EXPECT_EQ(r.config["model_family"], "gemma4");
  EXPECT_EQ(r.config["file_type"], "Q4_K_M");
  EXPECT_EQ(r.config["model_type"], "320");
  EXPECT_EQ(r.config["rootfs"]["diff_ids"].size(), 4u);

  // The manifest is Ollama's shape.
  const auto mj = nlohmann::json::parse(read_all(r.manifest_path));
  EXPECT_EQ(mj["schemaVersion"], 2);
  EXPECT_EQ(mj["mediaType"], "application/vnd.docker.distribution.manifest.v2+json");
  EXPECT_EQ(mj["config"]["mediaType"], "application/vnd.docker.container.image.v1+json");

  std::vector<std::string> skipped;
  auto list = s.list(&skipped);
  EXPECT_TRUE(skipped.empty());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].display_name, "gemma4:tiny");
  EXPECT_EQ(list[0].digest, r.digest);
  EXPECT_EQ(list[0].size_bytes, r.size_bytes);
  EXPECT_EQ(list[0].details.format, "gguf");
  EXPECT_EQ(list[0].details.family, "gemma4");
  EXPECT_EQ(list[0].details.families, std::vector<std::string>{"gemma4"});
  EXPECT_EQ(list[0].details.parameter_size, "320");
  EXPECT_EQ(list[0].details.quantization_level, "Q4_K_M");

  s.copy(parse_model_name("gemma4:tiny"), parse_model_name("alice/copy:v1"));
  list = s.list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(s.resolve("alice/copy:v1").digest, r.digest);  // byte-for-byte copy
  const size_t blobs = count_files(locus_root_ / "blobs");
  EXPECT_EQ(blobs, 5u);  // model, template, system, params, config

  GcReport gc = s.remove(parse_model_name("gemma4:tiny"));
  EXPECT_TRUE(gc.skipped_because.empty());
  EXPECT_TRUE(gc.removed_digests.empty());  // all still used by the copy
  EXPECT_EQ(count_files(locus_root_ / "blobs"), blobs);
  EXPECT_EQ(error_of([&] { s.resolve("gemma4:tiny"); }).kind(), StoreErrorKind::not_found);
  EXPECT_FALSE(fs::exists(locus_root_ / "manifests/registry.ollama.ai/library/gemma4"));  // empty folders go

  gc = s.remove(parse_model_name("alice/copy:v1"));
  EXPECT_EQ(gc.removed_digests.size(), blobs);
  EXPECT_GT(gc.bytes_freed, fs::file_size(gguf_));
  EXPECT_EQ(count_files(locus_root_ / "blobs"), 0u);
  EXPECT_EQ(count_files(locus_root_ / "manifests"), 0u);
  EXPECT_TRUE(fs::exists(gguf_));  // the imported file itself is the user's

  const StoreError e = error_of([&] { s.remove(parse_model_name("alice/copy:v1")); });
  EXPECT_EQ(e.kind(), StoreErrorKind::not_found);
  EXPECT_TRUE(contains(e.what(), "alice/copy:v1")) << e.what();
}

TEST_F(ModelStoreTest, ReimportReplacesAndCollectsTheOldBlob) {
  ModelStore s = store();
  const auto name = parse_model_name("m:1");
  const fs::path old_blob = s.import_gguf(name, gguf_).model_path;
  const fs::path other = dir_ / "src" / "other.gguf";
  write_tiny_gguf(other, 9);
  const ResolvedModel r = s.import_gguf(name, other);
  EXPECT_NE(r.model_path, old_blob);
  EXPECT_FALSE(fs::exists(old_blob));
  EXPECT_EQ(read_all(r.model_path), read_all(other));
  EXPECT_EQ(s.list().size(), 1u);
}

TEST_F(ModelStoreTest, HardLinksOnlyWhenAllowed) {
  ModelStore s = store();
  ImportOptions copy_opts;
  copy_opts.allow_hard_link = false;
  const fs::path copied = s.import_gguf(parse_model_name("a"), gguf_, copy_opts).model_path;
  struct stat st {};
  ASSERT_EQ(::stat(gguf_.c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);
  s.remove(parse_model_name("a"));
  EXPECT_FALSE(fs::exists(copied));

  const fs::path linked = s.import_gguf(parse_model_name("b"), gguf_).model_path;  // same file system here
  ASSERT_EQ(::stat(gguf_.c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_TRUE(fs::equivalent(linked, gguf_));
  EXPECT_EQ(count_files(locus_root_ / "blobs"), 2u);  // the GGUF and the config: no temporary files left
}

TEST_F(ModelStoreTest, ImportRefusesWhatIsNotAGguf) {
  ModelStore s = store();
  const fs::path text = dir_ / "src" / "notes.gguf";
  write_text(text, "hello, not a model");
  StoreError e = error_of([&] { s.import_gguf(parse_model_name("m"), text); });
  EXPECT_EQ(e.kind(), StoreErrorKind::bad_input);
  EXPECT_TRUE(contains(e.what(), text.string())) << e.what();
  EXPECT_TRUE(contains(e.what(), "\"m:latest\"")) << e.what();
  EXPECT_EQ(count_files(locus_root_), 0u);

  ImportOptions bad_params;
  bad_params.params = nlohmann::json::array({1, 2});
  e = error_of([&] { s.import_gguf(parse_model_name("m"), gguf_, bad_params); });
  EXPECT_EQ(e.kind(), StoreErrorKind::bad_input);
  EXPECT_TRUE(contains(e.what(), "expected a JSON object, found array")) << e.what();
}

TEST_F(ModelStoreTest, ImportsAProjector) {
  ModelStore s = store();
  const fs::path proj = dir_ / "src" / "mmproj.gguf";
  testing::TestProjector t;
  t.audio = false;
  testing::write_projector_gguf(proj, t);
  ImportOptions opts;
  opts.projector_path = proj;
  const ResolvedModel r = s.import_gguf(parse_model_name("vision"), gguf_, opts);
  ASSERT_TRUE(r.projector_path.has_value());
  EXPECT_EQ(read_all(*r.projector_path), read_all(proj));
  ASSERT_NE(r.manifest.find_layer(media_type::kProjector), nullptr);
  ASSERT_TRUE(r.projector.has_value()) << r.projector_note;
  EXPECT_EQ(r.projector->path, *r.projector_path);
  EXPECT_TRUE(r.projector->has_vision);
  EXPECT_FALSE(r.projector->has_audio);
  EXPECT_TRUE(contains(r.projector_note, "the store entry's projector layer")) << r.projector_note;
  const auto list = s.list();
  ASSERT_EQ(list.size(), 1u);
  ASSERT_TRUE(list[0].projector.has_value());
  EXPECT_TRUE(list[0].projector->has_vision);

  // Without one: no projector, and the note says so.
  const ResolvedModel plain = s.import_gguf(parse_model_name("plain"), gguf_);
  EXPECT_FALSE(plain.projector_path || plain.projector);
  EXPECT_TRUE(contains(plain.projector_note, "no projector layer")) << plain.projector_note;
}

TEST_F(ModelStoreTest, ImportRefusesAProjectorItCannotUse) {
  ModelStore s = store();
  const fs::path model = dir_ / "src" / "wide.gguf";
  write_tiny_gguf(model, 2, 15, "gemma4", 64);
  testing::TestProjector narrow, wrong_type;
  narrow.vision_dim = narrow.audio_dim = 32;
  wrong_type.vision_type = "gemma3";
  const fs::path p_narrow = dir_ / "src" / "narrow.gguf", p_type = dir_ / "src" / "type.gguf";
  testing::write_projector_gguf(p_narrow, narrow);
  testing::write_projector_gguf(p_type, wrong_type);
  struct Case {
    fs::path projector;
    std::string said;
  };
  for (const Case& c : {Case{p_narrow, "projects to width 32, the model's embedding length is 64"},
                        Case{p_type, "expected \"gemma4uv\""}, Case{gguf_, "expected \"clip\""},
                        Case{dir_ / "src" / "none.gguf", "does not exist"}}) {
    ImportOptions opts;
    opts.projector_path = c.projector;
    const StoreError e = error_of([&] { s.import_gguf(parse_model_name("m"), model, opts); });
    EXPECT_EQ(e.kind(), StoreErrorKind::bad_input) << e.what();
    EXPECT_TRUE(contains(e.what(), "cannot import " + model.string())) << e.what();
    EXPECT_TRUE(contains(e.what(), c.said)) << e.what();
    EXPECT_EQ(count_files(locus_root_), 0u);
  }
}

TEST_F(ModelStoreTest, AModelPulledWithOllamaResolvesWithItsProjector) {
  const fs::path proj = dir_ / "ollama-mmproj.gguf";
  testing::write_projector_gguf(proj);
  make_ollama_model("registry.ollama.ai/library/gemma4/12b", 3, proj);
  const std::string manifest_before = read_all(ollama_root_ / "manifests/registry.ollama.ai/library/gemma4/12b");
  ModelStore s = store(true);
  const ResolvedModel r = s.resolve("gemma4:12b");
  EXPECT_EQ(r.root, StoreRootKind::ollama);
  ASSERT_TRUE(r.projector_path.has_value());
  EXPECT_EQ(r.projector_path->parent_path(), ollama_root_ / "blobs");
  EXPECT_EQ(read_all(*r.projector_path), read_all(proj));
  ASSERT_TRUE(r.projector.has_value()) << r.projector_note;
  EXPECT_TRUE(r.projector->has_vision && r.projector->has_audio);
  const auto list = s.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_TRUE(list[0].projector.has_value());

  // A copy brings the projector blob into the locus root and keeps the layer.
  s.copy(parse_model_name("gemma4:12b"), parse_model_name("mine"));
  const ResolvedModel copy = s.resolve("mine");
  EXPECT_EQ(copy.root, StoreRootKind::locus);
  ASSERT_TRUE(copy.projector.has_value()) << copy.projector_note;
  EXPECT_EQ(copy.projector_path->parent_path(), locus_root_ / "blobs");
  EXPECT_EQ(read_all(ollama_root_ / "manifests/registry.ollama.ai/library/gemma4/12b"), manifest_before);
}

TEST_F(ModelStoreTest, AProjectorLayerLocusCannotUseIsKeptAndExplained) {
  // Ollama's gemma3 ships a clip projector of another type: the model still lists, resolves and shows,
  // without vision, and the note says why.
  const fs::path proj = dir_ / "gemma3-mmproj.gguf";
  testing::TestProjector t;
  t.audio = false;
  t.vision_type = "gemma3";
  testing::write_projector_gguf(proj, t);
  make_ollama_model("registry.ollama.ai/library/gemma3/4b", 3, proj);
  ModelStore s = store(true);
  const ResolvedModel r = s.resolve("gemma3:4b");
  ASSERT_TRUE(r.projector_path.has_value());
  EXPECT_FALSE(r.projector.has_value());
  EXPECT_TRUE(contains(r.projector_note, "projector layer cannot be used")) << r.projector_note;
  EXPECT_TRUE(contains(r.projector_note, "found \"gemma3\"")) << r.projector_note;
  const auto list = s.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_FALSE(list[0].projector.has_value());

  // A projector blob that is gone is a corrupt model, as any missing blob is.
  fs::remove(*r.projector_path);
  const StoreError e = error_of([&] { s.resolve("gemma3:4b"); });
  EXPECT_EQ(e.kind(), StoreErrorKind::corrupt);
  EXPECT_TRUE(contains(e.what(), "application/vnd.ollama.image.projector) is missing")) << e.what();
}

TEST_F(ModelStoreTest, NamesMatchWithoutRegardToCase) {
  ModelStore s = store();
  s.import_gguf(parse_model_name("Gemma4:Tiny"), gguf_);
  const ResolvedModel r = s.resolve("gemma4:tiny");
  EXPECT_EQ(r.display_name, "Gemma4:Tiny");  // the spelling on disk
  s.import_gguf(parse_model_name("GEMMA4:TINY"), gguf_);  // replaces, does not add a second spelling
  EXPECT_EQ(s.list().size(), 1u);
}

TEST_F(ModelStoreTest, OllamaModelsResolveReadOnly) {
  make_ollama_model("registry.ollama.ai/library/gemma3/4b", 3);
  ModelStore s = store(true);
  const std::string manifest_before = read_all(ollama_root_ / "manifests/registry.ollama.ai/library/gemma3/4b");

  const ResolvedModel r = s.resolve("gemma3:4b");
  EXPECT_EQ(r.root, StoreRootKind::ollama);
  EXPECT_EQ(r.model_path.parent_path(), ollama_root_ / "blobs");
  EXPECT_EQ(r.template_text, "{{ .Prompt }}");
  EXPECT_EQ((*r.params)["top_k"], 64);
  EXPECT_EQ(r.digest, sha256_hex(manifest_before));

  const auto list = s.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].root, StoreRootKind::ollama);
  EXPECT_EQ(list[0].details.family, "gemma3");        // from the GGUF: the config does not say
  EXPECT_EQ(list[0].details.quantization_level, "Q8_0");
  EXPECT_EQ(list[0].details.parameter_size, "320");

  const StoreError e = error_of([&] { s.remove(parse_model_name("gemma3:4b")); });
  EXPECT_EQ(e.kind(), StoreErrorKind::read_only);
  EXPECT_TRUE(contains(e.what(), "belongs to Ollama")) << e.what();
  EXPECT_TRUE(contains(e.what(), "ollama rm gemma3:4b")) << e.what();
  EXPECT_EQ(read_all(ollama_root_ / "manifests/registry.ollama.ai/library/gemma3/4b"), manifest_before);
  EXPECT_EQ(count_files(ollama_root_ / "blobs"), 4u);

  // Copying makes a locus model with its own blobs; removing it leaves Ollama's alone.
  s.copy(parse_model_name("gemma3:4b"), parse_model_name("mine:4b"));
  const ResolvedModel c = s.resolve("mine:4b");
  EXPECT_EQ(c.root, StoreRootKind::locus);
  EXPECT_EQ(c.model_path.parent_path(), locus_root_ / "blobs");
  EXPECT_EQ(c.digest, r.digest);
  s.remove(parse_model_name("mine:4b"));
  EXPECT_EQ(count_files(locus_root_ / "blobs"), 0u);
  EXPECT_EQ(count_files(ollama_root_ / "blobs"), 4u);
  EXPECT_NO_THROW(s.resolve("gemma3:4b"));
}

TEST_F(ModelStoreTest, LocusShadowsOllamaForTheSameName) {
  make_ollama_model("registry.ollama.ai/library/gemma4/tiny", 3);
  make_ollama_model("hf.co/someone/repo/Q8_0", 4);
  ModelStore s = store(true);
  s.import_gguf(parse_model_name("gemma4:tiny"), gguf_);
  EXPECT_EQ(s.resolve("gemma4:tiny").root, StoreRootKind::locus);
  EXPECT_EQ(s.resolve("hf.co/someone/repo:Q8_0").root, StoreRootKind::ollama);
  const auto list = s.list();
  ASSERT_EQ(list.size(), 2u);
  std::vector<std::string> names;
  for (const auto& e : list) names.push_back(e.display_name + "@" + std::string(root_kind_name(e.root)));
  EXPECT_NE(std::find(names.begin(), names.end(), "gemma4:tiny@locus"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "hf.co/someone/repo:Q8_0@ollama"), names.end());
  // Removing the locus one uncovers Ollama's.
  s.remove(parse_model_name("gemma4:tiny"));
  EXPECT_EQ(s.resolve("gemma4:tiny").root, StoreRootKind::ollama);
}

TEST_F(ModelStoreTest, CorruptManifestGivesAClearErrorAndStopsGarbageCollection) {
  ModelStore s = store();
  s.import_gguf(parse_model_name("good"), gguf_);
  const fs::path bad = locus_root_ / "manifests/registry.ollama.ai/library/broken/latest";
  write_text(bad, "{\"schemaVersion\":2,\"config\":");
  StoreError e = error_of([&] { s.resolve("broken"); });
  EXPECT_EQ(e.kind(), StoreErrorKind::corrupt);
  EXPECT_TRUE(contains(e.what(), bad.string())) << e.what();
  EXPECT_TRUE(contains(e.what(), "expected JSON")) << e.what();

  std::vector<std::string> skipped;
  EXPECT_EQ(s.list(&skipped).size(), 1u);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_TRUE(contains(skipped[0], bad.string())) << skipped[0];

  write_text(bad, R"({"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:123","size":1},"layers":[]})");
  e = error_of([&] { s.resolve("broken"); });
  EXPECT_TRUE(contains(e.what(), "config.digest: expected sha256:<64 hex digits>, found \"sha256:123\"")) << e.what();
  write_text(bad, R"({"schemaVersion":1})");
  e = error_of([&] { s.resolve("broken"); });
  EXPECT_TRUE(contains(e.what(), "schemaVersion: expected 2, found 1")) << e.what();

  // An orphan blob stays while a manifest cannot be read: it might be that manifest's.
  s.add_blob("orphan");
  const GcReport gc = s.collect_garbage();
  EXPECT_TRUE(contains(gc.skipped_because, bad.string())) << gc.skipped_because;
  EXPECT_TRUE(gc.removed_digests.empty());
  EXPECT_TRUE(fs::exists(s.blob_path("sha256:" + sha256_hex("orphan"))));
  fs::remove(bad);
  EXPECT_EQ(s.collect_garbage().removed_digests, std::vector<std::string>{"sha256:" + sha256_hex("orphan")});
}

TEST_F(ModelStoreTest, MissingOrTruncatedBlobIsNamed) {
  ModelStore s = store();
  ImportOptions opts;
  opts.template_text = "t";
  const ResolvedModel r = s.import_gguf(parse_model_name("m"), gguf_, opts);
  const fs::path tmpl = s.blob_path(r.manifest.find_layer(media_type::kTemplate)->digest);
  write_text(tmpl, "tt");
  StoreError e = error_of([&] { s.resolve("m"); });
  EXPECT_EQ(e.kind(), StoreErrorKind::corrupt);
  EXPECT_TRUE(contains(e.what(), "expected 1 bytes, found 2")) << e.what();
  fs::remove(tmpl);
  e = error_of([&] { s.resolve("m"); });
  EXPECT_TRUE(contains(e.what(), tmpl.string() + " (application/vnd.ollama.image.template) is missing")) << e.what();
}

TEST_F(ModelStoreTest, ResolveModelRefTakesPathsAndNames) {
  ModelStore s = store();
  s.import_gguf(parse_model_name("gemma4:tiny"), gguf_);
  EXPECT_EQ(s.resolve_model_ref("gemma4:tiny").root, StoreRootKind::locus);
  const ResolvedModel p = s.resolve_model_ref(gguf_.string());
  EXPECT_EQ(p.root, StoreRootKind::file);
  EXPECT_EQ(p.model_path, gguf_);
  EXPECT_EQ(p.size_bytes, fs::file_size(gguf_));
  EXPECT_FALSE(p.name.has_value());

  EXPECT_TRUE(ModelStore::looks_like_path("models/x.gguf"));
  EXPECT_TRUE(ModelStore::looks_like_path("x.GGUF"));
  EXPECT_TRUE(ModelStore::looks_like_path("./x"));
  EXPECT_FALSE(ModelStore::looks_like_path("hf.co/u/r:Q4_K_M"));
  EXPECT_FALSE(ModelStore::looks_like_path("gemma4"));

  StoreError e = error_of([&] { s.resolve_model_ref("missing/x.gguf"); });
  EXPECT_EQ(e.kind(), StoreErrorKind::not_found);
  EXPECT_TRUE(contains(e.what(), "missing/x.gguf")) << e.what();
  e = error_of([&] { s.resolve_model_ref("nothing:here"); });
  EXPECT_EQ(e.kind(), StoreErrorKind::not_found);
  EXPECT_TRUE(contains(e.what(), "\"nothing:here\" not found in " + locus_root_.string())) << e.what();
  const fs::path text = dir_ / "x.gguf";
  write_text(text, "GGU");
  e = error_of([&] { s.resolve_model_ref(text.string()); });
  EXPECT_TRUE(contains(e.what(), "expected magic \"GGUF\", found \"GGU\"")) << e.what();
}

TEST_F(ModelStoreTest, BlobWriterVerifiesAndRenames) {
  ModelStore s = store();
  const std::string data = "some blob bytes";
  const std::string digest = "sha256:" + sha256_hex(data);
  {
    BlobWriter w = s.open_blob_writer(digest, data.size());
    EXPECT_FALSE(w.complete());
    EXPECT_EQ(w.offset(), 0u);
    w.append(std::string_view(data).substr(0, 4));
    w.append(std::string_view(data).substr(4));
    EXPECT_EQ(w.finish(), s.blob_path(digest));
  }
  EXPECT_EQ(read_all(s.blob_path(digest)), data);
  EXPECT_FALSE(fs::exists(s.blob_path(digest).string() + "-partial"));
  BlobWriter again = s.open_blob_writer(digest, data.size());
  EXPECT_TRUE(again.complete());
  EXPECT_EQ(again.finish(), s.blob_path(digest));
}

TEST_F(ModelStoreTest, BlobWriterRejectsADigestMismatchAndRemovesThePartial) {
  ModelStore s = store();
  const std::string digest = "sha256:" + sha256_hex("the real bytes");
  BlobWriter w = s.open_blob_writer(digest);
  w.append("other bytes!!!");
  const StoreError e = error_of([&] { w.finish(); });
  EXPECT_EQ(e.kind(), StoreErrorKind::digest_mismatch);
  EXPECT_TRUE(contains(e.what(), "expected " + digest + ", found sha256:" + sha256_hex("other bytes!!!"))) << e.what();
  EXPECT_FALSE(fs::exists(s.blob_path(digest)));
  EXPECT_FALSE(fs::exists(s.blob_path(digest).string() + "-partial"));

  // Too many bytes for the announced size fail at once.
  BlobWriter sized = s.open_blob_writer(digest, 3);
  EXPECT_EQ(error_of([&] { sized.append("four"); }).kind(), StoreErrorKind::digest_mismatch);
  EXPECT_FALSE(fs::exists(s.blob_path(digest).string() + "-partial"));
  // And too few at finish().
  BlobWriter short_one = s.open_blob_writer(digest, 100);
  short_one.append("the real bytes");
  EXPECT_TRUE(contains(error_of([&] { short_one.finish(); }).what(), "expected 100 bytes, found 14"));
}

TEST_F(ModelStoreTest, BlobWriterResumesAPartialFile) {
  ModelStore s = store();
  std::string data(300000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 1000);
  const std::string digest = "sha256:" + sha256_hex(data);
  {
    BlobWriter w = s.open_blob_writer(digest, data.size());
    w.append(std::string_view(data).substr(0, 123457));
  }  // dropped mid-download: the partial file stays
  const fs::path partial = s.blob_path(digest).string() + "-partial";
  ASSERT_TRUE(fs::exists(partial));
  EXPECT_EQ(fs::file_size(partial), 123457u);
  // A collection meanwhile leaves downloads in progress alone.
  s.collect_garbage();
  ASSERT_TRUE(fs::exists(partial));

  BlobWriter w = s.open_blob_writer(digest, data.size());
  ASSERT_EQ(w.offset(), 123457u);
  w.append(std::string_view(data).substr(w.offset()));
  w.finish();
  EXPECT_EQ(read_all(s.blob_path(digest)), data);
  EXPECT_FALSE(fs::exists(partial));
}

TEST_F(ModelStoreTest, VerifyBlobNamesBothDigests) {
  ModelStore s = store();
  const std::string digest = s.add_blob("payload");
  EXPECT_NO_THROW(verify_blob(digest, s.blob_path(digest)));
  write_text(s.blob_path(digest), "tampered");
  const StoreError e = error_of([&] { verify_blob(digest, s.blob_path(digest)); });
  EXPECT_EQ(e.kind(), StoreErrorKind::digest_mismatch);
  EXPECT_TRUE(contains(e.what(), "expected " + digest + ", found sha256:" + sha256_hex("tampered"))) << e.what();
  EXPECT_EQ(error_of([&] { s.blob_path("sha256:XYZ"); }).kind(), StoreErrorKind::bad_input);
  EXPECT_EQ(s.blob_path("sha256-" + std::string(64, 'a')), s.blob_path("sha256:" + std::string(64, 'a')));
}

TEST(ModelStoreDetails, ParameterCountsAndFileTypes) {
  EXPECT_EQ(format_parameter_count(11'900'000'000), "11.9B");
  EXPECT_EQ(format_parameter_count(12'187'000'000), "12.2B");
  EXPECT_EQ(format_parameter_count(4'000'000'000), "4B");
  EXPECT_EQ(format_parameter_count(268'100'000), "268.1M");
  EXPECT_EQ(format_parameter_count(999'960'000), "1B");
  EXPECT_EQ(format_parameter_count(1'500), "1.5K");
  EXPECT_EQ(format_parameter_count(950), "950");
  EXPECT_EQ(file_type_name(15), "Q4_K_M");
  EXPECT_EQ(file_type_name(1), "F16");
  EXPECT_EQ(file_type_name(32), "BF16");
  EXPECT_EQ(file_type_name(4), "unknown (4)");
}

// The environment decides the roots; restored afterwards so other tests see what they expect.
class EnvVar {
 public:
  EnvVar(const char* key, const char* value) : key_(key) {
    if (const char* old = std::getenv(key)) old_ = old;
    if (value != nullptr) {
      ::setenv(key, value, 1);
    } else {
      ::unsetenv(key);
    }
  }
  ~EnvVar() {
    if (old_) {
      ::setenv(key_, old_->c_str(), 1);
    } else {
      ::unsetenv(key_);
    }
  }

 private:
  const char* key_;
  std::optional<std::string> old_;
};

TEST_F(ModelStoreTest, RootsComeFromTheEnvironment) {
  const fs::path home = dir_ / "home";
  fs::create_directories(home / ".ollama" / "models");
  {
    EnvVar h("HOME", home.c_str()), l("LOCUS_MODELS", nullptr), o("OLLAMA_MODELS", nullptr);
    const StoreRoots r = default_store_roots();
    EXPECT_EQ(r.locus, home / ".locus" / "models");
    ASSERT_TRUE(r.ollama.has_value());
    EXPECT_EQ(*r.ollama, home / ".ollama" / "models");
  }
  {
    EnvVar h("HOME", home.c_str()), l("LOCUS_MODELS", (dir_ / "lm").c_str()),
        o("OLLAMA_MODELS", (dir_ / "does-not-exist").c_str());
    const StoreRoots r = default_store_roots();
    EXPECT_EQ(r.locus, dir_ / "lm");
    EXPECT_FALSE(r.ollama.has_value());
  }
  {
    // The same folder for both: it is locus's, and writable.
    fs::create_directories(dir_ / "shared");
    EnvVar l("LOCUS_MODELS", (dir_ / "shared").c_str()), o("OLLAMA_MODELS", (dir_ / "shared").c_str());
    EXPECT_FALSE(default_store_roots().ollama.has_value());
  }
  {
    EnvVar h("HOME", nullptr), l("LOCUS_MODELS", nullptr);
    EXPECT_TRUE(contains(error_of([] { default_store_roots(); }).what(), "neither LOCUS_MODELS nor HOME"));
  }
}

}  // namespace
}  // namespace locus::runtime
