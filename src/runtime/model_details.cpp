#include "runtime/model_details.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

#include "gguf/file.h"
#include "runtime/store_error.h"

namespace locus::runtime {
namespace fs = std::filesystem;

namespace {

// Names of general.file_type values (llama.cpp's llama_ftype numbering; gaps are retired numbers).
std::string_view file_type_name_or_empty(uint32_t t) {
  switch (t) {
    case 0: return "F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K_S";
    case 12: return "Q3_K_M";
    case 13: return "Q3_K_L";
    case 14: return "Q4_K_S";
    case 15: return "Q4_K_M";
    case 16: return "Q5_K_S";
    case 17: return "Q5_K_M";
    case 18: return "Q6_K";
    case 19: return "IQ2_XXS";
    case 20: return "IQ2_XS";
    case 21: return "Q2_K_S";
    case 22: return "IQ3_XS";
    case 23: return "IQ3_XXS";
    case 24: return "IQ1_S";
    case 25: return "IQ4_NL";
    case 26: return "IQ3_S";
    case 27: return "IQ3_M";
    case 28: return "IQ2_S";
    case 29: return "IQ2_M";
    case 30: return "IQ4_XS";
    case 31: return "IQ1_M";
    case 32: return "BF16";
    case 36: return "TQ1_0";
    case 37: return "TQ2_0";
    case 38: return "MXFP4_MOE";
    default: return {};
  }
}

}  // namespace

ModelDetails details_from_gguf(const gguf::GgufFile& f) {
  ModelDetails d;
  d.family = f.get_string_or("general.architecture").value_or("");
  if (!d.family.empty()) d.families = {d.family};
  uint64_t params = 0;
  for (const auto& t : f.content().tensors) params += t.n_elements();
  if (params > 0) {
    d.parameter_size = format_parameter_count(params);
  } else {
    d.parameter_size = f.get_string_or("general.size_label").value_or("");
  }
  if (auto ft = f.get_u32_or("general.file_type")) d.quantization_level = file_type_name(*ft);
  return d;
}

// ---- details ----

std::string format_parameter_count(uint64_t count) {
  static constexpr struct {
    double scale;
    const char* suffix;
  } kUnits[] = {{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}};
  const double n = static_cast<double>(count);
  for (size_t i = 0; i < std::size(kUnits); ++i) {
    if (n < kUnits[i].scale) continue;
    double v = std::round(n / kUnits[i].scale * 10.0) / 10.0;
    const char* suffix = kUnits[i].suffix;
    // 999.96M rounds to 1000.0M: say 1B instead.
    if (v >= 1000.0 && i > 0) {
      v = std::round(n / kUnits[i - 1].scale * 10.0) / 10.0;
      suffix = kUnits[i - 1].suffix;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    std::string s = buf;
    if (s.ends_with(".0")) s.resize(s.size() - 2);
    return s + suffix;
  }
  return std::to_string(count);
}

std::string file_type_name(uint32_t file_type) {
  const std::string_view name = file_type_name_or_empty(file_type);
  return name.empty() ? "unknown (" + std::to_string(file_type) + ")" : std::string(name);
}

ModelDetails details_from_gguf(const fs::path& gguf_path) {
  try {
    return details_from_gguf(gguf::GgufFile::open(gguf_path.string()));
  } catch (const gguf::GgufError& e) {
    throw StoreError(StoreErrorKind::corrupt, e.what());
  }
}

std::string ollama_config_blob(const ModelDetails& details, const std::vector<ManifestLayer>& layers) {
  nlohmann::ordered_json config;
  config["model_format"] = details.format;
  config["model_family"] = details.family;
  config["model_families"] = details.families.empty() ? std::vector<std::string>{details.family} : details.families;
  config["model_type"] = details.parameter_size;
  config["file_type"] = details.quantization_level;
#if defined(__aarch64__)
  config["architecture"] = "arm64";
#else
  config["architecture"] = "amd64";
#endif
  config["os"] = "linux";
  config["rootfs"] = {{"type", "layers"}, {"diff_ids", nlohmann::ordered_json::array()}};
  for (const ManifestLayer& l : layers) config["rootfs"]["diff_ids"].push_back(l.digest);
  return config.dump();
}

}  // namespace locus::runtime
