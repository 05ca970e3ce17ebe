// A request's model is a name, never a file (issue 12 §2): check_requested_model over many malformed and
// path-like names; the operator's --model / --model-dir specs and their start-up checks; and the real
// RuntimeBackend on a temporary store with a loadable tiny model *outside* it, which every route that takes a
// model must refuse by path (404) while serving it by the name the operator gave.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include "runtime/model_store.h"
#include "runtime/store_test_files.h"
#include "server/backend.h"
#include "server/served_models.h"
#include "server/server_config.h"

namespace locus::server {
namespace {

namespace fs = std::filesystem;

// Names that must never reach the file system as paths: traversal in every spelling we could think of.
const std::vector<std::string> kPathLike = {
    "../../../../etc/passwd",
    "/etc/passwd",
    "./m.gguf",
    "../m.gguf",
    "..",
    ".",
    "~/m.gguf",
    "~root/.ssh/id_rsa",
    "..\\..\\windows\\win.ini",
    "C:\\models\\m.gguf",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%2fetc%2fpasswd",
    "%2Fetc%2Fpasswd",
    "library/../../etc/passwd",
    "a/b/../../../etc/passwd",
    "registry.ollama.ai/library/../../../x",
    "m/../../x:latest",
    "model:../../tag",
    "model:tag/../x",
    std::string("m\0/../../etc/passwd", 19),
    std::string("etc/passwd\0.gguf", 16),
    "//etc/passwd",
    "/proc/self/environ",
    "/dev/zero",
    "a/./b",
    "a//b",
    "m\n",
    " m",
    "m ",
    "\xc0\xae\xc0\xae/etc/passwd",  // overlong UTF-8 for '.'
};

// Names that parse, however much they look like files: looked up by name (host "C:", model "m.gguf" ...) under the
// store's manifests/ folder only, so they are 404s like any unknown model.
const std::vector<std::string> kNamesLikePaths = {"C:/models/m.gguf", "m.gguf", "etc/passwd", "tmp/x.gguf",
                                                  "localhost:1/etc/passwd"};

TEST(CheckRequestedModel, ValidNamesPass) {
  std::vector<std::string> valid = {"gemma4", "gemma4:e2b", "user/m:v2", "hf.co/unsloth/gemma-4-GGUF:Q4_K_M",
                                    "localhost:5000/ns/m:t"};
  valid.insert(valid.end(), kNamesLikePaths.begin(), kNamesLikePaths.end());
  for (const std::string& n : valid) {
    const RequestedModel r = check_requested_model(n);
    EXPECT_FALSE(r.error) << n << ": " << r.error->message;
    EXPECT_TRUE(r.name) << n;
  }
}

TEST(CheckRequestedModel, PathsAndMalformedNamesAre404WithTheReason) {
  for (const std::string& n : kPathLike) {
    const RequestedModel r = check_requested_model(n);
    ASSERT_TRUE(r.error) << "accepted: " << n;
    EXPECT_EQ(r.error->http_status, 404) << n;
    EXPECT_EQ(r.error->param, "model") << n;
    EXPECT_NE(r.error->message.find("not found"), std::string::npos) << r.error->message;
    EXPECT_NE(r.error->message.find("not a valid model name"), std::string::npos) << r.error->message;
    EXPECT_EQ(r.error->message.find('\0'), std::string::npos) << "a NUL is shown escaped: " << n;
  }
  // Those that look like files say how files are served instead.
  for (const char* n : {"../../../../etc/passwd", "/etc/passwd", "..\\x", "%2e%2e%2fx", "~/m.gguf"}) {
    EXPECT_NE(check_requested_model(n).error->message.find("--model NAME=PATH"), std::string::npos) << n;
  }
}

TEST(CheckRequestedModel, EmptyIs400AndHugeIsShortened) {
  const RequestedModel empty = check_requested_model("");
  ASSERT_TRUE(empty.error);
  EXPECT_EQ(empty.error->http_status, 400);
  EXPECT_NE(empty.error->message.find("model is required"), std::string::npos);

  for (size_t size : {kMaxModelNameChars + 1, size_t{100000}, size_t{1} << 20}) {
    const RequestedModel r = check_requested_model(std::string(size, 'a'));
    ASSERT_TRUE(r.error) << size;
    EXPECT_EQ(r.error->http_status, 404);
    EXPECT_LT(r.error->message.size(), 400u) << "a huge name is not echoed back";
    EXPECT_NE(r.error->message.find(std::to_string(size) + " characters"), std::string::npos) << r.error->message;
  }
  // A part over its limit: the parser's reason, the name still shortened.
  const RequestedModel part = check_requested_model(std::string(200, 'b'));
  ASSERT_TRUE(part.error);
  EXPECT_NE(part.error->message.find("at most 80 allowed"), std::string::npos) << part.error->message;
}

TEST(ModelNotFound, NamesTheModelAndHintsForFileNames) {
  const ApiError e = model_not_found("nope:latest");
  EXPECT_EQ(e.http_status, 404);
  EXPECT_EQ(e.message, "model \"nope:latest\" not found, try pulling it first");
  EXPECT_NE(model_not_found("m.gguf").message.find("--model NAME=PATH"), std::string::npos);
}

TEST(ServeEnvironment, ModelFilesAndDirComeBeforeTheFlags) {
  std::map<std::string, std::string> env = {{"LOCUS_MODEL_FILES", " a=/m/a.gguf, b=/m/b.gguf ,"},
                                            {"LOCUS_MODEL_DIR", "/m/dir"}};
  auto getenv_fn = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  ServeOptions o;
  o.model_files = {"flag=/m/f.gguf"};  // as if a flag had been given first: the environment's still come first
  o.model_dirs = {"/flag/dir"};
  ASSERT_FALSE(apply_environment(o, getenv_fn).has_value());
  EXPECT_EQ(o.model_files, (std::vector<std::string>{"a=/m/a.gguf", "b=/m/b.gguf", "flag=/m/f.gguf"}));
  EXPECT_EQ(o.model_dirs, (std::vector<std::string>{"/m/dir", "/flag/dir"}));
  // An item "mmproj=..." belongs to the model before it, as in --model NAME=PATH,mmproj=FILE.
  env = {{"LOCUS_MODEL_FILES", "a=/m/a.gguf,mmproj=/m/pa.gguf, b=/m/b.gguf,mmproj=none,c=/m/c.gguf"}};
  ServeOptions with_projectors;
  ASSERT_FALSE(apply_environment(with_projectors, getenv_fn).has_value());
  EXPECT_EQ(with_projectors.model_files,
            (std::vector<std::string>{"a=/m/a.gguf,mmproj=/m/pa.gguf", "b=/m/b.gguf,mmproj=none", "c=/m/c.gguf"}));
  ServeOptions none;
  env.clear();
  ASSERT_FALSE(apply_environment(none, getenv_fn).has_value());
  EXPECT_TRUE(none.model_files.empty());
  EXPECT_TRUE(none.model_dirs.empty());
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("locus_served_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& bytes) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  fs::path dir_;
};

using ServedSpecs = TempDir;

TEST_F(ServedSpecs, ParsesNameEqualsPath) {
  std::vector<ServedFile> files;
  EXPECT_FALSE(parse_served_file("tiny=/m/t.gguf", files));
  EXPECT_FALSE(parse_served_file("user/Big:q8=/m/a=b.gguf", files));  // the first '=' ends the name
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].name.display(), "tiny:latest");
  EXPECT_EQ(files[0].path, fs::path("/m/t.gguf"));
  EXPECT_EQ(files[1].name.display(), "user/Big:q8");
  EXPECT_EQ(files[1].path, fs::path("/m/a=b.gguf"));
}

TEST_F(ServedSpecs, ParsesAProjectorAfterThePath) {
  std::vector<ServedFile> files;
  EXPECT_FALSE(parse_served_file("a=/m/a.gguf,mmproj=/m/p.gguf", files));
  EXPECT_FALSE(parse_served_file("b=/m/with,comma.gguf,mmproj=/m/p,2.gguf", files));  // the last ",mmproj=" splits
  EXPECT_FALSE(parse_served_file("c=/m/c.gguf,mmproj=none", files));
  EXPECT_FALSE(parse_served_file("d=/m/with,comma.gguf", files));
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[0].path, fs::path("/m/a.gguf"));
  EXPECT_EQ(files[0].mmproj, fs::path("/m/p.gguf"));
  EXPECT_EQ(files[0].mmproj_origin, "--model a=/m/a.gguf,mmproj=/m/p.gguf");
  EXPECT_EQ(files[1].path, fs::path("/m/with,comma.gguf"));
  EXPECT_EQ(files[1].mmproj, fs::path("/m/p,2.gguf"));
  EXPECT_EQ(files[2].path, fs::path("/m/c.gguf"));
  EXPECT_FALSE(files[2].mmproj);
  EXPECT_TRUE(files[2].no_mmproj);
  EXPECT_EQ(files[3].path, fs::path("/m/with,comma.gguf"));
  EXPECT_FALSE(files[3].mmproj || files[3].no_mmproj);
  for (const auto& [spec, want] : std::vector<std::pair<std::string, std::string>>{
           {"a=/m/a.gguf,mmproj=", "found nothing after mmproj="}, {"a=,mmproj=/m/p.gguf", "no path after '='"}}) {
    const auto err = parse_served_file(spec, files);
    ASSERT_TRUE(err) << spec;
    EXPECT_NE(err->find(want), std::string::npos) << *err;
  }
}

