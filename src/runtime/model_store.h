// The model store: content-addressed blobs and manifests in Ollama's on-disk layout, so that `name:tag` works
// wherever a GGUF path does, and models a user already pulled with Ollama run without a second copy.
//
// Layout (the same under both roots; as we know Ollama's folders to be, not yet checked here against a tree
// that Ollama itself wrote):
//   <root>/manifests/<host>/<namespace>/<model>/<tag>   JSON manifest, Docker distribution v2 shape:
//       {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
//        "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:<hex>","size":N},
//        "layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:<hex>","size":N}, ...]}
//   <root>/blobs/sha256-<hex>            blob contents; the file name uses '-' where the digest has ':'
//   <root>/blobs/sha256-<hex>-partial    a download in progress (BlobWriter), resumable
// Assumptions: a manifest's digest (what /api/tags reports) is the sha256 of the manifest file's bytes, hex
// without prefix; a model's size is the sum of its config and layer sizes; its modified time is the manifest
// file's mtime; the config blob is JSON with model_format, model_family, model_families, model_type (parameter
// size, "11.9B"), file_type ("Q4_K_M"), rootfs; parts of a manifest path keep the case the user typed, and names
// are matched without regard to case. Fields of a manifest we do not model are dropped when we rewrite one,
// never when we copy one (a copy is byte for byte, so the digest stays).
//
// Roots: the locus root (writable) is $LOCUS_MODELS, else $HOME/.locus/models. The Ollama root (read-only) is
// $OLLAMA_MODELS, else $HOME/.ollama/models, else /usr/share/ollama/.ollama/models (where Ollama's Linux
// installer puts the service's models), the first that exists. Lookups try locus first. Nothing here ever
// writes, renames or deletes under the Ollama root.
//
// Concurrency: blob and manifest writes are atomic (temporary file in the same folder, then rename), so a
// reader never sees half a file. Garbage collection after remove() can race with another process that has
// written a blob but not yet the manifest naming it; callers that pull or create in one process and remove in
// another should serialize those operations (the server does all of them itself).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/blob_writer.h"
#include "runtime/manifest.h"
#include "runtime/model_details.h"
#include "runtime/model_name.h"
#include "runtime/model_projector.h"
#include "runtime/sha256.h"
#include "runtime/store_error.h"

namespace locus::runtime {

enum class StoreRootKind { locus, ollama, file };
std::string_view root_kind_name(StoreRootKind kind);  // "locus", "ollama", "file"

struct StoreRoots {
  std::filesystem::path locus;                  // created on first write
  std::optional<std::filesystem::path> ollama;  // read-only; absent when Ollama has no models here
};
// From LOCUS_MODELS, OLLAMA_MODELS and HOME as described above. Throws StoreError (io) when neither
// LOCUS_MODELS nor HOME is set. An Ollama root that is the locus root itself is dropped.
StoreRoots default_store_roots();

struct ResolvedModel {
  StoreRootKind root = StoreRootKind::file;
  std::optional<ModelName> name;  // absent for a direct GGUF path
  std::string display_name;       // "gemma4:12b", or the path as given
  Manifest manifest;              // empty for a direct path
  std::filesystem::path manifest_path;
  std::string digest;  // sha256 hex of the manifest bytes (empty for a direct path)
  std::filesystem::path model_path;  // the GGUF
  // The projector file: the manifest's first projector layer, or what find_projector chose for a file.
  std::optional<std::filesystem::path> projector_path;
  // projector_path read and checked (model_projector.h): set only when the model can use it.
  std::optional<ProjectorInfo> projector;
  // One line: where the projector came from, or why there is none or projector_path cannot be used.
  std::string projector_note;
  std::vector<std::filesystem::path> adapter_paths;
  std::optional<std::string> template_text;
  std::optional<std::string> system_text;
  std::optional<nlohmann::json> params;    // object
  std::optional<nlohmann::json> messages;  // array
  std::vector<std::string> licenses;
  nlohmann::json config;  // the config blob (null when absent or for a direct path)
  uint64_t size_bytes = 0;
  std::chrono::system_clock::time_point modified_at;
};

// One row of `locus list` / GET /api/tags.
struct ModelEntry {
  ModelName name;
  std::string display_name;  // "name" and "model" of /api/tags
  StoreRootKind root = StoreRootKind::locus;
  std::string digest;        // sha256 hex of the manifest bytes
  uint64_t size_bytes = 0;
  std::chrono::system_clock::time_point modified_at;
  ModelDetails details;
  std::optional<ProjectorInfo> projector;  // a usable projector (its capabilities: vision, audio)
};

// Gives a resolved model the projector find_projector chose (or none, with the reason).
void set_projector(ResolvedModel& model, ProjectorChoice choice);

struct ImportOptions {
  std::optional<std::filesystem::path> projector_path;  // an mmproj GGUF to store beside the model
  std::optional<std::string> template_text;
  std::optional<std::string> system_text;
  std::optional<nlohmann::json> params;  // must be an object
  // Hard-link the GGUF into blobs/ when it is on the same file system instead of copying it. The blob then
  // shares the file's storage: editing the original in place would change the blob under its digest
  // (verify_blob finds that); replacing it by rename, as tools do, does not.
  bool allow_hard_link = true;
  std::function<void(uint64_t done, uint64_t total)> progress;  // while hashing or copying the GGUF
};

struct GcReport {
  std::vector<std::string> removed_digests;
  uint64_t bytes_freed = 0;
  // Set when collection was skipped because a manifest could not be read: what it references is unknown,
  // so deleting anything could destroy a model.
  std::string skipped_because;
};

class ModelStore {
 public:
  explicit ModelStore(StoreRoots roots);
  static ModelStore from_environment() { return ModelStore(default_store_roots()); }
  const StoreRoots& roots() const { return roots_; }

