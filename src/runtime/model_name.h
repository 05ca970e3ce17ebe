// Model names as Ollama spells them: [host/][namespace/]model[:tag], e.g. "gemma4", "gemma4:12b",
// "user/mymodel:v2", "hf.co/unsloth/gemma-4-12b-it-GGUF:Q4_K_M". Missing parts take Ollama's defaults
// (registry.ollama.ai, library, latest). A name maps to the manifest path host/namespace/model/tag under a
// store's manifests/ folder, so the parts are validated strictly enough that none can climb out of it.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace locus::runtime {

inline constexpr std::string_view kDefaultHost = "registry.ollama.ai";
inline constexpr std::string_view kDefaultNamespace = "library";
inline constexpr std::string_view kDefaultTag = "latest";

// Part limits. Ollama allows 350 characters of host (a DNS name and port) and 80 of each other part.
inline constexpr size_t kMaxHostChars = 350;
inline constexpr size_t kMaxPartChars = 80;

struct ModelName {
  std::string host{kDefaultHost};
  std::string name_space{kDefaultNamespace};  // "namespace" is a keyword
  std::string model;
  std::string tag{kDefaultTag};

  // The shortest form that parses back to the same name, as `ollama list` shows it: "gemma4:12b",
  // "user/m:latest", "hf.co/user/repo:Q4_K_M". The tag is always shown.
  std::string display() const;
  // Every part spelled out: "registry.ollama.ai/library/gemma4:12b".
  std::string full() const;
  // host/namespace/model/tag, relative to a store's manifests/ folder.
  std::filesystem::path manifest_relative_path() const;
  // Ollama treats names that differ only in case as the same model.
  bool same_model_as(const ModelName& other) const;
};

// Parses and validates; throws StoreError (invalid_name) saying which part is wrong and why. Each part starts
// with a letter, digit or '_' and goes on with letters, digits, '_', '-' and '.' ('.' not in the namespace;
// ':' only in the host, for a port).
ModelName parse_model_name(std::string_view text);

// The check parse_model_name applies to each part, for names read back from a store's folders.
// Returns an empty string when valid, else why not ("may not contain '/'").
std::string model_name_part_problem(std::string_view part, std::string_view which);

}  // namespace locus::runtime
