// The Modelfile parser (every command, quoting, errors with their line) and creating models: FROM a GGUF
// file, FROM an existing model (its layers reused, its parameters merged), /api/create bodies, ADAPTER and
// adapters refused, and --quantize on a small F16 GGUF.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "gguf/writer.h"
#include "runtime/store_test_files.h"
#include "runtime/model_create.h"
#include "runtime/model_create_quantize.h"
#include "tensor/quantize.h"

namespace locus::runtime {
namespace {
namespace fs = std::filesystem;
using testing::contains;
using testing::read_all;
using testing::write_text;

// A small GGUF: a 256 x 4 matrix and a 256-element norm, in `type` (F32 or F16); architecture "test".
void write_gguf(const fs::path& p, gguf::GgmlType type = gguf::GgmlType::F32, uint32_t file_type = 0, float seed = 1) {
  gguf::GgufWriter w;
  w.add("general.architecture", gguf::Value::string("test"));
  w.add("general.file_type", gguf::Value::u32(file_type));
  w.add_tensor("token_embd.weight", {256, 4}, type);
  w.add_tensor("blk.0.attn_v.weight", {256, 8}, type);
  w.add_tensor("output_norm.weight", {256}, gguf::GgmlType::F32);
  fs::create_directories(p.parent_path());
  w.begin_data(p.string());
  const auto tensor = [&](size_t n) {
    std::vector<uint8_t> bytes;
    for (size_t i = 0; i < n; ++i) {
      const float v = std::sin(seed * 0.37f + static_cast<float>(i) * 0.11f);
      if (type == gguf::GgmlType::F16) {
        const uint16_t h = tensor::fp32_to_fp16(v);
        bytes.push_back(static_cast<uint8_t>(h & 0xff));
        bytes.push_back(static_cast<uint8_t>(h >> 8));
      } else {
        const auto* b = reinterpret_cast<const uint8_t*>(&v);
        bytes.insert(bytes.end(), b, b + 4);
      }
    }
    return bytes;
  };
  w.write_tensor(tensor(256 * 4));
  w.write_tensor(tensor(256 * 8));
  std::vector<uint8_t> norm(256 * 4, 0);
  w.write_tensor(norm);
  w.finish();
}

template <class E = StoreError>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

int error_line(std::string_view text) {
  try {
    parse_modelfile(text);
  } catch (const ModelfileError& e) {
    return e.line();
  }
  return 0;
}


// ---- the parser ----

TEST(Modelfile, EveryCommandAnyCase) {
  const Modelfile mf = parse_modelfile(
      "# a comment\n"
      "from ./model.gguf\n"
      "\n"
      "Parameter temperature 0.7\n"
      "PARAMETER top_k 64\n"
      "PARAMETER stop <end_of_turn>\n"
      "PARAMETER stop \"User:\"\n"
      "PARAMETER use_mmap false\n"
      "SYSTEM You are terse.\n"
      "TEMPLATE {{ .Prompt }}\n"
      "MESSAGE user Hi\n"
      "message assistant \"Hello there\"\n"
      "LICENSE MIT\n"
      "LICENSE \"Apache 2.0\"\n");
  EXPECT_EQ(mf.from, "./model.gguf");
  EXPECT_EQ(mf.from_line, 2);
  EXPECT_EQ(mf.parameters.dump(),
            R"({"temperature":0.7,"top_k":64,"stop":["<end_of_turn>","User:"],"use_mmap":false})");
  EXPECT_EQ(mf.system, "You are terse.");
  EXPECT_EQ(mf.template_text, "{{ .Prompt }}");
  ASSERT_EQ(mf.messages.size(), 2u);
  EXPECT_EQ(mf.messages[0], (ModelfileMessage{"user", "Hi"}));
  EXPECT_EQ(mf.messages[1], (ModelfileMessage{"assistant", "Hello there"}));
  EXPECT_EQ(mf.licenses, (std::vector<std::string>{"MIT", "Apache 2.0"}));
}

TEST(Modelfile, TripleQuotedValuesSpanLines) {
  const Modelfile mf = parse_modelfile(
      "FROM gemma4:12b\r\n"
      "SYSTEM \"\"\"You are\n"
      "  a \"careful\" helper.\n"
      "\"\"\"\n"
      "TEMPLATE \"\"\"one line\"\"\"\n"
      "PARAMETER temperature 1\n");
  EXPECT_EQ(mf.from, "gemma4:12b");
  EXPECT_EQ(mf.system, "You are\n  a \"careful\" helper.\n");
  EXPECT_EQ(mf.template_text, "one line");
  EXPECT_EQ(mf.parameters.dump(), R"({"temperature":1})");
}

TEST(Modelfile, ParametersAreTyped) {
  std::string error;
  EXPECT_EQ(typed_parameter("num_ctx", "8192", &error), nlohmann::json(8192));
  EXPECT_EQ(typed_parameter("seed", "-1", &error), nlohmann::json(-1));
  EXPECT_EQ(typed_parameter("top_p", "0.95", &error), nlohmann::json(0.95));
  EXPECT_FALSE(typed_parameter("num_ctx", "big", &error));
  EXPECT_TRUE(contains(error, "num_ctx: expected an integer")) << error;
  EXPECT_FALSE(typed_parameter("mirostat_tau", "5", &error));
  EXPECT_TRUE(contains(error, "unknown parameter \"mirostat_tau\"")) << error;

  EXPECT_EQ(normalize_parameters(nlohmann::json::parse(R"({"stop":"x","top_k":"40","temperature":0.5})")).dump(),
            R"({"stop":["x"],"temperature":0.5,"top_k":40})");
  EXPECT_TRUE(contains(error_of([] { normalize_parameters(nlohmann::json::parse(R"({"top_k":true})")); }),
                       "top_k: expected an integer"));
  EXPECT_TRUE(contains(error_of([] { normalize_parameters(nlohmann::json::parse(R"({"nope":1})")); }),
                       "unknown parameter \"nope\""));
}

TEST(Modelfile, ErrorsNameTheLine) {
  EXPECT_EQ(error_line("FROM x\nPARAMETER bogus 1\n"), 2);
  EXPECT_TRUE(contains(error_of([] { parse_modelfile("FROM x\nPARAMETER bogus 1\n"); }),
                       "Modelfile line 2: unknown parameter \"bogus\""));
  EXPECT_EQ(error_line("FROM x\n\n# c\nPARAMETER temperature warm\n"), 4);
  EXPECT_EQ(error_line("FROM x\nFROB y\n"), 2);
  EXPECT_TRUE(contains(error_of([] { parse_modelfile("FROM x\nFROB y\n"); }), "unknown command \"frob\""));
  EXPECT_EQ(error_line("FROM x\nSYSTEM \"\"\"never\nclosed\n"), 2);
  EXPECT_EQ(error_line("FROM x\nSYSTEM \"open\n"), 2);
  EXPECT_EQ(error_line("FROM x\nMESSAGE robot hi\n"), 2);
  EXPECT_EQ(error_line("FROM a\nFROM b\n\nFROM c\n"), 4);
  EXPECT_TRUE(contains(error_of([] { parse_modelfile("FROM a\nFROM b\nFROM c\n"); }),
                       "a third FROM (lines 1 and 2 have one)"));
  EXPECT_EQ(error_line("FROM x\nPARAMETER stop\n"), 2);
  EXPECT_EQ(error_line("FROM x\nSYSTEM \"\"\"a\"\"\" trailing\n"), 2);
  EXPECT_TRUE(contains(error_of([] { parse_modelfile("SYSTEM hi\n"); }), "no FROM line"));
  EXPECT_EQ(error_line("FROM x\n\nADAPTER ./lora.gguf\n"), 3);
  EXPECT_TRUE(contains(error_of([] { parse_modelfile("FROM x\nADAPTER ./lora.gguf\n"); }),
                       "ADAPTER is not supported"));
}

TEST(Modelfile, ASecondFromNamesTheProjector) {
  const Modelfile mf = parse_modelfile("FROM ./m.gguf\nSYSTEM hi\nfrom \"./mmproj model.gguf\"\n");
  EXPECT_EQ(mf.from, "./m.gguf");
  EXPECT_EQ(mf.from_line, 1);
  EXPECT_EQ(mf.more_from, (std::vector<ModelfileFrom>{{"./mmproj model.gguf", 3}}));
  EXPECT_TRUE(parse_modelfile("FROM x\n").more_from.empty());
}

TEST(Modelfile, ParametersPrintLikeOllama) {
  const auto p = nlohmann::ordered_json::parse(R"({"stop":["<end>","x"],"temperature":1})");
  EXPECT_EQ(format_parameters(p), std::string("stop                           \"<end>\"\n") +
                                      "stop                           \"x\"\n" +
                                      "temperature                    1\n");
}

// ---- creating ----

class CreateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / (std::string("model_create_test_") + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "src");
    store_ = std::make_unique<ModelStore>(StoreRoots{dir_ / "locus", std::nullopt});
  }
  void TearDown() override { fs::remove_all(dir_); }

