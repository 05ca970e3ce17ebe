#include "server/embed_api.h"

#include <cmath>
#include <cstring>

#include "server/base64.h"
#include "server/go_duration.h"
#include "server/ollama_options.h"
#include "server/parse_common.h"

namespace locus::server {
namespace {

EmbedParse guarded(EmbedApi api, const OrderedJson& body, void (*fn)(const OrderedJson&, EmbedRequest&)) {
  EmbedParse out;
  out.request.api = api;
  try {
    if (!body.is_object()) fail_field("request body", "a JSON object", &body);
    out.request.model = read_model(body);
    fn(body, out.request);
  } catch (const FieldError& e) {
    out.error = ApiError{e.http_status(), e.what(), e.param()};
  } catch (const nlohmann::json::exception& e) {
    out.error = ApiError{400, std::string("invalid request: ") + e.what(), ""};
  }
  return out;
}

EmbedInput text_input(const OrderedJson& v, const std::string& path) {
  const std::string s = v.get<std::string>();
  // An empty text has no tokens to pool (BOS alone would embed nothing the client sent).
  if (s.empty()) fail_field(path, "a non-empty string", &v);
  EmbedInput in;
  in.text = s;
  return in;
}

EmbedInput token_input(const OrderedJson& v, const std::string& path) {
  if (v.empty()) fail_field(path, "a non-empty array of token ids", &v);
  EmbedInput in;
  in.is_tokens = true;
  for (size_t i = 0; i < v.size(); ++i) {
    const OrderedJson& t = v[i];
    if (!t.is_number_integer()) fail_field(index_path(path, i), "a token id (an integer)", &t);
    const int64_t id = t.get<int64_t>();
    if (id < 0 || id > INT32_MAX) fail_field(index_path(path, i), "a token id (an integer)", &t);
    in.tokens.push_back(static_cast<int32_t>(id));
  }
  return in;
}

void read_dimensions(const OrderedJson& body, EmbedRequest& r) {
  if (auto d = read_int(body, "dimensions", "")) {
    if (*d < 1 || *d > INT32_MAX) fail_field("dimensions", "a positive number of dimensions", find_field(body, "dimensions"));
    r.dimensions = static_cast<int32_t>(*d);
  }
}

void read_ollama_common(const OrderedJson& body, EmbedRequest& r) {
  if (const OrderedJson* ka = find_field(body, "keep_alive")) r.keep_alive = parse_keep_alive(*ka, "keep_alive");
  if (const OrderedJson* opts = find_field(body, "options")) {
    if (!opts->is_object()) fail_field("options", "an object", opts);
    // Validated with generation's type rules so a malformed body fails the same way; no option changes an
    // embedding (the context is the server's slot size), so the values are not used.
    runtime::SamplingOptions sampling;
    RunnerOptions runner;
    apply_ollama_options(*opts, "options", sampling, runner, r.warnings);
  }
}

void ollama_embed(const OrderedJson& body, EmbedRequest& r) {
  const OrderedJson* input = find_field(body, "input");
  if (input == nullptr) fail_field("input", "a string or an array of strings", input);
  if (input->is_string()) {
    r.inputs.push_back(text_input(*input, "input"));
  } else if (input->is_array()) {
    if (input->empty()) fail_field("input", "at least one string", input);
    for (size_t i = 0; i < input->size(); ++i) {
      const OrderedJson& v = (*input)[i];
      if (!v.is_string()) fail_field(index_path("input", i), "a string", &v);
      r.inputs.push_back(text_input(v, index_path("input", i)));
    }
  } else {
    fail_field("input", "a string or an array of strings", input);
  }
  r.truncate = read_bool(body, "truncate", "").value_or(true);
  read_dimensions(body, r);
  read_ollama_common(body, r);
}

void ollama_embeddings(const OrderedJson& body, EmbedRequest& r) {
  const OrderedJson* prompt = find_field(body, "prompt");
  if (prompt == nullptr || !prompt->is_string()) fail_field("prompt", "a string", prompt);
  r.inputs.push_back(text_input(*prompt, "prompt"));
  read_ollama_common(body, r);
}

void openai_embeddings(const OrderedJson& body, EmbedRequest& r) {
  const OrderedJson* input = find_field(body, "input");
  constexpr const char* kExpected = "a string, an array of strings, an array of token ids or an array of such arrays";
  if (input == nullptr) fail_field("input", kExpected, input);
  if (input->is_string()) {
    r.inputs.push_back(text_input(*input, "input"));
  } else if (input->is_array()) {
    if (input->empty()) fail_field("input", kExpected, input);
    const OrderedJson& first = input->front();
    if (first.is_number()) {
      r.inputs.push_back(token_input(*input, "input"));
    } else {
      for (size_t i = 0; i < input->size(); ++i) {
        const OrderedJson& v = (*input)[i];
        const std::string path = index_path("input", i);
        if (v.is_string()) r.inputs.push_back(text_input(v, path));
        else if (v.is_array()) r.inputs.push_back(token_input(v, path));
        else fail_field(path, "a string or an array of token ids", &v);
      }
    }
  } else {
    fail_field("input", kExpected, input);
  }
  const std::string format = read_string(body, "encoding_format", "").value_or("float");
  if (format != "float" && format != "base64") {
    fail_field("encoding_format", "\"float\" or \"base64\"", find_field(body, "encoding_format"));
  }
  r.base64 = format == "base64";
  read_dimensions(body, r);
}

// Little-endian float32 bytes, base64-encoded, as the OpenAI client decodes them.
std::string float_base64(const std::vector<float>& v) {
  std::string bytes(v.size() * 4, '\0');
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    for (int b = 0; b < 4; ++b) bytes[i * 4 + static_cast<size_t>(b)] = static_cast<char>((u >> (8 * b)) & 0xff);
  }
  return encode_base64(bytes);
}

}  // namespace