TEST_F(ServedSpecs, MalformedSpecsSayWhatWasExpected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/m/t.gguf", "expected NAME=PATH"},
      {"tiny=", "no path after '='"},
      {"=/m/t.gguf", "invalid model name"},
      {"../x=/m/t.gguf", "invalid model name"},
      {"a b=/m/t.gguf", "invalid model name"},
  };
  for (const auto& [spec, want] : cases) {
    std::vector<ServedFile> files;
    const auto err = parse_served_file(spec, files);
    ASSERT_TRUE(err) << spec;
    EXPECT_NE(err->find(want), std::string::npos) << *err;
    EXPECT_NE(err->find("--model " + spec), std::string::npos) << *err;
    EXPECT_TRUE(files.empty());
  }
}

TEST_F(ServedSpecs, StartUpCheckRefusesMissingFoldersNonGgufAndDuplicates) {
  const fs::path good = write("good.gguf", "GGUF\x03rest");
  const fs::path text = write("passwd", "root:x:0:0:root:/root:/bin/bash\n");
  auto check = [](std::vector<std::string> specs, std::vector<std::string> dirs = {}) {
    return served_files_from(specs, dirs).error.value_or("");
  };
  EXPECT_EQ(check({"g=" + good.string()}), "");
  EXPECT_NE(check({"g=" + (dir_ / "missing.gguf").string()}).find("does not exist"), std::string::npos);
  EXPECT_NE(check({"g=" + dir_.string()}).find("expected a GGUF file, found a folder"), std::string::npos);
  const std::string not_gguf = check({"g=" + text.string()});
  EXPECT_NE(not_gguf.find("is not a GGUF file"), std::string::npos) << not_gguf;
  EXPECT_NE(not_gguf.find("--model g="), std::string::npos) << not_gguf;
  const std::string twice = check({"g=" + good.string(), "G:latest=" + good.string()});
  EXPECT_NE(twice.find("is given twice"), std::string::npos) << twice;
  // The folder serves good.gguf as "good": a --model of that name clashes with it.
  EXPECT_EQ(check({"g=" + good.string()}, {dir_.string()}), "");
  const std::string clash = check({"Good=" + good.string()}, {dir_.string()});
  EXPECT_NE(clash.find(":latest\" is given twice: by --model Good="), std::string::npos) << clash;
  EXPECT_NE(clash.find("and by --model-dir " + dir_.string()), std::string::npos) << clash;
}

