// gemma4.md §7.2's rendered examples, byte for byte, and the refusals.
#include "text/chat_renderer.h"

#include <stdexcept>

#include <gtest/gtest.h>

namespace locus::text {
namespace {

using nlohmann::json;

const char* kDeclaration =
    "<|tool>declaration:get_weather{description:<|\"|>Get current weather for a city.<|\"|>,parameters:{properties:"
    "{city:{description:<|\"|>City name<|\"|>,type:<|\"|>STRING<|\"|>},unit:{enum:[<|\"|>c<|\"|>,<|\"|>f<|\"|>],"
    "type:<|\"|>STRING<|\"|>}},required:[<|\"|>city<|\"|>],type:<|\"|>OBJECT<|\"|>}}<tool|>";

json weather_tool() {
  return json::parse(R"({"type":"function","function":{"name":"get_weather",
    "description":"Get current weather for a city.",
    "parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name"},
      "unit":{"type":"string","enum":["c","f"]}},"required":["city"]}}})");
}

json weather_messages() {
  return json::parse(R"([
    {"role":"system","content":"You are a helpful assistant."},
    {"role":"user","content":"What's the weather in Paris?"},
    {"role":"assistant","reasoning_content":"Need to call the tool.","tool_calls":[
      {"id":"c1","type":"function","function":{"name":"get_weather","arguments":{"city":"Paris","unit":"c"}}}]},
    {"role":"tool","tool_call_id":"c1","content":"{\"temp\": 18, \"sky\": \"cloudy\"}"},
    {"role":"assistant","content":"It is 18 °C and cloudy in Paris."},
    {"role":"user","content":"Thanks!"}])");
}

std::string render(const json& messages, const json& tools, bool thinking, bool generation_prompt = true) {
  RenderOptions options;
  options.enable_thinking = thinking;
  options.add_generation_prompt = generation_prompt;
  return render_gemma4_prompt(conversation_from_json(messages, tools), options);
}

const std::string kHistory = std::string(
    "<|turn>user\nWhat's the weather in Paris?<turn|>\n"
    "<|turn>model\n<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,unit:<|\"|>c<|\"|>}<tool_call|>"
    "<|tool_response>response:get_weather{value:<|\"|>{\"temp\": 18, \"sky\": \"cloudy\"}<|\"|>}<tool_response|>"
    "It is 18 °C and cloudy in Paris.<turn|>\n"
    "<|turn>user\nThanks!<turn|>\n");

TEST(ChatRenderer, WeatherThinkingOff) {
  const std::string expected = std::string("<bos><|turn>system\nYou are a helpful assistant.") + kDeclaration +
                               "<turn|>\n" + kHistory + "<|turn>model\n<|channel>thought\n<channel|>";
  EXPECT_EQ(render(weather_messages(), json::array({weather_tool()}), false), expected);
}

TEST(ChatRenderer, WeatherThinkingOn) {
  const std::string expected = std::string("<bos><|turn>system\n<|think|>\nYou are a helpful assistant.") +
                               kDeclaration + "<turn|>\n" + kHistory + "<|turn>model\n";
  EXPECT_EQ(render(weather_messages(), json::array({weather_tool()}), true), expected);
}

TEST(ChatRenderer, PendingToolResultKeepsReasoningAndOpensNoTurn) {
  json messages = weather_messages();
  messages.erase(messages.begin() + 4, messages.end());
  const std::string expected =
      std::string("<bos><|turn>system\nYou are a helpful assistant.") + kDeclaration + "<turn|>\n" +
      "<|turn>user\nWhat's the weather in Paris?<turn|>\n<|turn>model\n<|channel>thought\nNeed to call the tool.\n"
      "<channel|><|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,unit:<|\"|>c<|\"|>}<tool_call|>"
      "<|tool_response>response:get_weather{value:<|\"|>{\"temp\": 18, \"sky\": \"cloudy\"}<|\"|>}<tool_response|>";
  EXPECT_EQ(render(messages, json::array({weather_tool()}), false), expected);
}

