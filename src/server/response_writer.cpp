#include "server/response_writer.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>

#include <nlohmann/json.hpp>

#include "server/ollama_writer.h"
#include "server/openai_writer.h"
#include "server/transcription.h"

namespace locus::server {

namespace {

// SplitMix64: a well-mixed 64-bit value from a counter, so nearby seeds give unrelated ids.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::string base36(uint64_t x, int n) {
  constexpr char kDigits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += kDigits[x % 36];
    x /= 36;
  }
  return s;
}

int64_t seconds_to_ns(double s) { return s > 0 ? static_cast<int64_t>(std::llround(s * 1e9)) : 0; }

const char* openai_error_type(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    default: return "api_error";
  }
}

}  // namespace

DoneEvent done_event_from(const runtime::GenerateResult& r) {
  DoneEvent d;
  d.reason = r.reason == runtime::DoneReason::length || r.reason == runtime::DoneReason::repetition
                 ? FinishReason::kLength
                 : FinishReason::kStop;
  d.prompt_eval_count = r.prompt_eval_count;
  d.eval_count = r.eval_count;
  d.prompt_eval_duration_ns = seconds_to_ns(r.prompt_eval_seconds);
  d.eval_duration_ns = seconds_to_ns(r.eval_seconds);
  d.total_duration_ns = d.prompt_eval_duration_ns + d.eval_duration_ns;
  return d;
}

double wire_logprob(float logprob) {
  if (!(logprob > -std::numeric_limits<float>::infinity())) return -9999.0;  // -inf (and NaN, never produced)
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, logprob);
  *r.ptr = '\0';
  return std::strtod(buf, nullptr);
}

nlohmann::ordered_json wire_bytes(std::string_view text) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (const char c : text) a.push_back(static_cast<int>(static_cast<unsigned char>(c)));
  return a;
}

nlohmann::ordered_json wire_logprob_json(const WireLogprob& t) {
  nlohmann::ordered_json j;
  j["token"] = t.token;
  j["logprob"] = wire_logprob(t.logprob);
  j["bytes"] = wire_bytes(t.token);
  return j;
}

std::unique_ptr<ResponseWriter> make_response_writer(const ApiRequest& request, WriterConfig config) {
  if (!config.now) config.now = [] { return std::chrono::system_clock::now(); };
  if (request.api == Api::kOpenAiTranscription) return make_transcription_writer(request, std::move(config));
  if (is_openai(request.api)) return make_openai_writer(request, std::move(config));
  return make_ollama_writer(request, std::move(config));
}

std::string ollama_error_body(std::string_view message) {
  nlohmann::ordered_json j;
  j["error"] = std::string(message);
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string openai_error_body(const ApiError& error) {
  nlohmann::ordered_json e;
  e["message"] = error.message;
  e["type"] = openai_error_type(error.http_status);
  e["param"] = error.param.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(error.param);
  // OpenAI names an unknown model with a code that its clients test for; other errors carry none.
  e["code"] = error.http_status == 404 && error.param == "model" ? nlohmann::ordered_json("model_not_found")
                                                                 : nlohmann::ordered_json();
  nlohmann::ordered_json j;
  j["error"] = std::move(e);
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string make_tool_call_id(uint64_t seed, uint32_t index) {
  return "call_" + base36(mix(mix(seed) + index), 8);
}

std::string make_response_id(Api api, uint64_t seed) {
  return std::string(api == Api::kOpenAiCompletions ? "cmpl-" : "chatcmpl-") + base36(mix(seed), 12);
}

std::string format_rfc3339_nano(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const auto ns = duration_cast<nanoseconds>(time.time_since_epoch()).count();
  int64_t secs = ns / 1'000'000'000;
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {  // before 1970: floor, so the fraction stays positive
    frac += 1'000'000'000;
    --secs;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (frac != 0) {
    char digits[16];
    std::snprintf(digits, sizeof digits, ".%09lld", static_cast<long long>(frac));
    std::string f = digits;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

}  // namespace locus::server