TEST_F(ServedSpecs, FolderServesEveryGgufByStem) {
  write("models/gemma-4-e2b.gguf", "GGUF....");
  write("models/Other.GGUF", "GGUF....");
  write("models/mmproj-gemma.gguf", "GGUF....");  // a projector: no model to chat with
  write("models/readme.txt", "hi");
  write("models/sub/deep.gguf", "GGUF....");  // sub-folders are not searched
  const ServedFilesResult r = served_files_from({}, {(dir_ / "models").string()});
  ASSERT_FALSE(r.error) << *r.error;
  std::vector<std::string> names;
  for (const auto& f : r.files) names.push_back(f.name.display());
  EXPECT_EQ(names, (std::vector<std::string>{"Other:latest", "gemma-4-e2b:latest"}));

  EXPECT_NE(served_files_from({}, {(dir_ / "none").string()}).error->find("no such folder"), std::string::npos);
  EXPECT_NE(served_files_from({}, {(dir_ / "models/readme.txt").string()}).error->find("expected a folder"),
            std::string::npos);
  fs::create_directories(dir_ / "empty");
  EXPECT_NE(served_files_from({}, {(dir_ / "empty").string()}).error->find("found none"), std::string::npos);
  write("bad/.hidden.gguf", "GGUF....");
  const auto bad = served_files_from({}, {(dir_ / "bad").string()}).error;
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->find("cannot be served under its file name"), std::string::npos) << *bad;
  write("notgguf/x.gguf", "root:x:0:0");
  EXPECT_NE(served_files_from({}, {(dir_ / "notgguf").string()}).error->find("is not a GGUF file"), std::string::npos);
}

