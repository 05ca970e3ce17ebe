// parse_model_name: Ollama's name forms, defaults, the display form, and clear errors for bad names.
#include <gtest/gtest.h>

#include <string>

#include "runtime/model_name.h"
#include "runtime/store_error.h"

namespace locus::runtime {
namespace {

std::string error_of(std::string_view text) {
  try {
    parse_model_name(text);
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::invalid_name);
    return e.what();
  }
  return "(no error)";
}

TEST(ModelName, BareNameTakesDefaults) {
  const ModelName n = parse_model_name("gemma4");
  EXPECT_EQ(n.host, "registry.ollama.ai");
  EXPECT_EQ(n.name_space, "library");
  EXPECT_EQ(n.model, "gemma4");
  EXPECT_EQ(n.tag, "latest");
  EXPECT_EQ(n.display(), "gemma4:latest");
  EXPECT_EQ(n.full(), "registry.ollama.ai/library/gemma4:latest");
  EXPECT_EQ(n.manifest_relative_path(), std::filesystem::path("registry.ollama.ai/library/gemma4/latest"));
}

TEST(ModelName, AllForms) {
  EXPECT_EQ(parse_model_name("gemma4:12b").display(), "gemma4:12b");
  EXPECT_EQ(parse_model_name("library/gemma4:12b").display(), "gemma4:12b");
  EXPECT_EQ(parse_model_name("registry.ollama.ai/library/gemma4:12b").display(), "gemma4:12b");
  EXPECT_EQ(parse_model_name("REGISTRY.ollama.ai/Library/gemma4:12b").display(), "gemma4:12b");

  const ModelName user = parse_model_name("alice/my-model_2.1:v1.0");
  EXPECT_EQ(user.name_space, "alice");
  EXPECT_EQ(user.model, "my-model_2.1");
  EXPECT_EQ(user.tag, "v1.0");
  EXPECT_EQ(user.display(), "alice/my-model_2.1:v1.0");

  const ModelName hf = parse_model_name("hf.co/unsloth/gemma-4-12b-it-GGUF:Q4_K_M");
  EXPECT_EQ(hf.host, "hf.co");
  EXPECT_EQ(hf.name_space, "unsloth");
  EXPECT_EQ(hf.model, "gemma-4-12b-it-GGUF");
  EXPECT_EQ(hf.tag, "Q4_K_M");
  EXPECT_EQ(hf.display(), "hf.co/unsloth/gemma-4-12b-it-GGUF:Q4_K_M");
  EXPECT_EQ(hf.manifest_relative_path(), std::filesystem::path("hf.co/unsloth/gemma-4-12b-it-GGUF/Q4_K_M"));

  // A ':' before the last '/' is a port, not a tag.
  const ModelName port = parse_model_name("localhost:5000/team/m");
  EXPECT_EQ(port.host, "localhost:5000");
  EXPECT_EQ(port.tag, "latest");
  EXPECT_EQ(port.display(), "localhost:5000/team/m:latest");
}

TEST(ModelName, DisplayParsesBack) {
  for (const char* s : {"gemma4:12b", "a/b:c", "hf.co/u/r:Q8_0", "localhost:5000/team/m:x"}) {
    const ModelName n = parse_model_name(s);
    EXPECT_TRUE(parse_model_name(n.display()).same_model_as(n)) << s;
    EXPECT_TRUE(parse_model_name(n.full()).same_model_as(n)) << s;
  }
}

TEST(ModelName, MatchingIgnoresCase) {
  EXPECT_TRUE(parse_model_name("Gemma4:12B").same_model_as(parse_model_name("gemma4:12b")));
  EXPECT_FALSE(parse_model_name("gemma4:12b").same_model_as(parse_model_name("gemma4:4b")));
}

TEST(ModelName, InvalidNamesSayWhatIsWrong) {
  EXPECT_NE(error_of("").find("empty string"), std::string::npos) << error_of("");
  EXPECT_NE(error_of("gemma4:").find("tag \"\" is empty"), std::string::npos) << error_of("gemma4:");
  EXPECT_NE(error_of("a/b/c/d").find("found 4 parts"), std::string::npos) << error_of("a/b/c/d");
  EXPECT_NE(error_of("/gemma4").find("namespace \"\" is empty"), std::string::npos) << error_of("/gemma4");
  EXPECT_NE(error_of("gem ma").find("found ' '"), std::string::npos) << error_of("gem ma");
  EXPECT_NE(error_of("-gemma").find("must start with"), std::string::npos) << error_of("-gemma");
  EXPECT_NE(error_of("../x").find("namespace \"..\""), std::string::npos) << error_of("../x");
  EXPECT_NE(error_of(".hidden").find("must start with"), std::string::npos) << error_of(".hidden");
  EXPECT_NE(error_of("example.com/model").find("a registry host needs host/namespace/model"), std::string::npos)
      << error_of("example.com/model");
  EXPECT_NE(error_of("gemma4:a:b").find("found ':'"), std::string::npos) << error_of("gemma4:a:b");
  EXPECT_NE(error_of("gemma4@sha256:00").find("digest references"), std::string::npos);
  EXPECT_NE(error_of(std::string("gem\x01ma")).find("byte 0x01"), std::string::npos);
  EXPECT_NE(error_of(std::string(81, 'm')).find("81 characters long, at most 80"), std::string::npos);
  EXPECT_EQ(error_of(std::string(80, 'm')), "(no error)");
  EXPECT_EQ(error_of(std::string(350, 'h') + "/n/m"), "(no error)");
  EXPECT_NE(error_of(std::string(351, 'h') + "/n/m").find("at most 350"), std::string::npos);
  // The message names the whole input.
  EXPECT_NE(error_of("gem ma").find("invalid model name \"gem ma\""), std::string::npos);
}

}  // namespace
}  // namespace locus::runtime
