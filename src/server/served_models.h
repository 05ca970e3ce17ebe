// What a request's "model" may name, and the GGUF files the operator chose to serve.
//
// Over HTTP a model is always a name ([host/][namespace/]model[:tag], runtime/model_name.h), looked up among the
// files given to `locus serve --model NAME=PATH` / `--model-dir DIR` and then in the model stores. A request can
// never name a file: a client must not learn whether a path exists, read its first bytes from an error, or make
// the server map a file the operator did not choose. So the name is checked here before anything looks it up,
// and nothing here touches the file system for a request.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/model_name.h"
#include "runtime/model_projector.h"
#include "server/api_request.h"

namespace locus::runtime {
struct ResolvedModel;
}

namespace locus::server {

// The longest name that can parse: host, namespace and model parts at their limits, with separators and a tag.
inline constexpr size_t kMaxModelNameChars =
    runtime::kMaxHostChars + 1 + runtime::kMaxPartChars + 1 + runtime::kMaxPartChars + 1 + runtime::kMaxPartChars;

// A request's model, checked: the parsed name, or the refusal. An empty name is a 400 ("model is required"
// as Ollama says it); anything else that is not a valid name is a 404 with the reason, as Ollama answers
// names that cannot exist, and the name is shown shortened when very long. Pure: no file is looked at.
struct RequestedModel {
  std::optional<runtime::ModelName> name;
  std::optional<ApiError> error;
};
RequestedModel check_requested_model(std::string_view model);

// The 404 for a valid name that nothing serves (Ollama's wording; param "model").
ApiError model_not_found(std::string_view model);

// One GGUF the operator serves under a name, with its projector.
struct ServedFile {
  runtime::ModelName name;
  std::filesystem::path path;
  std::string origin;  // where it was given ("--model tiny=/m/t.gguf", "--model-dir /m"), for error messages
  // What was asked for the projector: a file (",mmproj=FILE" or --mmproj FILE), or none at all (",mmproj=none"
  // or --no-mmproj); neither means the mmproj*.gguf beside the file, when exactly one fits it.
  std::optional<std::filesystem::path> mmproj;
  std::string mmproj_origin;  // how `mmproj` was given, for messages
  bool no_mmproj = false;
  // Chosen at start-up (served_files_from, runtime::find_projector): the projector, and one line saying where
  // it came from or why there is none (the server logs it).
  std::optional<runtime::ProjectorInfo> projector;
  std::string projector_note;
};

// A served file as a model: ModelStore::resolve_file (exists, regular, GGUF magic; throws StoreError) under
// its name, with the projector chosen at start-up, and a digest standing in for a manifest's: the sha256 of
// the path, size, modification time and projector path, so that it is stable while the files are and changes
// when the model file does (hashing gigabytes at every /api/tags would not do).
runtime::ResolvedModel resolve_served_file(const ServedFile& file);

// "NAME=PATH" or "NAME=PATH,mmproj=FILE" or "NAME=PATH,mmproj=none" (from --model or LOCUS_MODEL_FILES)
// appended to `out`; the name must be a valid model name and the paths non-empty. The last ",mmproj=" splits
// the projector off, so a model path may hold commas. Returns the error line, or nothing. Does not look at
// the files.
std::optional<std::string> parse_served_file(std::string_view spec, std::vector<ServedFile>& out);
// Every *.gguf directly in `dir` (not in sub-folders), named after its file stem ("gemma-4-e2b.gguf" serves
// as "gemma-4-e2b"); projector files (stem starting with "mmproj") are left out, as they are no model to chat
// with. A folder that cannot be listed, holds no GGUF, or has a file whose stem is no valid model name is an
// error.
std::optional<std::string> add_served_dir(const std::filesystem::path& dir, std::vector<ServedFile>& out);
// The check at start-up: every file exists, is a readable regular file starting with the GGUF magic, and no
// name is given twice. Returns the first problem as one line naming the file, what was expected and found.
std::optional<std::string> check_served_files(const std::vector<ServedFile>& files);
// `locus serve --mmproj FILE` / `--no-mmproj`.
struct ServedProjectorOptions {
  std::optional<std::filesystem::path> mmproj;  // the projector of the one model served; more is an error
  bool no_mmproj = false;                       // no projector for any served file, none searched for
};
// Everything --model / --model-dir / LOCUS_MODEL_FILES / LOCUS_MODEL_DIR / --mmproj / --no-mmproj ask for,
// checked as above, then each file's projector chosen by runtime::find_projector: the one asked for (checked
// strictly: a Gemma 4 projector of the model's width), else the one mmproj*.gguf beside the file that fits it.
// A bad projector, several that fit, or --mmproj with other than one model is an error line.
struct ServedFilesResult {
  std::vector<ServedFile> files;
  std::optional<std::string> error;
};
ServedFilesResult served_files_from(const std::vector<std::string>& specs, const std::vector<std::string>& dirs,
                                    const ServedProjectorOptions& projectors = {});

}  // namespace locus::server