// Each served file's projector, chosen at start-up: given, found beside it, refused, or none.
class ServedProjectors : public TempDir {
 protected:
  void SetUp() override {
    TempDir::SetUp();
    a_ = dir_ / "a" / "model.gguf";
    b_ = dir_ / "b" / "model.gguf";
    runtime::testing::write_tiny_gguf(a_, 1, 15, "gemma4", 64);
    runtime::testing::write_tiny_gguf(b_, 2, 15, "gemma4", 64);
    runtime::testing::write_projector_gguf(dir_ / "a" / "mmproj-a.gguf");
    runtime::testing::write_projector_gguf(dir_ / "given.gguf");
  }
  ServedFilesResult serve(std::vector<std::string> specs, std::vector<std::string> dirs = {},
                          ServedProjectorOptions p = {}) {
    return served_files_from(specs, dirs, p);
  }
  fs::path a_, b_;
};

TEST_F(ServedProjectors, TheOneBesideTheModelIsUsedAndSaidSo) {
  const ServedFilesResult r = serve({"a=" + a_.string(), "b=" + b_.string()});
  ASSERT_FALSE(r.error) << *r.error;
  ASSERT_TRUE(r.files[0].projector);
  EXPECT_EQ(r.files[0].projector->path, dir_ / "a" / "mmproj-a.gguf");
  EXPECT_NE(r.files[0].projector_note.find("found beside the model and used automatically"), std::string::npos);
  EXPECT_FALSE(r.files[1].projector);
  EXPECT_NE(r.files[1].projector_note.find("none beside the model"), std::string::npos);
  // What a request resolves to carries it, and the digest tells the two apart.
  const runtime::ResolvedModel ra = resolve_served_file(r.files[0]);
  ASSERT_TRUE(ra.projector && ra.projector_path);
  EXPECT_EQ(*ra.projector_path, dir_ / "a" / "mmproj-a.gguf");
  const ServedFilesResult plain = serve({"a=" + a_.string() + ",mmproj=none"});
  ASSERT_FALSE(plain.error) << *plain.error;
  EXPECT_FALSE(plain.files[0].projector);
  const runtime::ResolvedModel rp = resolve_served_file(plain.files[0]);
  EXPECT_FALSE(rp.projector || rp.projector_path);
  EXPECT_NE(ra.digest, rp.digest);
  // A folder serves the model, not the projector, and the model gets it.
  const ServedFilesResult folder = serve({}, {(dir_ / "a").string()});
  ASSERT_FALSE(folder.error) << *folder.error;
  ASSERT_EQ(folder.files.size(), 1u);
  EXPECT_TRUE(folder.files[0].projector);
  // --no-mmproj: none anywhere.
  ServedProjectorOptions off;
  off.no_mmproj = true;
  const ServedFilesResult none = serve({"a=" + a_.string()}, {}, off);
  ASSERT_FALSE(none.error) << *none.error;
  EXPECT_FALSE(none.files[0].projector);
}