EmbedParse parse_ollama_embed(const OrderedJson& body) { return guarded(EmbedApi::kOllamaEmbed, body, ollama_embed); }
EmbedParse parse_ollama_embeddings(const OrderedJson& body) {
  return guarded(EmbedApi::kOllamaEmbeddings, body, ollama_embeddings);
}
EmbedParse parse_openai_embeddings(const OrderedJson& body) { return guarded(EmbedApi::kOpenAi, body, openai_embeddings); }

void reduce_dimensions(std::vector<float>& v, size_t dimensions) {
  if (dimensions >= v.size()) return;
  v.resize(dimensions);
  double sum = 0.0;
  for (float x : v) sum += double(x) * double(x);
  if (sum <= 0.0) return;  // an all-zero prefix stays zero rather than becoming NaN
  const float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= inv;
}

OrderedJson embed_response_json(const EmbedRequest& request, const EmbedResult& result) {
  switch (request.api) {
    case EmbedApi::kOllamaEmbed: {
      OrderedJson j{{"model", request.model}, {"embeddings", OrderedJson::array()}};
      for (const auto& e : result.embeddings) j["embeddings"].push_back(e);
      j["total_duration"] = result.total_duration_ns;
      j["load_duration"] = result.load_duration_ns;
      j["prompt_eval_count"] = result.prompt_tokens;
      return j;
    }
    case EmbedApi::kOllamaEmbeddings:
      return OrderedJson{{"embedding", result.embeddings.empty() ? std::vector<float>() : result.embeddings.front()}};
    case EmbedApi::kOpenAi: {
      OrderedJson data = OrderedJson::array();
      for (size_t i = 0; i < result.embeddings.size(); ++i) {
        OrderedJson item{{"object", "embedding"}, {"index", i}};
        if (request.base64) item["embedding"] = float_base64(result.embeddings[i]);
        else item["embedding"] = result.embeddings[i];
        data.push_back(std::move(item));
      }
      return OrderedJson{{"object", "list"},
                         {"data", std::move(data)},
                         {"model", request.model},
                         {"usage", {{"prompt_tokens", result.prompt_tokens}, {"total_tokens", result.prompt_tokens}}}};
    }
  }
  return OrderedJson::object();
}

}  // namespace locus::server