  CreateResult create(std::string_view name, std::string_view modelfile,
                      const std::optional<std::string>& quantize = std::nullopt) {
    statuses_.clear();
    return create_model(*store_, name, modelfile, dir_ / "src", quantize,
                        [&](const std::string& s) { statuses_.push_back(s); });
  }

  fs::path dir_;
  std::unique_ptr<ModelStore> store_;
  std::vector<std::string> statuses_;
};

TEST_F(CreateTest, FromAGgufFileWithTextLayers) {
  write_gguf(dir_ / "src" / "m.gguf");
  const CreateResult r = create("mine:v1",
                                "FROM m.gguf\n"
                                "PARAMETER temperature 1\nPARAMETER top_k 64\nPARAMETER stop <turn|>\n"
                                "SYSTEM Be brief.\nTEMPLATE {{ .Prompt }}\nMESSAGE user hi\nLICENSE L1\n");
  EXPECT_EQ(r.display_name, "mine:v1");
  EXPECT_EQ(statuses_.front(), "parsing modelfile");
  EXPECT_EQ(statuses_.back(), "success");

  const ResolvedModel m = store_->resolve("mine:v1");
  EXPECT_EQ(read_all(m.model_path), read_all(dir_ / "src" / "m.gguf"));
  ASSERT_TRUE(m.params);
  // The params layer in Ollama's shape: typed values, stop strings in an array.
  EXPECT_EQ(m.params->dump(), R"({"stop":["<turn|>"],"temperature":1,"top_k":64})");
  EXPECT_EQ(m.system_text, "Be brief.");
  EXPECT_EQ(m.template_text, "{{ .Prompt }}");
  ASSERT_TRUE(m.messages);
  EXPECT_EQ(m.messages->dump(), R"([{"content":"hi","role":"user"}])");
  EXPECT_EQ(m.licenses, std::vector<std::string>{"L1"});
  EXPECT_EQ(m.config.value("model_family", ""), "test");
  EXPECT_EQ(m.config.value("file_type", ""), "F32");
  EXPECT_EQ(r.digest, m.digest);

  const std::string text = modelfile_text(m, m.model_path.string());
  EXPECT_TRUE(contains(text, "PARAMETER stop \"<turn|>\"")) << text;
  EXPECT_TRUE(contains(text, "SYSTEM \"\"\"Be brief.\"\"\"")) << text;
  // What show --modelfile prints parses back to the same model.
  const Modelfile back = parse_modelfile(text);
  EXPECT_EQ(back.parameters.dump(), R"({"stop":["<turn|>"],"temperature":1,"top_k":64})");
  EXPECT_EQ(back.system, "Be brief.");
}