TEST_F(ServedProjectors, GivenProjectorsWinAndAreCheckedStrictly) {
  ServedFilesResult r = serve({"b=" + b_.string() + ",mmproj=" + (dir_ / "given.gguf").string()});
  ASSERT_FALSE(r.error) << *r.error;
  ASSERT_TRUE(r.files[0].projector);
  EXPECT_EQ(r.files[0].projector->path, dir_ / "given.gguf");
  EXPECT_NE(r.files[0].projector_note.find("given with --model b="), std::string::npos) << r.files[0].projector_note;

  ServedProjectorOptions flag;
  flag.mmproj = dir_ / "given.gguf";
  r = serve({"a=" + a_.string()}, {}, flag);  // wins over the one beside it
  ASSERT_FALSE(r.error) << *r.error;
  EXPECT_EQ(r.files[0].projector->path, dir_ / "given.gguf");
  EXPECT_NE(r.files[0].projector_note.find("given with --mmproj"), std::string::npos);

  runtime::testing::TestProjector narrow;
  narrow.vision_dim = narrow.audio_dim = 32;
  runtime::testing::write_projector_gguf(dir_ / "narrow.gguf", narrow);
  write("text.gguf", "root:x:0:0");
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"b=" + b_.string() + ",mmproj=" + (dir_ / "narrow.gguf").string()},
       "projects to width 32, the model's embedding length is 64"},
      {{"b=" + b_.string() + ",mmproj=" + (dir_ / "missing.gguf").string()}, "does not exist"},
      {{"b=" + b_.string() + ",mmproj=" + (dir_ / "text.gguf").string()}, "does not read as GGUF"},
      {{"b=" + b_.string() + ",mmproj=" + a_.string()}, "expected \"clip\""},
  };
  for (const auto& [specs, want] : bad) {
    const ServedFilesResult e = serve(specs);
    ASSERT_TRUE(e.error) << specs[0];
    EXPECT_NE(e.error->find(want), std::string::npos) << *e.error;
    EXPECT_NE(e.error->find("--model " + specs[0]), std::string::npos) << *e.error;
    EXPECT_EQ(e.error->find('\n'), std::string::npos) << *e.error;
  }
  flag.mmproj = dir_ / "narrow.gguf";
  r = serve({"b=" + b_.string()}, {}, flag);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("--mmproj " + (dir_ / "narrow.gguf").string() + ": projector"), std::string::npos) << *r.error;
}

TEST_F(ServedProjectors, MisusedFlagsAndAmbiguousFoldersAreRefused) {
  ServedProjectorOptions flag;
  flag.mmproj = dir_ / "given.gguf";
  ServedFilesResult r = serve({"a=" + a_.string(), "b=" + b_.string()}, {}, flag);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("applies when one model is served, found 2"), std::string::npos) << *r.error;
  r = serve({"b=" + b_.string() + ",mmproj=none"}, {}, flag);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("already says which projector it has"), std::string::npos) << *r.error;
  flag.no_mmproj = true;
  r = serve({"b=" + b_.string()}, {}, flag);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("contradict"), std::string::npos) << *r.error;

  // Two projectors of the model's width beside it: refused, naming both and how to choose.
  runtime::testing::TestProjector f32;
  f32.seed = 7;
  runtime::testing::write_projector_gguf(dir_ / "a" / "mmproj-a-f32.gguf", f32);
  r = serve({"a=" + a_.string()});
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->find("--model a=" + a_.string() + ": model "), std::string::npos) << *r.error;
  EXPECT_NE(r.error->find("mmproj-a-f32.gguf, mmproj-a.gguf"), std::string::npos) << *r.error;
  EXPECT_NE(r.error->find("mmproj=FILE"), std::string::npos) << *r.error;
  // Either way out works.
  EXPECT_FALSE(serve({"a=" + a_.string() + ",mmproj=" + (dir_ / "a" / "mmproj-a.gguf").string()}).error);
  EXPECT_FALSE(serve({"a=" + a_.string() + ",mmproj=none"}).error);
}

