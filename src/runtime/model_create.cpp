// Creating a model from a Modelfile or an /api/create body (model_create.h). Both are turned into one
// CreateSpec, which build() stores: blobs first (linked from Ollama's root when a base model lives there, so
// the new model never depends on Ollama's files), the config blob, then the manifest.
#include "runtime/model_create.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "gguf/file.h"
#include "runtime/model_create_quantize.h"

namespace locus::runtime {
namespace {

namespace fs = std::filesystem;

struct CreateSpec {
  ModelName name;
  std::optional<fs::path> from_file;       // a GGUF on disk (Modelfile FROM path)
  std::optional<std::string> from_model;   // an existing model (FROM name, /api/create "from")
  std::vector<std::string> file_digests;   // /api/create "files": uploaded GGUF blobs
  std::optional<fs::path> projector_file;  // a Modelfile FROM that is a projector GGUF
  int projector_line = 0;                  // its line
  std::optional<std::string> template_text;
  std::optional<std::string> system;
  nlohmann::ordered_json parameters = nlohmann::ordered_json::object();
  std::optional<nlohmann::json> messages;
  std::vector<std::string> licenses;
  std::optional<std::string> quantize;
};

std::atomic<unsigned> g_temp_counter{0};

void report(const CreateProgress& progress, const std::string& status) {
  if (progress) progress(status);
}

std::string who(const ModelName& name) { return "cannot create \"" + name.display() + "\""; }

// Makes sure a blob named by a layer is in the locus root: already there, or linked (copied) in from where it
// was found, stored under the digest of the bytes actually read.
void adopt_blob(ModelStore& store, const ModelName& name, const ManifestLayer& layer, const fs::path& found_at) {
  std::error_code ec;
  if (fs::is_regular_file(store.blob_path(layer.digest), ec)) return;
  const std::string got = store.add_blob_file(found_at, true);
  if (got != layer.digest) {
    throw StoreError(StoreErrorKind::digest_mismatch,
                     who(name) + ": blob " + found_at.string() + ": expected " + layer.digest + ", found " + got);
  }
}

bool is_projector_gguf(const gguf::GgufFile& f) {
  const std::string type = f.get_string_or("general.type").value_or("");
  return type == "mmproj" || type == "projector" || f.get_string_or("general.architecture").value_or("") == "clip";
}

// A projector that is to become a layer: a Gemma 4 projector of the model's width (model_projector.h). Its
// problems name the Modelfile line when it came from one.
void check_projector(const ModelName& name, const fs::path& projector, const fs::path& model, int modelfile_line,
                     const std::string& what) {
  std::string model_display = name.display();
  model_display.insert(model_display.begin(), '"');
  model_display.push_back('"');
  try {
    require_projector_fits(inspect_projector(projector), model, model_display);
  } catch (const StoreError& e) {
    if (modelfile_line > 0) throw ModelfileError(modelfile_line, "FROM " + what + ": " + e.what());
    throw StoreError(StoreErrorKind::bad_input, who(name) + ": " + what + ": " + e.what());
  }
}

gguf::GgufFile open_gguf(const ModelName& name, const fs::path& p, const std::string& what) {
  try {
    return gguf::GgufFile::open(p.string());
  } catch (const gguf::GgufError& e) {
    throw StoreError(StoreErrorKind::bad_input, who(name) + ": " + what + " is not a readable GGUF: " + e.what());
  }
}

nlohmann::json checked_messages(const nlohmann::json& messages) {
  if (!messages.is_array()) {
    throw StoreError(StoreErrorKind::bad_input, std::string("messages: expected an array, found ") + messages.type_name());
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : messages) {
    const auto role = m.is_object() ? m.find("role") : m.end();
    const auto content = m.is_object() ? m.find("content") : m.end();
    if (!m.is_object() || role == m.end() || !role->is_string() || content == m.end() || !content->is_string()) {
      throw StoreError(StoreErrorKind::bad_input,
                       "messages: expected objects with string \"role\" and \"content\", found " + m.dump());
    }
    const std::string r = role->get<std::string>();
    if (r != "system" && r != "user" && r != "assistant" && r != "tool") {
      throw StoreError(StoreErrorKind::bad_input,
                       "messages: role: expected system, user, assistant or tool, found \"" + r + "\"");
    }
    out.push_back({{"role", r}, {"content", content->get<std::string>()}});
  }
  return out;
}

std::string quantize_names() {
  std::string out;
  for (const auto& n : quantize_target_names()) out += (out.empty() ? "" : ", ") + n;
  return out;
}

CreateResult build(ModelStore& store, const CreateSpec& spec, const CreateProgress& progress) {
  const ModelName& name = spec.name;
  std::optional<model::FileTypeInfo> target;
  if (spec.quantize && !spec.quantize->empty()) {
    target = quantize_target(*spec.quantize);
    if (!target) {
      throw StoreError(StoreErrorKind::bad_input, who(name) + ": unsupported quantization type \"" + *spec.quantize +
                                                      "\": expected one of " + quantize_names());
    }
  }

  Manifest m;
  std::optional<size_t> model_layer;  // index into m.layers
  fs::path model_path;                // the model layer's GGUF
  nlohmann::ordered_json params = nlohmann::ordered_json::object();
  ModelDetails base_details;
  bool have_base_details = false;

  const auto add_layer = [&](ManifestLayer layer, bool existing) {
    report(progress, std::string(existing ? "using existing layer " : "creating new layer ") + layer.digest);
    m.layers.push_back(std::move(layer));
  };
  const auto add_file_blob = [&](std::string_view type, const fs::path& p) {
    const std::string digest = store.add_blob_file(p, true);
    add_layer({std::string(type), digest, fs::file_size(store.blob_path(digest))}, false);
    return store.blob_path(digest);
  };

  // Uploaded files (/api/create "files"), told apart by content: one model, at most one projector.
  struct Uploaded {
    std::string digest;
    fs::path found_at;
    uint64_t size = 0;
    bool projector = false;
  };
  std::vector<Uploaded> uploaded;
  std::optional<size_t> uploaded_model, uploaded_projector;
  if (!spec.file_digests.empty()) report(progress, "parsing GGUF");
  for (const auto& digest : spec.file_digests) {
    if (!is_valid_digest(digest)) {
      throw StoreError(StoreErrorKind::bad_input,
                       who(name) + ": files: expected \"sha256:<64 hex digits>\", found \"" + digest + "\"");
    }
    const auto found = store.find_blob(digest);
    if (!found) {
      // bad_input, not not_found: the request names a blob it should have uploaded (the server answers 400).
      throw StoreError(StoreErrorKind::bad_input, who(name) + ": blob " + digest + " is not in the store (upload it "
                                                              "with POST /api/blobs/" + digest + " first)");
    }
    const auto file = open_gguf(name, *found, "blob " + digest);
    Uploaded u{digest, *found, file.file_size(), is_projector_gguf(file)};
    std::optional<size_t>& slot = u.projector ? uploaded_projector : uploaded_model;
    if (slot) {
      throw StoreError(StoreErrorKind::bad_input,
                       who(name) + ": files hold more than one " +
                           (u.projector ? std::string("projector GGUF (a model takes one)")
                                        : std::string("model GGUF (split GGUFs are not supported)")));
    }
    slot = uploaded.size();
    uploaded.push_back(std::move(u));
  }
  if (spec.from_model && uploaded_model) {
    throw StoreError(StoreErrorKind::bad_input,
                     who(name) + ": with from (a model to start from), files may hold only a projector; found the "
                                 "model GGUF blob " + uploaded[*uploaded_model].digest);
  }
  const bool new_projector = spec.projector_file.has_value() || uploaded_projector.has_value();
  // Checked against the model's source before anything is stored, so a refused projector leaves no blob.
  const auto check_new_projector = [&](const fs::path& model_source) {
    if (spec.projector_file) {
      check_projector(name, *spec.projector_file, model_source, spec.projector_line, spec.projector_file->string());
    } else if (uploaded_projector) {
      const Uploaded& u = uploaded[*uploaded_projector];
      check_projector(name, u.found_at, model_source, 0, "files: blob " + u.digest);
    }
  };

  if (spec.from_model) {
    const ResolvedModel base = store.resolve(*spec.from_model);
    check_new_projector(base.model_path);
    const fs::path root = base.root == StoreRootKind::ollama && store.roots().ollama ? *store.roots().ollama
                                                                                      : store.roots().locus;
    for (const auto& l : base.manifest.layers) {
      // Text layers the new model states replace the base's, and so does a new projector; the base's licenses
      // stay and new ones follow.
      if ((l.media_type == media_type::kTemplate && spec.template_text) ||
          (l.media_type == media_type::kSystem && spec.system) || l.media_type == media_type::kParams ||
          (l.media_type == media_type::kMessages && spec.messages) ||
          (l.media_type == media_type::kProjector && new_projector)) {
        continue;
      }
      adopt_blob(store, name, l, root / "blobs" / blob_file_name(l.digest));
      if (l.media_type == media_type::kModel && !model_layer) {
        model_layer = m.layers.size();
        model_path = store.blob_path(l.digest);
      }
      add_layer(l, true);
    }
    if (base.params) params = normalize_parameters(*base.params);
    try {
      base_details = store.details(base);
      have_base_details = true;
    } catch (const StoreError&) {
      // Read from the GGUF below instead.
    }
  } else if (spec.from_file) {
    report(progress, "parsing GGUF");
    const auto file = open_gguf(name, *spec.from_file, spec.from_file->string());
    const bool projector = is_projector_gguf(file);
    if (projector) {
      throw StoreError(StoreErrorKind::bad_input,
                       who(name) + ": " + spec.from_file->string() + " is a projector (mmproj) GGUF, not a model");
    }
    check_new_projector(*spec.from_file);
    model_layer = m.layers.size();
    if (target) {
      // Quantized straight from the file below: the unquantized copy is never stored.
      m.layers.push_back({std::string(media_type::kModel), "", 0});
      model_path = *spec.from_file;
    } else {
      model_path = add_file_blob(media_type::kModel, *spec.from_file);
    }
  } else if (uploaded_model) {
    const Uploaded& u = uploaded[*uploaded_model];
    check_new_projector(u.found_at);
    ManifestLayer layer{std::string(media_type::kModel), u.digest, u.size};
    adopt_blob(store, name, layer, u.found_at);
    model_layer = m.layers.size();
    model_path = store.blob_path(u.digest);
    add_layer(std::move(layer), true);
  }
  if (!model_layer && uploaded_projector) {
    throw StoreError(StoreErrorKind::bad_input,
                     who(name) + ": files hold only a projector GGUF: add the model GGUF, or give from (a model)");
  }
  if (!model_layer) {
    throw StoreError(StoreErrorKind::bad_input, who(name) + ": no model: give a GGUF file or a model to start from");
  }

  // The projector, right after the model layer, as Ollama lays out a vision model.
  if (new_projector) {
    ManifestLayer layer;
    if (spec.projector_file) {
      const std::string digest = store.add_blob_file(*spec.projector_file, true);
      layer = {std::string(media_type::kProjector), digest, fs::file_size(store.blob_path(digest))};
      report(progress, "creating new layer " + digest);
    } else {
      const Uploaded& u = uploaded[*uploaded_projector];
      layer = {std::string(media_type::kProjector), u.digest, u.size};
      adopt_blob(store, name, layer, u.found_at);
      report(progress, "using existing layer " + u.digest);
    }
    m.layers.insert(m.layers.begin() + static_cast<std::ptrdiff_t>(*model_layer) + 1, std::move(layer));
  }

  if (target) {
    const QuantizeSource source = describe_quantize_source(model_path);
    if (!source.unquantized) {
      throw StoreError(StoreErrorKind::bad_input,
                       who(name) + ": cannot quantize a model that is already quantized (" + source.file_type +
                           "); --quantize needs a model stored as F32, F16 or BF16");
    }
    report(progress, "quantizing " + source.file_type + " model to " + std::string(target->name));
    std::error_code ec;
    fs::create_directories(store.blobs_dir(), ec);
    // In the blobs folder, so that storing it is a link and a rename on the same file system; the name is not
    // a blob's, so garbage collection never takes it.
    const fs::path temp = store.blobs_dir() / (".tmp-quantize-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(g_temp_counter++) + ".gguf");
    try {
      requantize_gguf(model_path, temp, *target);
      const std::string digest = store.add_blob_file(temp, true);
      fs::remove(temp, ec);
      m.layers[*model_layer] = {std::string(media_type::kModel), digest, fs::file_size(store.blob_path(digest))};
      report(progress, "creating new layer " + digest);
      model_path = store.blob_path(digest);
      have_base_details = false;  // the quantization level changed
    } catch (...) {
      fs::remove(temp, ec);
      throw;
    }
  }

  const auto add_text = [&](std::string_view type, const std::string& text) {
    add_layer({std::string(type), store.add_blob(text), text.size()}, false);
  };
  if (spec.template_text) add_text(media_type::kTemplate, *spec.template_text);
  if (spec.system) add_text(media_type::kSystem, *spec.system);
  for (const auto& [key, value] : spec.parameters.items()) params[key] = value;  // the new model's win
  if (!params.empty()) add_text(media_type::kParams, params.dump());
  if (spec.messages) add_text(media_type::kMessages, spec.messages->dump());
  for (const auto& license : spec.licenses) add_text(media_type::kLicense, license);

  ModelDetails details = base_details;
  if (!have_base_details) {
    try {
      details = details_from_gguf(model_path);
    } catch (const std::exception& e) {
      throw StoreError(StoreErrorKind::bad_input, who(name) + ": " + e.what());
    }
  }
  const std::string config_bytes = ollama_config_blob(details, m.layers);
  m.config = {std::string(media_type::kConfig), store.add_blob(config_bytes), config_bytes.size()};

  bool replacing = false;
  try {
    replacing = store.resolve(name).root == StoreRootKind::locus;
  } catch (const StoreError& e) {
    replacing = e.kind() == StoreErrorKind::corrupt;  // a broken model of this name is replaced too
  }
  report(progress, "writing manifest");
  CreateResult result;
  result.digest = store.write_manifest(name, m);
  if (replacing) store.collect_garbage();
  result.name = name;
  result.display_name = name.display();
  result.size_bytes = m.total_bytes();
  report(progress, "success");
  return result;
}

fs::path expand_home(const std::string& p) {
  if (p == "~" || p.starts_with("~/")) {
    if (const char* home = std::getenv("HOME"); home != nullptr) return fs::path(home) / p.substr(p.size() == 1 ? 1 : 2);
  }
  return fs::path(p);
}

}  // namespace

std::vector<std::string> supported_quantize_types() { return quantize_target_names(); }

CreateResult create_model(ModelStore& store, std::string_view name, std::string_view modelfile,
                          const std::filesystem::path& base_dir, const std::optional<std::string>& quantize,
                          const CreateProgress& progress) {
  CreateSpec spec;
  spec.name = parse_model_name(name);
  report(progress, "parsing modelfile");
  Modelfile mf = parse_modelfile(modelfile);

  // FROM is a file when it looks like one (a path form, ".gguf", or something that exists beside the
  // Modelfile); anything else is a model name. With two FROM lines, one names the model (a GGUF or a model
  // name) and the other its projector GGUF, told apart by content.
  std::vector<ModelfileFrom> froms{{mf.from, mf.from_line}};
  froms.insert(froms.end(), mf.more_from.begin(), mf.more_from.end());
  int model_line = 0;
  const auto one_model = [&](int line) {
    if (model_line != 0) {
      throw ModelfileError(line, "a second model (line " + std::to_string(model_line) +
                                     " names one): a Modelfile names one model and at most one projector GGUF");
    }
    model_line = line;
  };
  for (const ModelfileFrom& from : froms) {
    fs::path candidate = expand_home(from.value);
    if (candidate.is_relative()) candidate = (base_dir / candidate).lexically_normal();
    std::error_code ec;
    const bool path_form = from.value.starts_with('/') || from.value.starts_with("./") ||
                           from.value.starts_with("../") || from.value.starts_with('~') ||
                           ModelStore::looks_like_path(from.value);
    if (fs::is_directory(candidate, ec) && (path_form || from.value.find(':') == std::string::npos)) {
      throw ModelfileError(from.line, "FROM " + candidate.string() +
                                          " is a folder: locus creates models from GGUF files (convert "
                                          "safetensors to GGUF with llama.cpp's convert_hf_to_gguf.py first)");
    }
    if (fs::is_regular_file(candidate, ec)) {
      bool projector = false;
      try {
        projector = is_projector_gguf(gguf::GgufFile::open(candidate.string()));
      } catch (const gguf::GgufError& e) {
        throw ModelfileError(from.line, "FROM " + candidate.string() + " is not a readable GGUF: " + e.what());
      }
      if (projector) {
        if (spec.projector_file) {
          throw ModelfileError(from.line, "a second projector (line " + std::to_string(spec.projector_line) +
                                              " names one): a model takes one projector GGUF");
        }
        spec.projector_file = candidate;
        spec.projector_line = from.line;
      } else {
        one_model(from.line);
        spec.from_file = candidate;
      }
    } else if (path_form) {
      throw ModelfileError(from.line, "FROM " + candidate.string() + ": no such file");
    } else {
      try {
        parse_model_name(from.value);
      } catch (const StoreError& e) {
        throw ModelfileError(from.line, "FROM " + from.value + ": neither a file nor a model name (" + e.what() + ")");
      }
      one_model(from.line);
      spec.from_model = from.value;
    }
  }
  if (model_line == 0) {
    throw ModelfileError(spec.projector_line, "FROM " + spec.projector_file->string() +
                                                  " is a projector (mmproj) GGUF, not a model: name the model (a "
                                                  "GGUF file or a model name) on another FROM line");
  }
  spec.template_text = std::move(mf.template_text);
  spec.system = std::move(mf.system);
  spec.parameters = std::move(mf.parameters);
  if (!mf.messages.empty()) {
    nlohmann::json messages = nlohmann::json::array();
    for (const auto& msg : mf.messages) messages.push_back({{"role", msg.role}, {"content", msg.content}});
    spec.messages = std::move(messages);
  }
  spec.licenses = std::move(mf.licenses);
  spec.quantize = quantize;
  return build(store, spec, progress);
}

CreateResult create_model_from_api(ModelStore& store, const nlohmann::json& body, const CreateProgress& progress) {
  if (!body.is_object()) {
    throw StoreError(StoreErrorKind::bad_input, std::string("expected a JSON object, found ") + body.type_name());
  }
  const auto string_field = [&](const char* key) -> std::optional<std::string> {
    const auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) {
      throw StoreError(StoreErrorKind::bad_input,
                       std::string(key) + ": expected a string, found " + std::string(it->type_name()));
    }
    return it->get<std::string>();
  };
  // Ollama's clients send "model"; older ones "name".
  std::optional<std::string> model = string_field("model");
  if (!model || model->empty()) model = string_field("name");
  if (!model || model->empty()) throw StoreError(StoreErrorKind::bad_input, "model: a name for the new model is required");