TEST_F(CreateTest, FromAnExistingModelReusesItsLayers) {
  write_gguf(dir_ / "src" / "m.gguf");
  create("base", "FROM ./m.gguf\nPARAMETER temperature 1\nPARAMETER top_k 64\nSYSTEM old\nLICENSE L1\n");
  const ResolvedModel base = store_->resolve("base");
  create("derived", "FROM base\nPARAMETER top_k 20\nSYSTEM new\nLICENSE L2\n");
  const ResolvedModel d = store_->resolve("derived");
  EXPECT_EQ(d.model_path, base.model_path);  // the same blob
  EXPECT_TRUE(std::find(statuses_.begin(), statuses_.end(),
                        "using existing layer " + base.manifest.find_layer(media_type::kModel)->digest) !=
              statuses_.end());
  EXPECT_EQ(d.params->dump(), R"({"temperature":1,"top_k":20})");
  EXPECT_EQ(d.system_text, "new");
  EXPECT_EQ(d.licenses, (std::vector<std::string>{"L1", "L2"}));
  // Replacing a model with itself as the base keeps it whole.
  create("derived", "FROM derived\nSYSTEM newer\n");
  EXPECT_EQ(store_->resolve("derived").system_text, "newer");
  EXPECT_EQ(store_->resolve("base").system_text, "old");
}