TEST(ChatRenderer, MinimalPrompts) {
  const json hi = json::parse(R"([{"role":"user","content":"Hi"}])");
  EXPECT_EQ(render(hi, nullptr, false), "<bos><|turn>user\nHi<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
  EXPECT_EQ(render(hi, nullptr, true), "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n");
  EXPECT_EQ(render(hi, nullptr, false, false), "<bos><|turn>user\nHi<turn|>\n");
}

TEST(ChatRenderer, MultimodalUserContent) {
  const json m = json::parse(
      R"([{"role":"user","content":[{"type":"image"},{"type":"text","text":"Describe this."},{"type":"audio"}]}])");
  EXPECT_EQ(render(m, nullptr, false, false), "<bos><|turn>user\n<|image|>Describe this.<|audio|><turn|>\n");
}

TEST(ChatRenderer, AssistantContentLosesChannelBlocksAndOldThoughts) {
  const json m = json::parse(R"([{"role":"user","content":"a"},
    {"role":"assistant","reasoning":"dropped","content":"<|channel>thought\nx<channel|> Answer. "},
    {"role":"user","content":" b "}])");
  EXPECT_EQ(render(m, nullptr, true),
            "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\na<turn|>\n<|turn>model\nAnswer.<turn|>\n"
            "<|turn>user\nb<turn|>\n<|turn>model\n");
}

TEST(ChatRenderer, ObjectToolResultAndUnansweredCall) {
  const json m = json::parse(R"([{"role":"user","content":"a"},
    {"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":{"b":[1,true,"x"],"A":{"k":2.5}}}}]},
    {"role":"tool","name":"f","content":{"z":"s","y":{"q":1}}}])");
  EXPECT_EQ(render(m, nullptr, false),
            "<bos><|turn>user\na<turn|>\n<|turn>model\n<|tool_call>call:f{A:{k:2.5},b:[1,true,<|\"|>x<|\"|>]}"
            "<tool_call|><|tool_response>response:f{y:{q:1},z:<|\"|>s<|\"|>}<tool_response|>");
  json unanswered = m;
  unanswered.erase(unanswered.begin() + 2);
  EXPECT_EQ(render(unanswered, nullptr, false),
            "<bos><|turn>user\na<turn|>\n<|turn>model\n<|tool_call>call:f{A:{k:2.5},b:[1,true,<|\"|>x<|\"|>]}"
            "<tool_call|><|tool_response>");
}

TEST(ChatRenderer, NestedSchemas) {
  const json tool = json::parse(R"({"type":"function","function":{"name":"t","description":"d",
    "parameters":{"type":"object","properties":{
      "list":{"type":"array","description":"L","items":{"type":"object","properties":{"n":{"type":"integer"}},
        "required":["n"]}},
      "obj":{"type":"object","nullable":true,"properties":{"Inner":{"type":"number"}},"required":["Inner"]}}}}})");
  const json m = json::parse(R"([{"role":"user","content":"x"}])");
  EXPECT_EQ(render(m, json::array({tool}), false, false),
            "<bos><|turn>system\n<|tool>declaration:t{description:<|\"|>d<|\"|>,parameters:{properties:{"
            "list:{description:<|\"|>L<|\"|>,items:{properties:{n:{type:<|\"|>INTEGER<|\"|>}},required:[<|\"|>n<|\"|>],"
            "type:<|\"|>OBJECT<|\"|>},type:<|\"|>ARRAY<|\"|>},obj:{nullable:true,properties:{Inner:{type:<|\"|>NUMBER"
            "<|\"|>}},required:[<|\"|>Inner<|\"|>],type:<|\"|>OBJECT<|\"|>}},type:<|\"|>OBJECT<|\"|>}}<tool|><turn|>\n"
            "<|turn>user\nx<turn|>\n");
}