  CreateSpec spec;
  spec.name = parse_model_name(*model);
  if (const auto it = body.find("adapters"); it != body.end() && !it->is_null() && !it->empty()) {
    throw StoreError(StoreErrorKind::bad_input,
                     "adapters are not supported: locus does not apply LoRA adapters (merge the adapter into the "
                     "model's GGUF instead)");
  }
  if (body.contains("modelfile") && !body["modelfile"].is_null()) {
    throw StoreError(StoreErrorKind::bad_input,
                     "modelfile: the Modelfile text is no longer part of /api/create; send from, files, template, "
                     "system and parameters instead");
  }
  spec.from_model = string_field("from");
  if (spec.from_model && spec.from_model->empty()) spec.from_model.reset();
  if (const auto it = body.find("files"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) {
      throw StoreError(StoreErrorKind::bad_input,
                       std::string("files: expected an object of file name to digest, found ") + it->type_name());
    }
    for (const auto& [file, digest] : it->items()) {
      if (!digest.is_string()) {
        throw StoreError(StoreErrorKind::bad_input, "files: " + file + ": expected a digest string, found " + digest.dump());
      }
      if (!(file.size() > 5 && file.substr(file.size() - 5) == ".gguf") && file.find('.') != std::string::npos) {
        throw StoreError(StoreErrorKind::bad_input, "files: " + file +
                                                        ": only GGUF files are supported (convert safetensors to "
                                                        "GGUF first)");
      }
      spec.file_digests.push_back(digest.get<std::string>());
    }
  }
  if (!spec.from_model && spec.file_digests.empty()) {
    throw StoreError(StoreErrorKind::bad_input, "from or files is required: the model to start from");
  }
  spec.template_text = string_field("template");
  spec.system = string_field("system");
  if (const auto it = body.find("parameters"); it != body.end() && !it->is_null()) {
    spec.parameters = normalize_parameters(*it);
  }
  if (const auto it = body.find("messages"); it != body.end() && !it->is_null()) spec.messages = checked_messages(*it);
  if (const auto it = body.find("license"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      spec.licenses.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const auto& l : *it) {
        if (!l.is_string()) throw StoreError(StoreErrorKind::bad_input, "license: expected strings, found " + l.dump());
        spec.licenses.push_back(l.get<std::string>());
      }
    } else {
      throw StoreError(StoreErrorKind::bad_input,
                       std::string("license: expected a string or an array, found ") + it->type_name());
    }
  }
  spec.quantize = string_field("quantize");
  if (!spec.quantize) spec.quantize = string_field("quantization");  // the older field name
  return build(store, spec, progress);
}

}  // namespace locus::runtime
