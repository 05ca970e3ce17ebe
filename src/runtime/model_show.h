// The model-information answers shared by `GET /api/tags`, `POST /api/show` and the CLI's `list` / `show`
// when no server runs: one place decides what a model's details, Modelfile and metadata look like.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "runtime/model_details.h"
#include "runtime/model_store.h"

namespace locus::runtime {

// The `details` object: parent_model, format, family, families, parameter_size, quantization_level.
nlohmann::ordered_json details_json(const ModelDetails& details);

// What the engine can do with a Gemma 4 model: ["completion", "tools", "thinking"], with "vision" and "audio"
// after "completion" exactly when the model's projector (a usable one, ResolvedModel::projector) has a vision
// or an audio encoder, in the order Ollama lists them.
nlohmann::ordered_json model_capabilities(const ProjectorInfo* projector = nullptr);

// /api/show's projector_info, as Ollama sends it: the projector GGUF's metadata (general.*, clip.*; arrays only
// when `verbose`, null otherwise) and general.parameter_count (summed over its tensors when the file does not
// state it). Throws gguf::GgufError for a file that does not read as GGUF.
nlohmann::ordered_json projector_info_json(const std::filesystem::path& projector, bool verbose);

// /api/show for a model name or GGUF path: modelfile (modelfile_text), parameters (format_parameters, as
// `ollama show --parameters` prints them), template (the manifest's, else the GGUF's chat template), system,
// license (the manifest's licenses, blank-line separated; absent when none), details, model_info (the GGUF
// metadata but the chat template; arrays only when `verbose`, null otherwise, as Ollama sends them),
// projector_info (projector_info_json of projector_path; absent without one), capabilities
// (model_capabilities); the caller adds modified_at (`modified_at` of the resolved model, in its time format).
// A GGUF path gets the projector find_projector finds beside it.
// Throws StoreError (not found, corrupt) and what the GGUF reader throws.
struct ShownModel {
  nlohmann::ordered_json body;
  ResolvedModel resolved;
};
ShownModel show_model(const ModelStore& store, const std::string& ref, bool verbose);
// The same for a model already resolved (the server resolves names itself: a request never names a path).
ShownModel show_resolved_model(const ModelStore& store, ResolvedModel model, bool verbose);

}  // namespace locus::runtime