// The one schema feature the parity test cannot reach (@huggingface/jinja lacks map('upper')).
TEST(ChatRenderer, ArrayItemsWithAListOfTypes) {
  const json tool = json::parse(R"({"type":"function","function":{"name":"t","parameters":{"type":"object",
    "properties":{"v":{"type":"array","items":{"type":["integer","string"],"description":"d"}}}}}})");
  EXPECT_EQ(render(json::parse(R"([{"role":"user","content":"x"}])"), json::array({tool}), false, false),
            "<bos><|turn>system\n<|tool>declaration:t{description:<|\"|><|\"|>,parameters:{properties:{v:{items:{"
            "description:<|\"|>d<|\"|>,type:[<|\"|>INTEGER<|\"|>,<|\"|>STRING<|\"|>]},type:<|\"|>ARRAY<|\"|>}},"
            "type:<|\"|>OBJECT<|\"|>}}<tool|><turn|>\n<|turn>user\nx<turn|>\n");
}

// "T or null" in JSON Schema's spellings (pydantic's anyOf for Optional, a list type) renders as the template's own
// form of it, one type plus nullable:true (which the parity suite checks against the template); other unions are
// refused with a message rather than given to the template, which fails on them.
TEST(ChatRenderer, OptionalPropertiesBecomeNullable) {
  const json m = json::parse(R"([{"role":"user","content":"x"}])");
  auto tool_with = [](const char* property) {
    return json::array({json::parse(std::string(R"({"type":"function","function":{"name":"t","description":"d",
      "parameters":{"type":"object","properties":{"p":)") + property + "}}}}")});
  };
  const std::string nullable = render(m, tool_with(R"({"type":"string","description":"D","nullable":true})"), false);
  EXPECT_NE(nullable.find("p:{description:<|\"|>D<|\"|>,nullable:true,type:<|\"|>STRING<|\"|>}"), std::string::npos)
      << nullable;
  EXPECT_EQ(render(m, tool_with(R"({"anyOf":[{"type":"string"},{"type":"null"}],"description":"D"})"), false), nullable);
  EXPECT_EQ(render(m, tool_with(R"({"oneOf":[{"type":"null"},{"type":"string","description":"D"}]})"), false), nullable);
  EXPECT_EQ(render(m, tool_with(R"({"type":["string","null"],"description":"D"})"), false), nullable);
  // Not nullable: a one-element union is just that type.
  EXPECT_EQ(render(m, tool_with(R"({"anyOf":[{"type":"string"}],"description":"D"})"), false),
            render(m, tool_with(R"({"type":"string","description":"D"})"), false));
  // An optional array keeps its items.
  const std::string items = render(m, tool_with(R"({"anyOf":[{"type":"array","items":{"type":"integer"}},
      {"type":"null"}]})"), false);
  EXPECT_EQ(items, render(m, tool_with(R"({"type":"array","items":{"type":"integer"},"nullable":true})"), false));
  for (const char* bad : {R"({"anyOf":[{"type":"string"},{"type":"integer"}]})", R"({"type":["string","integer"]})",
                          R"({"anyOf":[{"type":"null"}]})", R"({"anyOf":{"type":"string"}})"}) {
    try {
      render(m, tool_with(bad), false);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("tool t.p:"), std::string::npos) << e.what();
    }
  }
}

TEST(ChatRenderer, RefusesWhatTheTemplateCannotSay) {
  EXPECT_THROW(render(json::array(), nullptr, false), std::invalid_argument);
  EXPECT_THROW(render(json::parse(R"([{"role":"tool","name":"f","content":"x"}])"), nullptr, false),
               std::invalid_argument);
  EXPECT_THROW(render(json::parse(R"([{"role":"system","content":[{"type":"text","text":"s"}]}])"), nullptr, false),
               std::invalid_argument);
  const json bad_tool = json::parse(R"({"type":"function","function":{"name":"t",
    "parameters":{"type":"object","properties":{"type":{"type":"string"}}}}})");
  EXPECT_THROW(render(json::parse(R"([{"role":"user","content":"x"}])"), json::array({bad_tool}), false),
               std::invalid_argument);
  EXPECT_THROW(render(json::parse(R"([{"role":"wizard","content":"x"}])"), nullptr, false), std::invalid_argument);
}

}  // namespace
}  // namespace locus::text
