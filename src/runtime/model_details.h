// The `details` of /api/tags and /api/show, read from a GGUF's metadata.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/manifest.h"

namespace locus::gguf {
class GgufFile;
}

namespace locus::runtime {

// The `details` object of /api/tags and /api/show.
struct ModelDetails {
  std::string parent_model;
  std::string format = "gguf";
  std::string family;                  // general.architecture
  std::vector<std::string> families;   // [family]
  std::string parameter_size;          // "11.9B"
  std::string quantization_level;      // "Q4_K_M"
};

// Details read from a GGUF's metadata: the parameter count is summed over the tensors, as Ollama reports it,
// with general.size_label used only for a file without tensors; the quantization level is the name of
// general.file_type (llama.cpp's numbering), empty when the key is absent.
ModelDetails details_from_gguf(const std::filesystem::path& gguf_path);  // throws StoreError (corrupt)
ModelDetails details_from_gguf(const gguf::GgufFile& file);
// "11.9B", "268M", "7K", "950": one decimal, a trailing ".0" dropped.
std::string format_parameter_count(uint64_t count);
// general.file_type's name ("Q4_K_M"), or "unknown (N)".
std::string file_type_name(uint32_t file_type);

// The config blob of a manifest, in the shape Ollama writes (model_format, model_family(ies), model_type,
// file_type, architecture, os, rootfs.diff_ids = the layers' digests), so Ollama-compatible tools read the
// same details. Returns its bytes.
std::string ollama_config_blob(const ModelDetails& details, const std::vector<ManifestLayer>& layers);

}  // namespace locus::runtime