TEST_F(CreateTest, ClearErrors) {
  write_gguf(dir_ / "src" / "m.gguf");
  EXPECT_TRUE(contains(error_of([&] { create("x", "FROM ./missing.gguf\n"); }), "Modelfile line 1: FROM"));
  EXPECT_TRUE(contains(error_of([&] { create("x", "FROM nosuchmodel\n"); }), "not found"));
  EXPECT_TRUE(contains(error_of([&] { create("x", "FROM m.gguf\nADAPTER lora.gguf\n"); }), "line 2: ADAPTER"));
  EXPECT_TRUE(contains(error_of([&] { create("bad name!", "FROM m.gguf\n"); }), "bad name!"));
  EXPECT_TRUE(contains(error_of([&] { create("x", "FROM m.gguf\n", "q9_9"); }), "unsupported quantization type"));
  write_text(dir_ / "src" / "junk.gguf", "not a gguf");
  EXPECT_TRUE(contains(error_of([&] { create("x", "FROM junk.gguf\n"); }), "not a readable GGUF"));
  fs::create_directories(dir_ / "src" / "folder");
  EXPECT_TRUE(contains(error_of([&] { create("x", "FROM ./folder\n"); }), "is a folder"));
  EXPECT_TRUE(store_->list().empty());
}

// Ollama documents a second FROM line for the projector (and 0.32 hangs on it): each order, a base model
// from the store, replacing a base's projector, the Modelfile that show prints back, and every wrong pair.
TEST_F(CreateTest, ASecondFromLineStoresTheProjectorAsItsOwnLayer) {
  testing::write_tiny_gguf(dir_ / "src" / "m.gguf", 1, 15, "gemma4", 64);
  testing::write_projector_gguf(dir_ / "src" / "mmproj.gguf");
  const auto layer_types = [](const ResolvedModel& r) {
    std::vector<std::string> out;
    for (const auto& l : r.manifest.layers) out.push_back(l.media_type);
    return out;
  };
  const std::string model_t(media_type::kModel), proj_t(media_type::kProjector), sys_t(media_type::kSystem);
  for (const std::string text : {"FROM m.gguf\nFROM ./mmproj.gguf\nSYSTEM s\n", "FROM ./mmproj.gguf\nSYSTEM s\nFROM m.gguf\n"}) {
    create("vision", text);
    EXPECT_EQ(statuses_.back(), "success");
    const ResolvedModel r = store_->resolve("vision");
    EXPECT_EQ(layer_types(r), (std::vector<std::string>{model_t, proj_t, sys_t})) << text;
    ASSERT_TRUE(r.projector) << r.projector_note;
    EXPECT_EQ(read_all(*r.projector_path), read_all(dir_ / "src" / "mmproj.gguf"));
    EXPECT_EQ(read_all(r.model_path), read_all(dir_ / "src" / "m.gguf"));
    EXPECT_TRUE(r.projector->has_vision && r.projector->has_audio);
  }
  // What show --modelfile prints (two FROM lines of blob paths) creates the same model again.
  const ResolvedModel first = store_->resolve("vision");
  const std::string text = modelfile_text(first, first.model_path.string());
  EXPECT_TRUE(contains(text, "FROM " + first.model_path.string() + "\nFROM " + first.projector_path->string() + "\n"))
      << text;
  create("again", text);
  EXPECT_EQ(layer_types(store_->resolve("again")), layer_types(first));
  EXPECT_EQ(store_->resolve("again").projector_path, first.projector_path);

  // FROM a store model and a projector: the base's model layer, the new projector; the base is untouched.
  create("text-only", "FROM m.gguf\n");
  create("seeing", "FROM text-only\nFROM mmproj.gguf\n");
  EXPECT_EQ(layer_types(store_->resolve("seeing")), (std::vector<std::string>{model_t, proj_t}));
  EXPECT_TRUE(store_->resolve("seeing").projector);
  EXPECT_FALSE(store_->resolve("text-only").projector_path);
  // A base's projector is inherited, or replaced by a new one (never two).
  create("inherits", "FROM vision\nSYSTEM t\n");
  EXPECT_EQ(store_->resolve("inherits").projector_path, first.projector_path);
  testing::TestProjector vision_only;
  vision_only.audio = false;
  testing::write_projector_gguf(dir_ / "src" / "mmproj-v.gguf", vision_only);
  create("replaced", "FROM vision\nFROM mmproj-v.gguf\n");
  const ResolvedModel replaced = store_->resolve("replaced");
  const std::vector<std::string> replaced_types = layer_types(replaced);
  EXPECT_EQ(std::count(replaced_types.begin(), replaced_types.end(), proj_t), 1);
  ASSERT_TRUE(replaced.projector);
  EXPECT_FALSE(replaced.projector->has_audio);
}

