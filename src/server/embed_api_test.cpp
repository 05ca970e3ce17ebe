// The embedding endpoints' wire side: the three request shapes, their refusals, `dimensions`, and the three
// answer shapes (OpenAI base64 = little-endian float32 bytes).
#include "server/embed_api.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "server/base64.h"

namespace locus::server {
namespace {

using J = nlohmann::ordered_json;

TEST(EmbedApi, OllamaEmbedInputs) {
  auto p = parse_ollama_embed(J{{"model", "m"}, {"input", "hello"}});
  ASSERT_TRUE(p.ok()) << p.error->message;
  ASSERT_EQ(p.request.inputs.size(), 1u);
  EXPECT_EQ(p.request.inputs[0].text, "hello");
  EXPECT_TRUE(p.request.truncate);
  p = parse_ollama_embed(J{{"model", "m"}, {"input", {"a", "b"}}, {"truncate", false}, {"dimensions", 8},
                           {"keep_alive", "10m"}, {"options", {{"num_ctx", 512}}}});
  ASSERT_TRUE(p.ok()) << p.error->message;
  EXPECT_EQ(p.request.inputs.size(), 2u);
  EXPECT_FALSE(p.request.truncate);
  EXPECT_EQ(p.request.dimensions, 8);
  ASSERT_TRUE(p.request.keep_alive);
  EXPECT_EQ(p.request.keep_alive->duration_ms, 600000);
}

TEST(EmbedApi, Refusals) {
  const J bad[] = {
      J{{"model", "m"}},                                  // no input
      J{{"model", "m"}, {"input", ""}},                   // empty text
      J{{"model", "m"}, {"input", J::array()}},           // empty list
      J{{"model", "m"}, {"input", {"a", 3}}},             // not a string
      J{{"model", "m"}, {"input", "a"}, {"dimensions", 0}},
      J{{"model", "m"}, {"input", "a"}, {"truncate", "yes"}},
      J{{"input", "a"}},                                  // no model
  };
  for (const J& b : bad) {
    auto p = parse_ollama_embed(b);
    ASSERT_FALSE(p.ok()) << b.dump();
    EXPECT_EQ(p.error->http_status, 400) << b.dump();
  }
  auto p = parse_ollama_embed(J{{"model", "m"}, {"input", {"a", 3}}});
  EXPECT_EQ(p.error->param, "input[1]");
  EXPECT_FALSE(parse_ollama_embeddings(J{{"model", "m"}, {"prompt", ""}}).ok());
  EXPECT_FALSE(parse_openai_embeddings(J{{"model", "m"}, {"input", "a"}, {"encoding_format", "hex"}}).ok());
  EXPECT_FALSE(parse_openai_embeddings(J{{"model", "m"}, {"input", {J::array()}}}).ok());
  EXPECT_FALSE(parse_openai_embeddings(J{{"model", "m"}, {"input", {1, -2}}}).ok());
}

TEST(EmbedApi, OpenAiInputForms) {
  auto p = parse_openai_embeddings(J{{"model", "m"}, {"input", {2, 10, 11}}});
  ASSERT_TRUE(p.ok()) << p.error->message;
  ASSERT_EQ(p.request.inputs.size(), 1u);
  EXPECT_TRUE(p.request.inputs[0].is_tokens);
  EXPECT_EQ(p.request.inputs[0].tokens, (std::vector<int32_t>{2, 10, 11}));
  p = parse_openai_embeddings(J{{"model", "m"}, {"input", {{2, 10}, {2}}}, {"encoding_format", "base64"}});
  ASSERT_TRUE(p.ok()) << p.error->message;
  EXPECT_EQ(p.request.inputs.size(), 2u);
  EXPECT_TRUE(p.request.base64);
  p = parse_openai_embeddings(J{{"model", "m"}, {"input", {"a", "b"}}, {"dimensions", 4}});
  ASSERT_TRUE(p.ok()) << p.error->message;
  EXPECT_EQ(p.request.inputs[1].text, "b");
  EXPECT_EQ(p.request.dimensions, 4);
}

TEST(EmbedApi, ReduceDimensionsRenormalizes) {
  std::vector<float> v{0.6f, 0.0f, 0.8f, 0.0f};
  reduce_dimensions(v, 2);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_FLOAT_EQ(v[0], 1.0f);
  EXPECT_FLOAT_EQ(v[1], 0.0f);
  std::vector<float> z{0.0f, 0.0f, 1.0f};
  reduce_dimensions(z, 2);  // all zero: stays zero, no NaN
  EXPECT_EQ(z, (std::vector<float>{0.0f, 0.0f}));
  std::vector<float> same{0.5f, 0.5f};
  reduce_dimensions(same, 4);
  EXPECT_EQ(same.size(), 2u);
}

TEST(EmbedApi, AnswerShapes) {
  EmbedResult r;
  r.embeddings = {{1.0f, -0.5f}, {0.25f, 2.0f}};
  r.prompt_tokens = 7;
  r.total_duration_ns = 100;
  r.load_duration_ns = 5;
  EmbedRequest q;
  q.model = "m:latest";
  q.api = EmbedApi::kOllamaEmbed;
  EXPECT_EQ(embed_response_json(q, r).dump(),
            R"({"model":"m:latest","embeddings":[[1.0,-0.5],[0.25,2.0]],"total_duration":100,"load_duration":5,)"
            R"("prompt_eval_count":7})");
  q.api = EmbedApi::kOllamaEmbeddings;
  EXPECT_EQ(embed_response_json(q, r).dump(), R"({"embedding":[1.0,-0.5]})");
  q.api = EmbedApi::kOpenAi;
  EXPECT_EQ(embed_response_json(q, r).dump(),
            R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0,-0.5]},)"
            R"({"object":"embedding","index":1,"embedding":[0.25,2.0]}],"model":"m:latest",)"
            R"("usage":{"prompt_tokens":7,"total_tokens":7}})");
  q.base64 = true;
  const J j = embed_response_json(q, r);
  const auto bytes = decode_base64(j["data"][0]["embedding"].get<std::string>());
  ASSERT_TRUE(bytes.bytes);
  ASSERT_EQ(bytes.bytes->size(), 8u);
  // 1.0f is 0x3f800000: little-endian 00 00 80 3f.
  EXPECT_EQ(*bytes.bytes, std::string("\x00\x00\x80\x3f\x00\x00\x00\xbf", 8));
}

}  // namespace
}  // namespace locus::server
