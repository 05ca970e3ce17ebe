// Creating models in the store, as `ollama create` does: from a Modelfile (the CLI) or from the JSON body of
// POST /api/create (the server). Both end in the same place: a manifest in the locus root whose model layer is
// a GGUF (a file, an uploaded blob, or an existing model's layer, optionally requantized) and whose text
// layers hold the template, system prompt, parameters, messages and licenses.
//
// Modelfile syntax (Ollama's): one command per line, the command word in any case, '#' starts a comment line.
//   FROM <gguf path | model name>     required; a relative path is relative to the Modelfile's folder. A
//                                     second FROM names the projector GGUF (mmproj), as Ollama documents it:
//                                     the files are told apart by content (a projector's general.architecture
//                                     is "clip"), so either line may come first; the projector is stored as
//                                     its own layer (application/vnd.ollama.image.projector), checked as a
//                                     Gemma 4 projector of the model's width, and replaces a base model's
//   PARAMETER <name> <value>          typed like the API's options; `stop` may repeat and collects an array
//   SYSTEM <text>                     the system prompt
//   TEMPLATE <text>                   stored and shown, but informational: locus renders Gemma 4's chat format
//                                     itself and never executes Go templates
//   MESSAGE <system|user|assistant> <text>
//   LICENSE <text>                    may repeat
//   ADAPTER <path>                    refused: locus does not apply LoRA adapters
// A value is the rest of the line, or "quoted" (one line), or """triple-quoted""" (may span lines; the text
// between the quotes is kept as is).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/model_name.h"
#include "runtime/model_store.h"
#include "runtime/store_error.h"

namespace locus::runtime {

// A Modelfile that does not parse. A StoreError of kind bad_input, so the server answers 400; the message
// starts with "Modelfile line N: ".
class ModelfileError : public StoreError {
 public:
  ModelfileError(int line, const std::string& what)
      : StoreError(StoreErrorKind::bad_input, "Modelfile line " + std::to_string(line) + ": " + what), line_(line) {}
  int line() const { return line_; }

 private:
  int line_;
};

struct ModelfileMessage {
  std::string role;  // system, user or assistant
  std::string content;
  bool operator==(const ModelfileMessage&) const = default;
};

struct ModelfileFrom {
  std::string value;
  int line = 0;
  bool operator==(const ModelfileFrom&) const = default;
};

struct Modelfile {
  std::string from;  // the first FROM
  int from_line = 0;
  std::vector<ModelfileFrom> more_from;  // a second FROM (model and projector); a third is an error
  nlohmann::ordered_json parameters = nlohmann::ordered_json::object();  // typed values; "stop" is an array
  std::optional<std::string> system;
  std::optional<std::string> template_text;
  std::vector<ModelfileMessage> messages;
  std::vector<std::string> licenses;
};

// Throws ModelfileError naming the line: an unknown command or parameter, a value of the wrong type, an
// unterminated quote, a missing or third FROM, ADAPTER.
Modelfile parse_modelfile(std::string_view text);

// A model parameter's value typed as the API's options are (int, float, bool, or for "stop" a string).
// Returns the JSON value, or nothing and sets *error ("unknown parameter \"x\"", "temperature: expected a
// number, found \"hot\"").
std::optional<nlohmann::json> typed_parameter(std::string_view name, std::string_view value, std::string* error);
// Checks a JSON parameters object (/api/create's "parameters", a stored params layer): every key known and of
// its type; a lone "stop" string becomes an array. Throws StoreError (bad_input).
nlohmann::ordered_json normalize_parameters(const nlohmann::json& parameters);
// The names typed_parameter accepts, sorted.
std::vector<std::string> known_parameter_names();

// The parameters as `ollama show --parameters` prints them (name padded to 30 columns, strings quoted, one
// line per stop string), and a Modelfile that recreates the model.
std::string format_parameters(const nlohmann::json& parameters);
std::string modelfile_text(const ResolvedModel& model, std::string_view from_line_value);

struct CreateResult {
  ModelName name;
  std::string display_name;
  std::string digest;  // sha256 hex of the manifest bytes
  uint64_t size_bytes = 0;
};

using CreateProgress = std::function<void(const std::string& status)>;

// Creates (or replaces) model `name` from a Modelfile's text. `base_dir` resolves a relative FROM path.
// `quantize` ("q4_K_M", "Q8_0", ... any case) requantizes an F32/F16/BF16 GGUF. `progress` gets Ollama's
// status lines ("parsing modelfile", "using existing layer sha256:...", "writing manifest", "success").
// Throws StoreError (ModelfileError for the Modelfile itself).
CreateResult create_model(ModelStore& store, std::string_view name, std::string_view modelfile,
                          const std::filesystem::path& base_dir, const std::optional<std::string>& quantize,
                          const CreateProgress& progress);

// POST /api/create: {"model", "from"?, "files"? {file name: "sha256:<hex>" of an uploaded blob},
// "template"?, "system"?, "parameters"? (object), "messages"? ([{role, content}]), "license"? (string or
// array), "adapters"? (refused when not empty), "quantize"?}. "from" is a model name; "files" names GGUF blobs
// already in the store: one model and at most one projector, told apart by content (a projector,
// general.architecture "clip", becomes the projector layer; it must be a Gemma 4 projector of the model's
// width). With "from", "files" may hold a projector only, which replaces the base model's. Throws
// StoreError: bad_input for a malformed body or a blob not in the store, not_found for a missing base model.
CreateResult create_model_from_api(ModelStore& store, const nlohmann::json& body, const CreateProgress& progress);

// Ollama's quantization names that --quantize accepts ("Q4_K_M", "Q8_0", ...), in upper case.
std::vector<std::string> supported_quantize_types();

}  // namespace locus::runtime