TEST_F(CreateTest, WrongModelAndProjectorPairsNameTheLine) {
  testing::write_tiny_gguf(dir_ / "src" / "m.gguf", 1, 15, "gemma4", 64);
  testing::write_tiny_gguf(dir_ / "src" / "m2.gguf", 2, 15, "gemma4", 64);
  testing::write_projector_gguf(dir_ / "src" / "mmproj.gguf");
  testing::TestProjector narrow, gemma3, second;
  narrow.vision_dim = narrow.audio_dim = 32;
  gemma3.vision_type = "gemma3";
  second.seed = 5;
  testing::write_projector_gguf(dir_ / "src" / "narrow.gguf", narrow);
  testing::write_projector_gguf(dir_ / "src" / "gemma3.gguf", gemma3);
  testing::write_projector_gguf(dir_ / "src" / "mmproj2.gguf", second);
  create("base", "FROM m.gguf\n");
  struct Case {
    std::string modelfile;
    int line;
    std::string said;
  };
  const std::vector<Case> cases = {
      {"FROM mmproj.gguf\n", 1, "is a projector (mmproj) GGUF, not a model: name the model"},
      {"FROM m.gguf\nFROM m2.gguf\n", 2, "a second model (line 1 names one)"},
      {"FROM base\nFROM m.gguf\n", 2, "a second model (line 1 names one)"},
      {"FROM m.gguf\nFROM base\n", 2, "a second model"},
      {"FROM mmproj.gguf\nFROM mmproj2.gguf\n", 2, "a second projector (line 1 names one)"},
      {"FROM m.gguf\nFROM narrow.gguf\n", 2, "projects to width 32, the model's embedding length is 64"},
      {"FROM base\nFROM narrow.gguf\n", 2, "projects to width 32"},
      {"FROM m.gguf\n\nFROM gemma3.gguf\n", 3, "expected \"gemma4uv\""},
      {"FROM m.gguf\nFROM missing-mmproj.gguf\n", 2, "no such file"},
  };
  for (const Case& c : cases) {
    int line = 0;
    std::string what;
    try {
      create("x", c.modelfile);
    } catch (const ModelfileError& e) {
      line = e.line();
      what = e.what();
    }
    EXPECT_EQ(line, c.line) << c.modelfile << ": " << what;
    EXPECT_TRUE(contains(what, "Modelfile line " + std::to_string(c.line) + ": ")) << what;
    EXPECT_TRUE(contains(what, c.said)) << c.modelfile << ": " << what;
  }
  EXPECT_EQ(store_->list().size(), 1u);  // only "base"
  // Nothing refused left a blob behind: base's model and config only.
  size_t blobs = 0;
  for (const auto& e : fs::directory_iterator(store_->blobs_dir())) blobs += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(blobs, 2u);
}

