// Manifests in the Docker distribution v2 shape Ollama stores, the media types of its layers, and digests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace locus::runtime {

namespace media_type {
inline constexpr std::string_view kManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kModel = "application/vnd.ollama.image.model";        // the GGUF
inline constexpr std::string_view kProjector = "application/vnd.ollama.image.projector";  // mmproj GGUF
inline constexpr std::string_view kAdapter = "application/vnd.ollama.image.adapter";      // LoRA GGUF
inline constexpr std::string_view kTemplate = "application/vnd.ollama.image.template";    // Go template text
inline constexpr std::string_view kSystem = "application/vnd.ollama.image.system";        // system prompt text
inline constexpr std::string_view kParams = "application/vnd.ollama.image.params";        // JSON object
inline constexpr std::string_view kMessages = "application/vnd.ollama.image.messages";    // JSON array
inline constexpr std::string_view kLicense = "application/vnd.ollama.image.license";      // text
}  // namespace media_type

// "sha256:<64 lower-case hex digits>", the only digest form manifests use.
bool is_valid_digest(std::string_view digest);
// Accepts "sha256:<hex>" or "sha256-<hex>"; returns the blob file name "sha256-<hex>". Throws StoreError
// (bad_input) for anything else.
std::string blob_file_name(std::string_view digest);

struct ManifestLayer {
  std::string media_type;
  std::string digest;  // "sha256:<hex>"
  uint64_t size = 0;
};

struct Manifest {
  int schema_version = 2;
  std::string media_type{media_type::kManifest};
  ManifestLayer config;
  std::vector<ManifestLayer> layers;

  std::string to_json() const;
  const ManifestLayer* find_layer(std::string_view media_type) const;  // the first one, or null
  uint64_t total_bytes() const;                                         // config and layers
};
// Throws StoreError (corrupt) "manifest WHERE: what: expected X, found Y".
Manifest parse_manifest(std::string_view json, const std::string& where);

}  // namespace locus::runtime