  // A model by name: locus root first, then Ollama's. Checks that every blob the manifest names is there
  // with the size it states and that the model layer is a GGUF; reads the small text and JSON layers. The
  // first projector layer becomes projector_path; it is checked as a Gemma 4 projector of the model's width
  // (model_projector.h): `projector` when it passes, else `projector_note` says why not (a model from
  // Ollama's store with another kind of projector still lists and shows, without vision or audio).
  // Throws StoreError: not_found, corrupt (manifest, config or layers), invalid_name.
  ResolvedModel resolve(const ModelName& name) const;
  ResolvedModel resolve(std::string_view name) const;
  // What the CLI and API accept for a model: an existing file, or anything ending in ".gguf", is a GGUF
  // path; everything else is a store name.
  ResolvedModel resolve_model_ref(std::string_view ref) const;
  static bool looks_like_path(std::string_view ref);
  // A GGUF file as a model (no manifest): checks that it exists, is a regular file and starts with the GGUF
  // magic. Throws StoreError: not_found, bad_input. The CLI's paths and the files `locus serve --model`
  // serves come here; a request's model name never does. No projector: the caller asks find_projector
  // (with its --mmproj) and gives the choice to set_projector.
  static ResolvedModel resolve_file(const std::filesystem::path& path, std::string display_name);

  // Every model in both roots, locus first; a name in both appears once, as locus's. Entries sorted by
  // modification time, newest first, as Ollama lists them. A manifest that cannot be read is left out and,
  // when `skipped` is given, described there.
  std::vector<ModelEntry> list(std::vector<std::string>* skipped = nullptr) const;
  // Details of a resolved model: from its config blob when that has family, type and file type (what Ollama
  // itself reads), else from the GGUF.
  ModelDetails details(const ResolvedModel& model) const;

  // Stores a GGUF (and an optional projector and text layers) under `name` in the locus root, replacing a
  // model of that name. The file must be a readable GGUF, the projector a Gemma 4 projector of its width. Blobs no longer referenced afterwards are removed.
  ResolvedModel import_gguf(const ModelName& name, const std::filesystem::path& gguf_path,
                            const ImportOptions& options = {});
  // Copies a manifest (byte for byte) to a new name in the locus root. A model from Ollama's root has its
  // blobs linked (or copied) into the locus root first, so the copy does not depend on Ollama's files.
  void copy(const ModelName& source, const ModelName& destination);
  // Deletes a locus model's manifest, then blobs that no locus manifest references. A model that exists
  // only in Ollama's root is refused (read_only).
  GcReport remove(const ModelName& name);
  GcReport collect_garbage();

  // Building blocks for pull and create.
  std::filesystem::path blobs_dir() const { return roots_.locus / "blobs"; }
  std::filesystem::path blob_path(std::string_view digest) const;  // in the locus root, existing or not
  std::optional<std::filesystem::path> find_blob(std::string_view digest) const;  // locus, then Ollama
  std::string add_blob(std::string_view bytes);  // returns the digest; a blob already there is kept
  std::string add_blob_file(const std::filesystem::path& path, bool allow_hard_link,
                            const std::function<void(uint64_t, uint64_t)>& progress = {});
  BlobWriter open_blob_writer(std::string_view digest, std::optional<uint64_t> expected_size = std::nullopt) const {
    return BlobWriter(blobs_dir(), digest, expected_size);
  }
  // Writes a manifest for `name` in the locus root after checking that each blob it names is in the locus
  // root with the stated size. Returns the manifest's digest (sha256 hex of the bytes written).
  std::string write_manifest(const ModelName& name, const Manifest& manifest);

 private:
  struct Found {
    StoreRootKind root;
    std::filesystem::path root_path;
    std::filesystem::path manifest_path;
    ModelName name;  // with the case found on disk
  };
  std::optional<Found> find_manifest(const ModelName& name) const;
  ResolvedModel load(const Found& found) const;
  std::string write_manifest_bytes(const ModelName& name, const std::string& bytes);

  StoreRoots roots_;
};

}  // namespace locus::runtime
