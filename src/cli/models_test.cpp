// render_show: the sections of `locus show` as Ollama's CLI prints them, with the Projector section
// (architecture, parameters, embedding length, dimensions) exactly when /api/show sends projector_info.
#include <gtest/gtest.h>

#include <string>

#include "cli/models.h"

namespace locus::cli {
namespace {

using nlohmann::json;

json shown(json projector_info, json capabilities) {
  json j = {{"details", {{"family", "gemma4"}, {"parameter_size", "11.8B"}, {"quantization_level", "Q4_K_M"}}},
            {"model_info",
             {{"general.architecture", "gemma4"}, {"gemma4.context_length", 131072}, {"gemma4.embedding_length", 3840}}},
            {"capabilities", capabilities}};
  if (!projector_info.is_null()) j["projector_info"] = projector_info;
  return j;
}

size_t count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t at = s.find(part); at != std::string::npos; at = s.find(part, at + 1)) ++n;
  return n;
}

TEST(RenderShow, ProjectorSectionFromProjectorInfo) {
  const json proj = {{"general.architecture", "clip"},
                     {"general.parameter_count", 431230976},
                     {"clip.has_vision_encoder", true},
                     {"clip.vision.embedding_length", 3840},
                     {"clip.vision.projection_dim", 3840},
                     {"clip.audio.embedding_length", 640},
                     {"clip.audio.projection_dim", 3840}};
  const std::string out = render_show(shown(proj, {"completion", "vision", "audio", "tools", "thinking"}));
  EXPECT_NE(out.find("  Capabilities\n    completion\n    vision\n    audio\n    tools\n    thinking\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("  Projector\n"
                     "    architecture        clip\n"
                     "    parameters          431.2M\n"
                     "    embedding length    3840\n"
                     "    dimensions          3840\n"),
            std::string::npos)
      << out;
  // After the model and its capabilities, as Ollama orders them.
  EXPECT_LT(out.find("  Model\n"), out.find("  Capabilities\n"));
  EXPECT_LT(out.find("  Capabilities\n"), out.find("  Projector\n"));
  EXPECT_EQ(count(out, "architecture"), 2u);
}

TEST(RenderShow, AudioOnlyProjectorShowsTheAudioWidths) {
  const json proj = {{"general.architecture", "clip"},
                     {"general.parameter_count", 2457600},
                     {"clip.audio.embedding_length", 640},
                     {"clip.audio.projection_dim", 3840}};
  const std::string out = render_show(shown(proj, {"completion", "audio", "tools", "thinking"}));
  EXPECT_NE(out.find("    embedding length    640\n    dimensions          3840\n"), std::string::npos) << out;
  EXPECT_NE(out.find("    parameters          2.5M\n"), std::string::npos) << out;
}

TEST(RenderShow, NoProjectorNoSection) {
  for (const json& proj : {json(), json::object()}) {
    const std::string out = render_show(shown(proj, {"completion", "tools", "thinking"}));
    EXPECT_EQ(out.find("Projector"), std::string::npos) << out;
    EXPECT_EQ(out.find("vision"), std::string::npos) << out;
    EXPECT_NE(out.find("    embedding length    3840\n"), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace locus::cli