// The real backend: a tiny model that loads, kept outside the store.
class BackendByName : public TempDir {
 protected:
  void SetUp() override {
    TempDir::SetUp();
    model_ = dir_ / "outside" / "tiny.gguf";
    fs::create_directories(model_.parent_path());
    const std::string cmd =
        std::string(LOCUS_MKMODEL) + " --preset tiny --type Q8_0 --layers 1 -q -o " + model_.string();
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("mkmodel failed: " + cmd);
    runtime::StoreRoots roots;
    roots.locus = dir_ / "store";
    store_ = std::make_unique<runtime::ModelStore>(roots);
  }
  void TearDown() override {
    backend_.reset();
    store_.reset();
    TempDir::TearDown();
  }
  RuntimeBackend& backend(std::vector<std::string> specs = {}) {
    BackendOptions o;
    o.n_slots = 1;
    o.slot_ctx = 256;
    o.n_threads = 1;
    const ServedFilesResult served = served_files_from(specs, {});
    if (served.error) throw std::runtime_error(*served.error);
    o.files = served.files;
    backend_ = std::make_unique<RuntimeBackend>(*store_, o);
    return *backend_;
  }
  StartResult load(const std::string& model, std::optional<KeepAlive> keep_alive = std::nullopt) {
    ApiRequest req;
    req.model = model;
    req.load_only = true;
    req.keep_alive = keep_alive;
    return backend_->generate(req);
  }
  fs::path model_;
  std::unique_ptr<runtime::ModelStore> store_;
  std::unique_ptr<RuntimeBackend> backend_;
};

// Every route that takes a model, given `model`: the statuses it answered (0 for success).
std::vector<int> statuses(RuntimeBackend& b, const std::string& model) {
  std::vector<int> out;
  auto status = [](const std::optional<ApiError>& e) { return e ? e->http_status : 0; };
  ApiRequest load;
  load.model = model;
  load.load_only = true;
  out.push_back(status(b.generate(load).error));
  ApiRequest unload = load;
  unload.keep_alive = KeepAlive{false, 0};
  out.push_back(status(b.generate(unload).error));
  ApiRequest chat;
  chat.model = model;
  chat.conversation.messages.push_back(text::ChatMessage{});
  out.push_back(status(b.generate(chat).error));
  EmbedRequest embed;
  embed.model = model;
  embed.inputs.push_back(EmbedInput{});
  out.push_back(status(b.embed(embed, [] { return false; }).error));
  out.push_back(status(b.show(model, false).error));
  out.push_back(status(b.openai_model(model).error));
  out.push_back(status(b.remove(model).error));
  out.push_back(status(b.copy(model, "copied").error));
  return out;
}

TEST_F(BackendByName, AModelFileThatWouldLoadCannotBeNamedByPath) {
  RuntimeBackend& b = backend();
  // Every spelling of the path of a model that loads: absolute, relative to the working folder, with
  // traversal, with the extension upper-cased... all 404, never loaded, never shown.
  const std::string abs = model_.string();
  const std::string rel = fs::relative(model_, fs::current_path()).string();
  for (const std::string& path : {abs, rel, "./" + rel, abs.substr(1), dir_.string() + "/outside/../outside/tiny.gguf",
                                  "/../../../../" + abs.substr(1)}) {
    const std::vector<int> got = statuses(b, path);
    EXPECT_EQ(got, std::vector<int>(got.size(), 404)) << path;
  }
  const JsonReply shown = b.show(abs, false);
  ASSERT_TRUE(shown.error);
  EXPECT_EQ(shown.error->message.find("magic"), std::string::npos) << "nothing of the file is revealed: "
                                                                   << shown.error->message;
  EXPECT_TRUE(b.ps().body["models"].empty()) << b.ps().body.dump();
  EXPECT_FALSE(fs::exists(dir_ / "store" / "manifests")) << "nothing was copied into the store";
}

