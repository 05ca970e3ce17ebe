#include "runtime/model_projector.h"

#include <algorithm>
#include <cctype>
#include <system_error>
#include <vector>

#include "gguf/file.h"

namespace locus::runtime {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

StoreError bad(const fs::path& path, const std::string& what) {
  return StoreError(StoreErrorKind::bad_input, "projector " + path.string() + ": " + what);
}

// A value as an error shows it: strings quoted, the rest by type.
std::string shown_value(const gguf::Value* v) {
  if (v == nullptr) return "nothing (the key is absent)";
  if (const auto* s = std::get_if<std::string>(&v->data)) return "\"" + *s + "\"";
  if (const auto* b = std::get_if<bool>(&v->data)) return *b ? "true" : "false";
  if (const auto* u = std::get_if<uint64_t>(&v->data)) return std::to_string(*u);
  if (const auto* i = std::get_if<int64_t>(&v->data)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v->data)) return std::to_string(*d);
  return "an array";
}

// A positive integer of any GGUF integer type, or nothing.
std::optional<uint64_t> positive_integer(const gguf::Value* v) {
  if (v == nullptr) return std::nullopt;
  if (const auto* u = std::get_if<uint64_t>(&v->data); u != nullptr && *u > 0) return *u;
  if (const auto* i = std::get_if<int64_t>(&v->data); i != nullptr && *i > 0) return static_cast<uint64_t>(*i);
  return std::nullopt;
}

bool flag(const gguf::GgufFile& f, std::string_view key) {
  const gguf::Value* v = f.find(key);
  if (v == nullptr) return false;
  if (const auto* b = std::get_if<bool>(&v->data)) return *b;
  throw bad(f.path(), std::string(key) + ": expected a bool, found " + shown_value(v));
}

// The projector type of one modality: its own key, else the file-wide clip.projector_type.
std::string projector_type(const gguf::GgufFile& f, std::string_view modality) {
  const std::string key = "clip." + std::string(modality) + ".projector_type";
  const gguf::Value* v = f.find(key);
  std::string used = key;
  if (v == nullptr) {
    v = f.find("clip.projector_type");
    used = "clip.projector_type";
  }
  if (v == nullptr) throw bad(f.path(), key + ": expected a projector type, found nothing (the key is absent)");
  if (const auto* s = std::get_if<std::string>(&v->data)) return *s;
  throw bad(f.path(), used + ": expected a string, found " + shown_value(v));
}

uint32_t projection_dim(const gguf::GgufFile& f, std::string_view modality) {
  const std::string key = "clip." + std::string(modality) + ".projection_dim";
  const gguf::Value* v = f.find(key);
  const auto u = positive_integer(v);
  if (!u || *u > 1'000'000) throw bad(f.path(), key + ": expected a positive width, found " + shown_value(v));
  return static_cast<uint32_t>(*u);
}

std::string width_mismatch(const ProjectorInfo& p, uint32_t model_width) {
  return "projects to width " + std::to_string(p.projection_dim) + ", the model's embedding length is " +
         std::to_string(model_width) + " (a projector for another model)";
}