TEST_F(CreateTest, QuantizeAnF16Model) {
  write_gguf(dir_ / "src" / "f16.gguf", gguf::GgmlType::F16, 1);
  create("q8", "FROM f16.gguf\n", "q8_0");
  EXPECT_TRUE(std::find(statuses_.begin(), statuses_.end(), "quantizing F16 model to Q8_0") != statuses_.end());
  const ResolvedModel q8 = store_->resolve("q8");
  EXPECT_EQ(q8.config.value("file_type", ""), "Q8_0");
  {
    const auto f = gguf::GgufFile::open(q8.model_path.string());
    EXPECT_EQ(f.find_tensor("token_embd.weight")->type, gguf::GgmlType::Q8_0);
    EXPECT_EQ(f.find_tensor("blk.0.attn_v.weight")->type, gguf::GgmlType::Q8_0);
    EXPECT_EQ(f.find_tensor("output_norm.weight")->type, gguf::GgmlType::F32);
    EXPECT_EQ(f.get_u32("general.file_type"), 7u);
    // The weights survive: dequantized values near the originals.
    std::vector<float> row(256);
    ASSERT_TRUE(tensor::dequantize_row(gguf::GgmlType::Q8_0, f.tensor_data(*f.find_tensor("token_embd.weight")).data(),
                                       row.data(), 256));
    EXPECT_NEAR(row[10], std::sin(0.37f + 10 * 0.11f), 0.02);
  }
  // Q4_K_M: the embedding gets Q6_K, as llama-quantize gives it.
  create("q4", "FROM f16.gguf\n", "Q4_K_M");
  const auto f = gguf::GgufFile::open(store_->resolve("q4").model_path.string());
  EXPECT_EQ(f.find_tensor("token_embd.weight")->type, gguf::GgmlType::Q6_K);
  EXPECT_EQ(store_->resolve("q4").config.value("file_type", ""), "Q4_K_M");
  // Already quantized: refused.
  EXPECT_TRUE(contains(error_of([&] { create("again", "FROM q8\n", "q4_0"); }), "already quantized"));
  // No temporary file left behind.
  for (const auto& e : fs::directory_iterator(store_->blobs_dir())) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".tmp")) << e.path();
  }
}

TEST_F(CreateTest, FromTheApi) {
  write_gguf(dir_ / "src" / "m.gguf");
  const std::string digest = store_->add_blob_file(dir_ / "src" / "m.gguf", false);
  std::vector<std::string> statuses;
  const auto progress = [&](const std::string& s) { statuses.push_back(s); };
  const CreateResult r = create_model_from_api(
      *store_,
      nlohmann::json::parse(R"({"model":"api:1","files":{"m.gguf":")" + digest +
                            R"("},"system":"S","parameters":{"temperature":0.5,"stop":"x"},)"
                            R"("messages":[{"role":"user","content":"q"}],"license":["L"]})"),
      progress);
  EXPECT_EQ(r.display_name, "api:1");
  EXPECT_EQ(statuses.back(), "success");
  const ResolvedModel m = store_->resolve("api:1");
  EXPECT_EQ(m.manifest.find_layer(media_type::kModel)->digest, digest);
  EXPECT_EQ(m.params->dump(), R"({"stop":["x"],"temperature":0.5})");
  EXPECT_EQ(m.licenses, std::vector<std::string>{"L"});

  create_model_from_api(*store_, nlohmann::json::parse(R"({"model":"api:2","from":"api:1","system":"T"})"), progress);
  EXPECT_EQ(store_->resolve("api:2").system_text, "T");
  EXPECT_EQ(store_->resolve("api:2").params->dump(), R"({"stop":["x"],"temperature":0.5})");

  const auto api_error = [&](const std::string& body) {
    return error_of([&] { create_model_from_api(*store_, nlohmann::json::parse(body), progress); });
  };
  EXPECT_TRUE(contains(api_error(R"({"model":"a","from":"api:1","adapters":{"l.gguf":"sha256:00"}})"),
                       "adapters are not supported"));
  EXPECT_TRUE(contains(api_error(R"({"model":"a"})"), "from or files is required"));
  EXPECT_TRUE(contains(api_error(R"({"from":"api:1"})"), "model: a name"));
  EXPECT_TRUE(contains(api_error(R"({"model":"a","files":{"m.gguf":"sha256:)" + std::string(64, 'a') + R"("}})"),
                       "not in the store"));
  EXPECT_TRUE(contains(api_error(R"({"model":"a","from":"api:1","parameters":{"top_k":"many"}})"),
                       "top_k: expected an integer"));
  EXPECT_TRUE(contains(api_error(R"({"model":"a","from":"api:1","messages":[{"role":"robot","content":"x"}]})"),
                       "role"));
  EXPECT_TRUE(contains(api_error(R"({"model":"a","files":{"model.safetensors":"sha256:)" + std::string(64, 'a') +
                                 R"("}})"),
                       "only GGUF files"));
}

