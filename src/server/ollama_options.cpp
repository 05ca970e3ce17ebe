#include "server/ollama_options.h"

#include <cmath>
#include <cstdint>
#include <string_view>

namespace locus::server {

namespace {

constexpr std::string_view kLegacyKeys[] = {
    "numa",     "low_vram",     "f16_kv",       "logits_all",       "vocab_only", "use_mlock",
    "embedding_only", "tfs_z", "mirostat", "mirostat_tau", "mirostat_eta", "penalize_newline",
};

int32_t int32_option(const OrderedJson& v, const std::string& path) {
  return static_cast<int32_t>(truncate_to_int(v, path, INT32_MIN, INT32_MAX));
}

float float_option(const OrderedJson& v, const std::string& path) {
  if (!v.is_number()) fail_field(path, "a number", &v);
  return static_cast<float>(v.get<double>());
}

}  // namespace

bool read_media_option(std::string_view key, const OrderedJson& v, const std::string& path, bool truncate_numbers,
                       MediaOptions& m) {
  auto integer = [&]() -> int32_t {
    if (truncate_numbers) return int32_option(v, path);
    if (!v.is_number() || v.get<double>() != std::trunc(v.get<double>())) fail_field(path, "an integer", &v);
    const double d = v.get<double>();
    if (d < INT32_MIN || d > INT32_MAX) fail_field(path, "an integer in the 32-bit range", &v);
    return static_cast<int32_t>(d);
  };
  auto rule = [&]() -> bool {  // true: google
    if (v.is_string()) {
      if (v.get_ref<const std::string&>() == "google") return true;
      if (v.get_ref<const std::string&>() == "llama.cpp") return false;
    }
    fail_field(path, "\"google\" or \"llama.cpp\"", &v);
  };
  if (key == "image_tokens") {
    m.image_tokens = integer();
  } else if (key == "image_size_rule") {
    m.image_size_rule = rule() ? MediaOptions::SizeRule::kGoogle : MediaOptions::SizeRule::kLlamaCpp;
  } else if (key == "video_frames") {
    m.video_frames = integer();
  } else if (key == "video_frame_tokens") {
    m.video_frame_tokens = integer();
  } else if (key == "video_audio") {
    if (!v.is_boolean()) fail_field(path, "true or false", &v);
    m.video_audio = v.get<bool>();
  } else if (key == "video_layout") {
    m.video_layout = rule() ? MediaOptions::VideoLayout::kGoogle : MediaOptions::VideoLayout::kLlamaCpp;
  } else {
    return false;
  }
  return true;
}

std::vector<std::string> read_stop_list(const OrderedJson& value, const std::string& path, bool allow_string) {
  std::vector<std::string> stops;
  if (allow_string && value.is_string()) {
    stops.push_back(value.get<std::string>());
    return stops;
  }
  const char* expected = allow_string ? "a string or an array of strings" : "an array of strings";
  if (!value.is_array()) fail_field(path, expected, &value);
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_string()) fail_field(index_path(path, i), "a string", &value[i]);
    stops.push_back(value[i].get<std::string>());
  }
  return stops;
}

void apply_ollama_options(const OrderedJson& options, const std::string& path, runtime::SamplingOptions& s,
                          RunnerOptions& runner, std::vector<std::string>& warnings, MediaOptions* media) {
  if (!options.is_object()) fail_field(path, "an object", &options);
  for (const auto& [key, v] : options.items()) {
    if (v.is_null()) continue;
    const std::string p = field_path(path, key);
    if (key == "num_ctx") s.num_ctx = int32_option(v, p);
    else if (key == "num_predict") s.num_predict = int32_option(v, p);
    else if (key == "num_keep") s.num_keep = int32_option(v, p);
    else if (key == "num_batch") s.num_batch = int32_option(v, p);
    else if (key == "top_k") s.top_k = int32_option(v, p);
    else if (key == "repeat_last_n") s.repeat_last_n = int32_option(v, p);
    else if (key == "seed") s.seed = truncate_to_int(v, p, INT64_MIN, INT64_MAX);
    else if (key == "temperature") s.temperature = float_option(v, p);
    else if (key == "top_p") s.top_p = float_option(v, p);
    else if (key == "min_p") s.min_p = float_option(v, p);
    else if (key == "typical_p") s.typical_p = float_option(v, p);
    else if (key == "repeat_penalty") s.repeat_penalty = float_option(v, p);
    else if (key == "presence_penalty") s.presence_penalty = float_option(v, p);
    else if (key == "frequency_penalty") s.frequency_penalty = float_option(v, p);
    else if (key == "stop") s.stop = read_stop_list(v, p, false);
    else if (key == "num_gpu") runner.num_gpu = int32_option(v, p);
    else if (key == "main_gpu") runner.main_gpu = int32_option(v, p);
    else if (key == "num_thread") runner.num_thread = int32_option(v, p);
    else if (key == "draft_num_predict") runner.draft_num_predict = int32_option(v, p);
    else if (key == "use_mmap") {
      if (!v.is_boolean()) fail_field(p, "true or false", &v);
      runner.use_mmap = v.get<bool>();
    } else if (media != nullptr && read_media_option(key, v, p, true, *media)) {
    } else {
      bool legacy = false;
      for (std::string_view k : kLegacyKeys) legacy = legacy || k == key;
      if (!legacy) warnings.push_back(p + ": unknown option, ignored");
    }
  }
}

}  // namespace locus::server
