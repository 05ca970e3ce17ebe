// model_projector.h: what passes as a Gemma 4 projector and every way a file fails (one line naming the file,
// what was expected and what was found), the model's width, and find_projector's choice: a projector given
// explicitly, an mmproj*.gguf beside the model, several of them (the one of the model's width, or a refusal when
// that still leaves more than one), candidates passed over with the reason, and a property test over random
// folders against an independent statement of the rule.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "runtime/model_projector.h"
#include "runtime/store_test_files.h"

namespace locus::runtime {
namespace {
namespace fs = std::filesystem;
using testing::contains;
using testing::TestProjector;
using testing::write_projector_gguf;
using testing::write_text;
using testing::write_tiny_gguf;

StoreError error_of(const std::function<void()>& f) {
  return testing::error_of<StoreError>(f, StoreError(StoreErrorKind::io, "(no error)"));
}

class ProjectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / (std::string("model_projector_test_") + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    model_ = dir_ / "models" / "gemma.gguf";
    write_tiny_gguf(model_, 1, 15, "gemma4", 64);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_, model_;
};

TEST_F(ProjectorTest, ReadsWhatAProjectorOffers) {
  struct Case {
    bool vision, audio;
  };
  for (const Case c : {Case{true, true}, Case{true, false}, Case{false, true}}) {
    TestProjector t;
    t.vision = c.vision;
    t.audio = c.audio;
    t.vision_dim = c.vision ? 96 : 0;
    t.audio_dim = c.audio ? 96 : 0;
    const fs::path p = dir_ / ("p" + std::to_string(c.vision) + std::to_string(c.audio) + ".gguf");
    write_projector_gguf(p, t);
    const ProjectorInfo info = inspect_projector(p);
    EXPECT_EQ(info.path, p);
    EXPECT_EQ(info.has_vision, c.vision);
    EXPECT_EQ(info.has_audio, c.audio);
    EXPECT_EQ(info.projection_dim, 96u);
    EXPECT_EQ(info.parameter_count, 32u);
    EXPECT_EQ(projector_modalities(info), c.vision && c.audio ? "vision and audio" : c.vision ? "vision" : "audio");
  }
  // Older converters write one clip.projector_type for the file.
  TestProjector common;
  common.audio = false;
  common.audio_dim = 0;
  common.audio_type = "";
  common.vision_type = "";
  common.common_type = "gemma4uv";
  write_projector_gguf(dir_ / "common.gguf", common);
  EXPECT_TRUE(inspect_projector(dir_ / "common.gguf").has_vision);
}

TEST_F(ProjectorTest, EveryWrongFileIsOneLineSayingWhatWasExpectedAndFound) {
  struct Case {
    std::string name;
    std::function<void(const fs::path&)> make;
    StoreErrorKind kind;
    std::vector<std::string> said;
  };
  const auto projector = [](TestProjector t) { return [t](const fs::path& p) { write_projector_gguf(p, t); }; };
  TestProjector model_arch, no_arch, neither, wrong_vision, wrong_audio, no_type, no_dim, disagree, vision_only_bad_audio;
  model_arch.arch = "gemma4";
  no_arch.arch = "";
  neither.vision = neither.audio = false;
  wrong_vision.vision_type = "gemma3";
  wrong_audio.audio_type = "whisper";
  no_type.vision_type = "";
  no_dim.vision_dim = 0;
  disagree.audio_dim = 65;
  vision_only_bad_audio.audio = false;  // the audio keys are not read when there is no audio encoder
  vision_only_bad_audio.audio_type = "whisper";
  const std::vector<Case> cases = {
      {"missing", [](const fs::path&) {}, StoreErrorKind::not_found, {"does not exist"}},
      {"folder", [](const fs::path& p) { fs::create_directories(p); }, StoreErrorKind::bad_input,
       {"expected a GGUF file, found a folder"}},
      {"text", [](const fs::path& p) { write_text(p, "root:x:0:0\n"); }, StoreErrorKind::bad_input,
       {"does not read as GGUF"}},
      {"empty", [](const fs::path& p) { write_text(p, ""); }, StoreErrorKind::bad_input, {"does not read as GGUF"}},
      {"truncated",
       [](const fs::path& p) {
         write_projector_gguf(p);
         fs::resize_file(p, 40);
       },
       StoreErrorKind::bad_input, {"does not read as GGUF"}},
      {"a model", [](const fs::path& p) { write_tiny_gguf(p, 3, 15, "gemma4", 64); }, StoreErrorKind::bad_input,
       {"general.architecture: expected \"clip\"", "found \"gemma4\"", "not its projector"}},
      {"model arch", projector(model_arch), StoreErrorKind::bad_input, {"found \"gemma4\""}},
      {"no arch", projector(no_arch), StoreErrorKind::bad_input, {"expected \"clip\"", "the key is absent"}},
      {"neither", projector(neither), StoreErrorKind::bad_input, {"found neither"}},
      {"vision type", projector(wrong_vision), StoreErrorKind::bad_input,
       {"vision projector type: expected \"gemma4uv\"", "found \"gemma3\""}},
      {"audio type", projector(wrong_audio), StoreErrorKind::bad_input,
       {"audio projector type: expected \"gemma4ua\"", "found \"whisper\""}},
      {"no type", projector(no_type), StoreErrorKind::bad_input, {"clip.vision.projector_type", "the key is absent"}},
      {"no width", projector(no_dim), StoreErrorKind::bad_input, {"clip.vision.projection_dim: expected a positive width"}},
      {"widths disagree", projector(disagree), StoreErrorKind::bad_input, {"to agree, found 64 and 65"}},
  };
  for (const Case& c : cases) {
    const fs::path p = dir_ / "bad" / (c.name + ".gguf");
    fs::create_directories(p.parent_path());
    c.make(p);
    const StoreError e = error_of([&] { inspect_projector(p); });
    EXPECT_EQ(e.kind(), c.kind) << c.name << ": " << e.what();
    const std::string what = e.what();
    EXPECT_TRUE(contains(what, "projector " + p.string())) << c.name << ": " << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    for (const auto& s : c.said) EXPECT_TRUE(contains(what, s)) << c.name << ": " << what;
  }
  write_projector_gguf(dir_ / "ok.gguf", vision_only_bad_audio);
  EXPECT_NO_THROW(inspect_projector(dir_ / "ok.gguf"));
}

TEST_F(ProjectorTest, TheModelsWidthDecidesWhetherAProjectorFits) {
  EXPECT_EQ(model_embedding_length(model_), 64u);
  write_tiny_gguf(dir_ / "nowidth.gguf", 2);
  EXPECT_FALSE(model_embedding_length(dir_ / "nowidth.gguf"));
  write_text(dir_ / "text.gguf", "GGUF but not really");
  EXPECT_FALSE(model_embedding_length(dir_ / "text.gguf"));
  EXPECT_FALSE(model_embedding_length(dir_ / "missing.gguf"));

  TestProjector wide;
  wide.vision_dim = wide.audio_dim = 128;
  write_projector_gguf(dir_ / "wide.gguf", wide);
  write_projector_gguf(dir_ / "fits.gguf");
  EXPECT_NO_THROW(require_projector_fits(inspect_projector(dir_ / "fits.gguf"), model_, "gemma"));
  EXPECT_NO_THROW(require_projector_fits(inspect_projector(dir_ / "wide.gguf"), dir_ / "nowidth.gguf", "x"));
  const StoreError e = error_of([&] { require_projector_fits(inspect_projector(dir_ / "wide.gguf"), model_, "gemma"); });
  EXPECT_EQ(e.kind(), StoreErrorKind::bad_input);
  EXPECT_TRUE(contains(e.what(), "does not fit model gemma: projects to width 128, the model's embedding length is 64"))
      << e.what();
}

TEST_F(ProjectorTest, AGivenProjectorIsCheckedStrictlyAndWinsOverTheFolder) {
  const fs::path given = dir_ / "elsewhere" / "p.gguf";
  write_projector_gguf(given);
  // Two fitting projectors beside the model would be ambiguous; the given one settles it.
  write_projector_gguf(model_.parent_path() / "mmproj-a.gguf");
  write_projector_gguf(model_.parent_path() / "mmproj-b.gguf");
  ProjectorRequest req;
  req.file = given;
  req.origin = "--model m=x,mmproj=p";
  const ProjectorChoice c = find_projector(model_, req);
  ASSERT_TRUE(c.projector);
  EXPECT_EQ(c.projector->path, given);
  EXPECT_EQ(c.source, ProjectorSource::given);
  EXPECT_TRUE(contains(c.reason, "given with --model m=x,mmproj=p")) << c.reason;

  TestProjector wide;
  wide.vision_dim = wide.audio_dim = 128;
  write_projector_gguf(dir_ / "wide.gguf", wide);
  req.file = dir_ / "wide.gguf";
  StoreError e = error_of([&] { find_projector(model_, req); });
  EXPECT_EQ(e.kind(), StoreErrorKind::bad_input);
  EXPECT_TRUE(contains(e.what(), "--model m=x,mmproj=p: projector ")) << e.what();
  EXPECT_TRUE(contains(e.what(), "the model's embedding length is 64")) << e.what();
  req.file = dir_ / "none.gguf";
  e = error_of([&] { find_projector(model_, req); });
  EXPECT_EQ(e.kind(), StoreErrorKind::not_found);
  EXPECT_TRUE(contains(e.what(), "does not exist")) << e.what();
  req.file = model_;  // the model itself is no projector
  e = error_of([&] { find_projector(model_, req); });
  EXPECT_TRUE(contains(e.what(), "not its projector")) << e.what();
}

TEST_F(ProjectorTest, OneProjectorBesideTheModelIsPickedUpAndSaidSo) {
  const fs::path folder = model_.parent_path();
  ProjectorChoice c = find_projector(model_);
  EXPECT_FALSE(c.projector);
  EXPECT_EQ(c.source, ProjectorSource::none);
  EXPECT_TRUE(contains(c.reason, "none beside the model")) << c.reason;

  // Names that are no candidates at all, and a folder named like one.
  write_projector_gguf(folder / "mmproj.bin");
  fs::create_directories(folder / "mmproj-dir.gguf");
  write_projector_gguf(folder / "sub" / "mmproj-deep.gguf");
  EXPECT_FALSE(find_projector(model_).projector);
  // A projector under another name (locus-mkmodel --mmproj p.gguf) is used when it is the only one that fits;
  // two such are ambiguous.
  write_projector_gguf(folder / "proj.gguf");
  c = find_projector(model_);
  ASSERT_TRUE(c.projector) << c.reason;
  EXPECT_EQ(c.projector->path, folder / "proj.gguf");
  EXPECT_TRUE(contains(c.reason, "the only projector there that fits it")) << c.reason;
  write_projector_gguf(folder / "gemma-mmproj.gguf");
  EXPECT_EQ(error_of([&] { find_projector(model_); }).kind(), StoreErrorKind::bad_input);

  write_projector_gguf(folder / "MMPROJ-F16.GGUF");
  c = find_projector(model_);
  ASSERT_TRUE(c.projector);
  EXPECT_EQ(c.projector->path, folder / "MMPROJ-F16.GGUF");
  EXPECT_EQ(c.source, ProjectorSource::beside_model);
  EXPECT_TRUE(contains(c.reason, "found beside the model and used automatically")) << c.reason;
  EXPECT_TRUE(contains(c.reason, "vision and audio")) << c.reason;

  ProjectorRequest off;
  off.search_beside = false;
  EXPECT_FALSE(find_projector(model_, off).projector);

  // A relative model path searches its own folder.
  const fs::path cwd = fs::current_path();
  fs::current_path(folder);
  c = find_projector("gemma.gguf");
  fs::current_path(cwd);
  ASSERT_TRUE(c.projector);
  EXPECT_EQ(c.projector->path.filename(), "MMPROJ-F16.GGUF");
}

TEST_F(ProjectorTest, AmongSeveralTheOneOfTheModelsWidthIsChosenElseRefused) {
  const fs::path folder = model_.parent_path();
  TestProjector other;  // the projector of a wider model sharing the folder
  other.vision_dim = other.audio_dim = 128;
  write_projector_gguf(folder / "mmproj-big.gguf", other);
  write_projector_gguf(folder / "mmproj-small.gguf");
  write_text(folder / "mmproj-broken.gguf", "GGUF");
  ProjectorChoice c = find_projector(model_);
  ASSERT_TRUE(c.projector);
  EXPECT_EQ(c.projector->path, folder / "mmproj-small.gguf");
  EXPECT_TRUE(contains(c.reason, "passed over")) << c.reason;
  EXPECT_TRUE(contains(c.reason, "mmproj-big.gguf: projects to width 128")) << c.reason;
  EXPECT_TRUE(contains(c.reason, "mmproj-broken.gguf: expected a GGUF projector")) << c.reason;

  // The wider model gets the other one from the same folder.
  const fs::path big = folder / "big.gguf";
  write_tiny_gguf(big, 4, 15, "gemma4", 128);
  c = find_projector(big);
  ASSERT_TRUE(c.projector);
  EXPECT_EQ(c.projector->path, folder / "mmproj-big.gguf");

  // A second projector of the small width: ambiguous, refused with the names and how to choose.
  TestProjector f32;
  f32.seed = 9;
  write_projector_gguf(folder / "mmproj-small-f32.gguf", f32);
  ProjectorRequest req;
  req.choose_hint = "give one with --model NAME=PATH,mmproj=FILE";
  const StoreError e = error_of([&] { find_projector(model_, req); });
  EXPECT_EQ(e.kind(), StoreErrorKind::bad_input);
  EXPECT_TRUE(contains(e.what(), "2 projectors beside it fit it (mmproj-small-f32.gguf, mmproj-small.gguf")) << e.what();
  EXPECT_TRUE(contains(e.what(), "give one with --model NAME=PATH,mmproj=FILE")) << e.what();
  EXPECT_TRUE(contains(e.what(), model_.string())) << e.what();
  EXPECT_NO_THROW(find_projector(big));  // still one of its width

  // Nothing fits: no projector, and the reason names each candidate.
  const fs::path odd = folder / "odd.gguf";
  write_tiny_gguf(odd, 5, 15, "gemma4", 32);
  c = find_projector(odd);
  EXPECT_FALSE(c.projector);
  EXPECT_TRUE(contains(c.reason, "do not fit it")) << c.reason;
  for (const char* n : {"mmproj-big.gguf", "mmproj-broken.gguf", "mmproj-small.gguf", "mmproj-small-f32.gguf"}) {
    EXPECT_TRUE(contains(c.reason, n)) << c.reason;
  }
}

TEST_F(ProjectorTest, AModelThatStatesNoWidthTakesAnyValidProjector) {
  const fs::path folder = dir_ / "nowidth";
  write_tiny_gguf(folder / "m.gguf", 1);
  TestProjector wide;
  wide.vision_dim = wide.audio_dim = 4096;
  write_projector_gguf(folder / "mmproj-x.gguf", wide);
  write_tiny_gguf(folder / "mmproj-model-by-mistake.gguf", 2, 15, "gemma4", 64);
  const ProjectorChoice c = find_projector(folder / "m.gguf");
  ASSERT_TRUE(c.projector);
  EXPECT_EQ(c.projector->projection_dim, 4096u);
  EXPECT_TRUE(contains(c.reason, "mmproj-model-by-mistake.gguf: general.architecture")) << c.reason;
}

// Random folders of candidates: valid projectors of the model's width or another, broken files, models named
// like projectors, other names. The rule restated: exactly one valid projector of the model's width is used;
// more is a refusal; none leaves the model without one, naming every candidate.
TEST_F(ProjectorTest, RandomFoldersFollowTheRule) {
  std::mt19937 rng(1234);
  enum Kind { fits, other_width, broken, a_model, wrong_type, not_a_candidate, kKinds };
  for (int iter = 0; iter < 150; ++iter) {
    const fs::path folder = dir_ / ("r" + std::to_string(iter));
    const uint32_t width = 16u << (rng() % 4);
    const fs::path model = folder / "model.gguf";
    write_tiny_gguf(model, static_cast<uint8_t>(iter), 15, "gemma4", width);
    const int n = static_cast<int>(rng() % 6);
    std::vector<fs::path> fitting, other_names;  // mmproj* that fit; projectors under other names (all fit)
    std::vector<std::string> candidates;
    for (int i = 0; i < n; ++i) {
      const Kind k = static_cast<Kind>(rng() % kKinds);
      const std::string stem = (rng() % 2 ? "mmproj-" : "MmProj_") + std::to_string(i);
      const fs::path p = folder / (k == not_a_candidate ? "proj-" + std::to_string(i) + ".gguf" : stem + ".gguf");
      TestProjector t;
      t.seed = static_cast<uint8_t>(i);
      t.vision = rng() % 3 != 0;
      t.audio = !t.vision || rng() % 2 == 0;
      t.vision_dim = t.audio_dim = width;
      switch (k) {
        case fits:
        case not_a_candidate: write_projector_gguf(p, t); break;
        case other_width:
          t.vision_dim = t.audio_dim = width * 2;
          write_projector_gguf(p, t);
          break;
        case broken: write_text(p, std::string("GGUF\x03\0\0\0", 8)); break;
        case a_model: write_tiny_gguf(p, static_cast<uint8_t>(i), 15, "gemma4", width); break;
        case wrong_type:
          t.vision = true;
          t.vision_type = "llava";
          write_projector_gguf(p, t);
          break;
        default: break;
      }
      if (k == fits) fitting.push_back(p);
      if (k == not_a_candidate) other_names.push_back(p);
      if (k != not_a_candidate) candidates.push_back(p.filename().string());
    }
    // Only when no mmproj* fits do projectors under other names count.
    if (fitting.empty()) fitting = other_names;
    if (fitting.size() > 1) {
      const StoreError e = error_of([&] { find_projector(model); });
      EXPECT_EQ(e.kind(), StoreErrorKind::bad_input) << iter << ": " << e.what();
      EXPECT_TRUE(contains(e.what(), std::to_string(fitting.size()) + " projectors beside it fit it")) << e.what();
      continue;
    }
    const ProjectorChoice c = find_projector(model);
    if (fitting.size() == 1) {
      ASSERT_TRUE(c.projector) << iter << ": " << c.reason;
      EXPECT_EQ(c.projector->path, fitting[0]) << iter;
      EXPECT_EQ(c.projector->projection_dim, width);
      EXPECT_EQ(c.source, ProjectorSource::beside_model);
    } else {
      EXPECT_FALSE(c.projector) << iter;
      EXPECT_EQ(c.source, ProjectorSource::none);
      for (const auto& name : candidates) EXPECT_TRUE(contains(c.reason, name)) << iter << ": " << c.reason;
    }
  }
}

}  // namespace
}  // namespace locus::runtime