// mmproj*.gguf beside the model; with others, the other *.gguf files there.
std::vector<fs::path> candidates_beside(const fs::path& model, bool others = false) {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::path dir = model.parent_path();
  if (dir.empty()) dir = ".";
  fs::directory_iterator it(dir, ec);
  if (ec) return out;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path& p = it->path();
    const std::string name = lower(p.filename().string());
    if (!name.ends_with(".gguf") || !fs::is_regular_file(p, ec)) continue;
    if (name.starts_with("mmproj") == others) continue;
    if (fs::equivalent(p, model, ec)) continue;
    out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

ProjectorInfo inspect_projector(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw StoreError(StoreErrorKind::not_found, "projector " + path.string() + " does not exist");
  if (!fs::is_regular_file(path, ec)) throw bad(path, "expected a GGUF file, found a folder or device");
  std::optional<gguf::GgufFile> opened;
  try {
    opened.emplace(gguf::GgufFile::open(path.string()));
  } catch (const gguf::GgufError& e) {
    throw bad(path, std::string("expected a GGUF projector, found a file that does not read as GGUF: ") + e.what());
  }
  const gguf::GgufFile& f = *opened;
  const gguf::Value* arch = f.find("general.architecture");
  const auto* arch_s = arch != nullptr ? std::get_if<std::string>(&arch->data) : nullptr;
  if (arch_s == nullptr || *arch_s != "clip") {
    throw bad(path, "general.architecture: expected \"clip\" (an mmproj projector), found " + shown_value(arch) +
                        (arch_s != nullptr ? " (a model, not its projector?)" : ""));
  }
  ProjectorInfo p;
  p.path = path;
  p.has_vision = flag(f, "clip.has_vision_encoder");
  p.has_audio = flag(f, "clip.has_audio_encoder");
  if (!p.has_vision && !p.has_audio) {
    throw bad(path, "expected clip.has_vision_encoder or clip.has_audio_encoder to be true, found neither");
  }
  uint32_t vision_dim = 0, audio_dim = 0;
  if (p.has_vision) {
    const std::string type = projector_type(f, "vision");
    if (type != "gemma4uv") {
      throw bad(path, "vision projector type: expected \"gemma4uv\" (Gemma 4's encoder-free vision projector), found \"" +
                          type + "\"");
    }
    vision_dim = projection_dim(f, "vision");
  }
  if (p.has_audio) {
    const std::string type = projector_type(f, "audio");
    if (type != "gemma4ua") {
      throw bad(path, "audio projector type: expected \"gemma4ua\" (Gemma 4's encoder-free audio projector), found \"" +
                          type + "\"");
    }
    audio_dim = projection_dim(f, "audio");
  }
  if (vision_dim != 0 && audio_dim != 0 && vision_dim != audio_dim) {
    throw bad(path, "expected clip.vision.projection_dim and clip.audio.projection_dim to agree, found " +
                        std::to_string(vision_dim) + " and " + std::to_string(audio_dim));
  }
  p.projection_dim = vision_dim != 0 ? vision_dim : audio_dim;
  for (const auto& t : f.content().tensors) p.parameter_count += t.n_elements();
  return p;
}

std::optional<uint32_t> model_embedding_length(const fs::path& model) {
  try {
    const auto f = gguf::GgufFile::open(model.string());
    const auto arch = f.get_string_or("general.architecture");
    if (!arch || arch->empty()) return std::nullopt;
    const gguf::Value* v = f.find(*arch + ".embedding_length");
    const auto u = positive_integer(v);
    if (!u || *u > UINT32_MAX) return std::nullopt;
    return static_cast<uint32_t>(*u);
  } catch (const gguf::GgufError&) {
    return std::nullopt;
  }
}

void require_projector_fits(const ProjectorInfo& projector, const fs::path& model, std::string_view model_display) {
  const auto width = model_embedding_length(model);
  if (width && *width != projector.projection_dim) {
    throw bad(projector.path, "does not fit model " + std::string(model_display) + ": " + width_mismatch(projector, *width));
  }
}

std::string projector_modalities(const ProjectorInfo& p) {
  if (p.has_vision && p.has_audio) return "vision and audio";
  return p.has_vision ? "vision" : "audio";
}

ProjectorChoice find_projector(const fs::path& model, const ProjectorRequest& request) {
  ProjectorChoice choice;
  if (request.file) {
    ProjectorInfo p;
    try {
      p = inspect_projector(*request.file);
      require_projector_fits(p, model, model.string());
    } catch (const StoreError& e) {
      throw StoreError(e.kind(), request.origin + ": " + e.what());
    }
    choice.reason = "projector " + request.file->string() + " (" + projector_modalities(p) + "), given with " +
                    request.origin;
    choice.projector = std::move(p);
    choice.source = ProjectorSource::given;
    return choice;
  }
  if (!request.search_beside) {
    choice.reason = "no projector (none given, and the search beside the model is off)";
    return choice;
  }
  const std::vector<fs::path> candidates = candidates_beside(model);
  const auto width = model_embedding_length(model);
  // No mmproj*.gguf fits: a projector under another name beside the model (`locus-mkmodel ... --mmproj p.gguf`
  // writes such pairs) is used when it is the only one there that fits; other GGUFs there are not projectors
  // and are not mentioned.
  auto other_names = [&]() -> std::optional<ProjectorChoice> {
    std::vector<ProjectorInfo> found;
    for (const fs::path& c : candidates_beside(model, true)) {
      try {
        ProjectorInfo p = inspect_projector(c);
        if (!width || *width == p.projection_dim) found.push_back(std::move(p));
      } catch (const StoreError&) {
        // not a projector (another model, a damaged file): not this model's projector
      }
    }
    if (found.empty()) return std::nullopt;
    if (found.size() > 1) {
      std::string names;
      for (const auto& p : found) names += (names.empty() ? "" : ", ") + p.path.filename().string();
      throw StoreError(StoreErrorKind::bad_input, "model " + model.string() + ": " + std::to_string(found.size()) +
                                                      " projectors beside it fit it (" + names + " in " +
                                                      model.parent_path().string() + "), so none is picked "
                                                      "automatically: " + request.choose_hint);
    }
    ProjectorChoice c;
    c.projector = std::move(found.front());
    c.source = ProjectorSource::beside_model;
    c.reason = "projector " + c.projector->path.string() + " (" + projector_modalities(*c.projector) +
               "), found beside the model and used automatically (the only projector there that fits it)";
    return c;
  };
  if (candidates.empty()) {
    if (auto c = other_names()) return std::move(*c);
    choice.reason = "no projector: none given and none beside the model (mmproj*.gguf, or another GGUF projector)";
    return choice;
  }
  std::vector<ProjectorInfo> fitting;
  std::string passed_over;
  for (const fs::path& c : candidates) {
    std::string why;
    try {
      ProjectorInfo p = inspect_projector(c);
      if (width && *width != p.projection_dim) {
        why = width_mismatch(p, *width);
      } else {
        fitting.push_back(std::move(p));
        continue;
      }
    } catch (const StoreError& e) {
      why = e.what();
      const std::string prefix = "projector " + c.string() + ": ";
      if (why.starts_with(prefix)) why = why.substr(prefix.size());
    }
    passed_over += (passed_over.empty() ? "" : "; ") + c.filename().string() + ": " + why;
  }
  if (fitting.size() > 1) {
    std::string names;
    for (const auto& p : fitting) names += (names.empty() ? "" : ", ") + p.path.filename().string();
    throw StoreError(StoreErrorKind::bad_input,
                     "model " + model.string() + ": " + std::to_string(fitting.size()) +
                         " projectors beside it fit it (" + names + " in " + model.parent_path().string() +
                         "), so none is picked automatically: " + request.choose_hint);
  }
  if (fitting.empty()) {
    if (auto c = other_names()) return std::move(*c);
    choice.reason = "no projector: the mmproj*.gguf beside the model " +
                    std::string(candidates.size() == 1 ? "does" : "do") + " not fit it (" + passed_over + ")";
    return choice;
  }
  choice.projector = std::move(fitting.front());
  choice.source = ProjectorSource::beside_model;
  choice.reason = "projector " + choice.projector->path.string() + " (" + projector_modalities(*choice.projector) +
                  "), found beside the model and used automatically";
  if (!passed_over.empty()) choice.reason += " (passed over " + passed_over + ")";
  return choice;
}

}  // namespace locus::runtime
