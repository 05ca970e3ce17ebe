// The media projector (mmproj GGUF) that belongs to a model: checking one, and finding the one for a model file.
//
// A projector is part of a model wherever the model is resolved to files: a store model's projector layer
// (application/vnd.ollama.image.projector, ModelStore::resolve), a file served by `locus serve` (--mmproj FILE,
// --model NAME=PATH,mmproj=FILE), a GGUF given to `locus run`, and otherwise an mmproj*.gguf beside the model
// file, which is picked up automatically (the layout every published GGUF repository ships), or failing that the
// only GGUF projector of another name there that fits the model. find_projector is
// the one place that decides, for serve and run alike.
//
// What locus accepts as a projector (the file llama.cpp's converter writes for Gemma 4, gemma4.md 3.3):
// general.architecture "clip"; clip.has_vision_encoder and/or clip.has_audio_encoder true; the vision projector
// type (clip.vision.projector_type, else clip.projector_type) "gemma4uv", the audio one (clip.audio.projector_type,
// else clip.projector_type) "gemma4ua"; a positive clip.vision.projection_dim / clip.audio.projection_dim, the
// same for both, equal to the model's embedding length ({arch}.embedding_length) where the model states one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/store_error.h"

namespace locus::runtime {

// A projector GGUF, read and checked.
struct ProjectorInfo {
  std::filesystem::path path;
  bool has_vision = false;
  bool has_audio = false;
  uint32_t projection_dim = 0;   // the width of the vectors it makes: the model's embedding length
  uint64_t parameter_count = 0;  // elements over all its tensors
};

// Reads `path` as a projector and checks it as above (but for the model's width). Throws StoreError
// (bad_input; not_found when there is no such file) with one line: "projector FILE: expected ..., found ...".
ProjectorInfo inspect_projector(const std::filesystem::path& path);

// The model's embedding length ({general.architecture}.embedding_length), or nothing when the file cannot be
// read or states none.
std::optional<uint32_t> model_embedding_length(const std::filesystem::path& model);

// Throws StoreError (bad_input) when the projector's width is not the model's embedding length (a projector
// made for another model); nothing when they agree or the model states no width.
void require_projector_fits(const ProjectorInfo& projector, const std::filesystem::path& model,
                            std::string_view model_display);

// "vision", "audio", "vision and audio": what a projector lets a model take in.
std::string projector_modalities(const ProjectorInfo& projector);

enum class ProjectorSource {
  none,          // no projector
  given,         // named explicitly (--mmproj FILE, NAME=PATH,mmproj=FILE)
  store_layer,   // the store entry's projector layer
  beside_model,  // an mmproj*.gguf in the model file's folder, picked up automatically
};

struct ProjectorChoice {
  std::optional<ProjectorInfo> projector;
  ProjectorSource source = ProjectorSource::none;
  // One line saying where the projector came from, or why there is none (no candidate, or each candidate
  // beside the model and why it does not fit). For the log, `locus run` and a refused media request.
  std::string reason;
};

struct ProjectorRequest {
  std::optional<std::filesystem::path> file;  // a projector named explicitly; checked strictly
  std::string origin = "--mmproj";            // how `file` was given, for messages
  bool search_beside = true;                  // without `file`: look for mmproj*.gguf beside the model
  // How to choose explicitly, for the message when several projectors beside the model fit it.
  std::string choose_hint = "choose one with --mmproj FILE";
};

// The projector for the model file `model`:
//  - request.file: inspected and checked against the model's width; any problem throws StoreError (bad_input,
//    or not_found for a missing file), naming request.origin.
//  - else, when request.search_beside: every regular file directly in the model's folder whose name starts with
//    "mmproj" and ends in ".gguf" (case ignored), but the model itself, sorted by name. Those that are valid
//    projectors of the model's width are the fitting ones: exactly one is used (source beside_model, reason
//    saying so); several throw StoreError (bad_input) naming them and request.choose_hint; none gives no
//    projector, the reason naming each candidate and why it was passed over (a file beside the model may
//    belong to another model in the same folder, so passing over one is no error).
//  - else no projector.
ProjectorChoice find_projector(const std::filesystem::path& model, const ProjectorRequest& request = {});

}  // namespace locus::runtime