TEST_F(BackendByName, SystemFilesAre404WithoutTheirBytes) {
  RuntimeBackend& b = backend();
  std::vector<std::string> all = kPathLike;
  all.insert(all.end(), kNamesLikePaths.begin(), kNamesLikePaths.end());
  for (const std::string& path : all) {
    const std::vector<int> got = statuses(b, path);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(got[i] == 404) << path << " route " << i << ": " << got[i];
  }
  const JsonReply r = b.show("../../../../etc/passwd", false);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->message.find("root"), std::string::npos) << r.error->message;
}

TEST_F(BackendByName, ServedFileWorksByItsNameOnEveryRoute) {
  RuntimeBackend& b = backend({"tiny=" + model_.string()});
  const JsonReply tags = b.tags();
  ASSERT_EQ(tags.body["models"].size(), 1u) << tags.body.dump();
  EXPECT_EQ(tags.body["models"][0]["name"], "tiny:latest");
  EXPECT_EQ(tags.body["models"][0]["digest"].get<std::string>().size(), 64u);
  EXPECT_EQ(tags.body["models"][0]["details"]["format"], "gguf");
  const JsonReply models = b.openai_models();
  ASSERT_EQ(models.body["data"].size(), 1u);
  EXPECT_EQ(models.body["data"][0]["id"], "tiny:latest");
  EXPECT_FALSE(b.openai_model("tiny").error);
  EXPECT_FALSE(b.openai_model("TINY:latest").error) << "names match without regard to case, as in the store";

  const JsonReply shown = b.show("tiny", false);
  ASSERT_FALSE(shown.error) << shown.error->message;
  EXPECT_TRUE(shown.body.contains("model_info"));
  const StartResult loaded = load("tiny:latest");
  ASSERT_FALSE(loaded.error) << loaded.error->message;
  const JsonReply ps = b.ps();
  ASSERT_EQ(ps.body["models"].size(), 1u);
  EXPECT_EQ(ps.body["models"][0]["name"], "tiny:latest");
  EXPECT_FALSE(load("tiny", KeepAlive{false, 0}).error);  // unload by name

  // Not store models: the API neither deletes nor copies them, nor lets a copy hide under their name.
  const JsonReply removed = b.remove("tiny");
  ASSERT_TRUE(removed.error);
  EXPECT_EQ(removed.error->http_status, 403);
  EXPECT_TRUE(fs::exists(model_));
  EXPECT_EQ(b.copy("tiny", "other").error.value_or(ApiError{}).http_status, 400);
  // The path itself still names nothing.
  EXPECT_EQ(load(model_.string()).error.value_or(ApiError{}).http_status, 404);
  EXPECT_EQ(load("other").error.value_or(ApiError{}).http_status, 404);
}