// /api/create with a projector among "files" (what `locus create` sends a server for two FROM lines): a model
// and its projector; "from" and a projector; and every wrong combination.
TEST_F(CreateTest, FromTheApiWithAProjector) {
  testing::write_tiny_gguf(dir_ / "src" / "m.gguf", 1, 15, "gemma4", 64);
  testing::write_tiny_gguf(dir_ / "src" / "m2.gguf", 2, 15, "gemma4", 64);
  testing::write_projector_gguf(dir_ / "src" / "p.gguf");
  testing::TestProjector narrow, second;
  narrow.vision_dim = narrow.audio_dim = 32;
  second.seed = 3;
  testing::write_projector_gguf(dir_ / "src" / "narrow.gguf", narrow);
  testing::write_projector_gguf(dir_ / "src" / "p2.gguf", second);
  std::map<std::string, std::string> d;
  // Uploaded again before each create: replacing a model collects the blobs no manifest names.
  const auto upload = [&] {
    for (const char* f : {"m", "m2", "p", "narrow", "p2"}) {
      d[f] = store_->add_blob_file(dir_ / "src" / (std::string(f) + ".gguf"), false);
    }
  };
  upload();
  const auto body = [&](const std::string& from, std::vector<std::string> files) {
    upload();
    nlohmann::json j = {{"model", "api"}};
    if (!from.empty()) j["from"] = from;
    for (const auto& f : files) j["files"][f + ".gguf"] = d[f];
    return j;
  };
  const auto progress = [](const std::string&) {};
  // The projector first in the object: the layers still come model, projector.
  create_model_from_api(*store_, body("", {"p", "m"}), progress);
  ResolvedModel r = store_->resolve("api");
  ASSERT_EQ(r.manifest.layers.size(), 2u);
  EXPECT_EQ(r.manifest.layers[0].digest, d["m"]);
  EXPECT_EQ(r.manifest.layers[1].media_type, media_type::kProjector);
  EXPECT_EQ(r.manifest.layers[1].digest, d["p"]);
  EXPECT_TRUE(r.projector) << r.projector_note;

  create_model_from_api(*store_, body("", {"m"}), progress);
  upload();
  create_model_from_api(*store_, nlohmann::json{{"model", "derived"}, {"from", "api"}, {"files", {{"p2.gguf", d["p2"]}}}},
                        progress);
  r = store_->resolve("derived");
  EXPECT_EQ(r.manifest.find_layer(media_type::kModel)->digest, d["m"]);
  EXPECT_EQ(r.manifest.find_layer(media_type::kProjector)->digest, d["p2"]);

  const auto api_error = [&](const nlohmann::json& b) {
    return error_of([&] { create_model_from_api(*store_, b, progress); });
  };
  EXPECT_TRUE(contains(api_error(body("", {"p"})), "files hold only a projector GGUF"));
  EXPECT_TRUE(contains(api_error(body("", {"m", "p", "p2"})), "more than one projector GGUF"));
  EXPECT_TRUE(contains(api_error(body("", {"m", "m2"})), "more than one model GGUF"));
  EXPECT_TRUE(contains(api_error(body("api", {"m2"})), "files may hold only a projector"));
  const std::string narrow_error = api_error(body("", {"m", "narrow"}));
  EXPECT_TRUE(contains(narrow_error, "files: blob " + d["narrow"])) << narrow_error;
  EXPECT_TRUE(contains(narrow_error, "projects to width 32")) << narrow_error;
}

}  // namespace
}  // namespace locus::runtime