TEST_F(BackendByName, StoreModelsStillServeAndAServedNameHidesOne) {
  store_->import_gguf(runtime::parse_model_name("stored:v1"), model_);
  store_->import_gguf(runtime::parse_model_name("tiny"), model_);
  RuntimeBackend& b = backend({"tiny=" + model_.string()});
  EXPECT_FALSE(load("stored:v1").error);
  std::vector<std::string> names;
  const JsonReply tags = b.tags();
  for (const auto& m : tags.body["models"]) names.push_back(m["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"tiny:latest", "stored:v1"}));
  EXPECT_EQ(b.copy("stored:v1", "tiny").error.value_or(ApiError{}).http_status, 400);
  EXPECT_FALSE(b.copy("stored:v1", "stored:v2").error);
  EXPECT_FALSE(b.remove("stored:v2").error);
}

// /api/show, /api/tags and /v1/models report vision and audio exactly when the model has a usable projector:
// a served file with locus-mkmodel's projector beside it, the same file served with mmproj=none, a store model
// with a projector layer, and one without.
TEST_F(BackendByName, CapabilitiesAndProjectorInfoFollowTheProjector) {
  const fs::path vision = dir_ / "vision" / "m.gguf";
  fs::create_directories(vision.parent_path());
  const std::string cmd = std::string(LOCUS_MKMODEL) + " --preset tiny --type Q8_0 --layers 1 -q -o " +
                          vision.string() + " --mmproj " + (vision.parent_path() / "mmproj-m.gguf").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  runtime::ImportOptions with_projector;
  with_projector.projector_path = vision.parent_path() / "mmproj-m.gguf";
  store_->import_gguf(runtime::parse_model_name("stored-vision"), vision, with_projector);
  store_->import_gguf(runtime::parse_model_name("stored-text"), vision);
  RuntimeBackend& b = backend({"seeing=" + vision.string(), "blind=" + vision.string() + ",mmproj=none",
                               "plain=" + model_.string()});
  const nlohmann::ordered_json with = {"completion", "vision", "audio", "tools", "thinking"};
  const nlohmann::ordered_json without = {"completion", "tools", "thinking"};
  const std::map<std::string, nlohmann::ordered_json> want = {{"seeing:latest", with},
                                                              {"blind:latest", without},
                                                              {"plain:latest", without},
                                                              {"stored-vision:latest", with},
                                                              {"stored-text:latest", without}};
  for (const auto& [name, caps] : want) {
    const JsonReply shown = b.show(name, false);
    ASSERT_FALSE(shown.error) << name << ": " << shown.error->message;
    EXPECT_EQ(shown.body["capabilities"], caps) << name;
    EXPECT_EQ(shown.body.contains("projector_info"), caps == with) << name;
    const JsonReply one = b.openai_model(name);
    ASSERT_FALSE(one.error) << name;
    EXPECT_EQ(one.body["capabilities"], caps) << name;
  }
  size_t listed = 0;
  const JsonReply tags = b.tags(), models = b.openai_models();
  for (const auto& m : tags.body["models"]) {
    EXPECT_EQ(m["capabilities"], want.at(m["name"].get<std::string>())) << m.dump();
    ++listed;
  }
  for (const auto& m : models.body["data"]) {
    EXPECT_EQ(m["capabilities"], want.at(m["id"].get<std::string>())) << m.dump();
    EXPECT_EQ(m["object"], "model");
  }
  EXPECT_EQ(listed, want.size());

  const JsonReply shown = b.show("seeing", false);
  const auto& info = shown.body["projector_info"];
  EXPECT_EQ(info["general.architecture"], "clip");
  EXPECT_EQ(info["clip.vision.projector_type"], "gemma4uv");
  EXPECT_EQ(info["clip.audio.projector_type"], "gemma4ua");
  EXPECT_EQ(info["clip.has_vision_encoder"], true);
  EXPECT_EQ(info["clip.vision.projection_dim"], shown.body["model_info"]["gemma4.embedding_length"]);
  EXPECT_GT(info["general.parameter_count"].get<uint64_t>(), 0u);
  EXPECT_TRUE(info["clip.vision.image_mean"].is_null()) << "arrays only when verbose, as Ollama sends them";
  EXPECT_TRUE(b.show("seeing", true).body["projector_info"]["clip.vision.image_mean"].is_array());
  // The body's keys in Ollama's order: model_info, projector_info, capabilities.
  std::vector<std::string> keys;
  for (const auto& [k, v] : shown.body.items()) keys.push_back(k);
  const auto at = [&](const std::string& k) { return std::find(keys.begin(), keys.end(), k) - keys.begin(); };
  EXPECT_LT(at("model_info"), at("projector_info"));
  EXPECT_LT(at("projector_info"), at("capabilities"));
  // The Modelfile names the projector on a second FROM line, as Ollama writes it.
  const std::string modelfile = shown.body["modelfile"];
  EXPECT_NE(modelfile.find("FROM " + vision.string() + "\nFROM " + (vision.parent_path() / "mmproj-m.gguf").string() +
                           "\n"),
            std::string::npos)
      << modelfile;
  EXPECT_FALSE(load("seeing").error);  // the text model loads as ever
}

}  // namespace
}  // namespace locus::server
