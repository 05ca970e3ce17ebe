#include "runtime/model_show.h"

#include <type_traits>
#include <variant>

#include "gguf/file.h"
#include "runtime/model_create.h"

namespace locus::runtime {
namespace {

using OrderedJson = nlohmann::ordered_json;

// A GGUF metadata value as JSON; arrays (the vocabulary...) only when verbose, else null as Ollama sends them.
OrderedJson value_json(const gguf::Value& v, bool verbose) {
  if (const gguf::Array* a = v.as_array()) {
    if (!verbose) return nullptr;
    OrderedJson arr = OrderedJson::array();
    for (const auto& item : a->items) arr.push_back(value_json(item, true));
    return arr;
  }
  return std::visit(
      [](const auto& x) -> OrderedJson {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::shared_ptr<gguf::Array>>) return nullptr;
        else return OrderedJson(x);
      },
      v.data);
}

}  // namespace

OrderedJson details_json(const ModelDetails& d) {
  return OrderedJson{{"parent_model", d.parent_model},     {"format", d.format},
                     {"family", d.family},                 {"families", d.families},
                     {"parameter_size", d.parameter_size}, {"quantization_level", d.quantization_level}};
}

OrderedJson model_capabilities(const ProjectorInfo* projector) {
  OrderedJson caps = OrderedJson::array({"completion"});
  if (projector != nullptr && projector->has_vision) caps.push_back("vision");
  if (projector != nullptr && projector->has_audio) caps.push_back("audio");
  caps.push_back("tools");
  caps.push_back("thinking");
  return caps;
}

OrderedJson projector_info_json(const std::filesystem::path& projector, bool verbose) {
  const auto file = gguf::GgufFile::open(projector.string());
  OrderedJson info = OrderedJson::object();
  for (const auto& [key, value] : file.content().metadata) info[key] = value_json(value, verbose);
  if (!info.contains("general.parameter_count")) {
    uint64_t n = 0;
    for (const auto& t : file.content().tensors) n += t.n_elements();
    info["general.parameter_count"] = n;
  }
  return info;
}

ShownModel show_model(const ModelStore& store, const std::string& ref, bool verbose) {
  ResolvedModel m = store.resolve_model_ref(ref);
  if (m.root == StoreRootKind::file) {
    // A GGUF path: its projector is the mmproj*.gguf beside it, as `locus run` and `serve` find it.
    try {
      set_projector(m, find_projector(m.model_path));
    } catch (const StoreError& e) {
      m.projector_note = e.what();  // several fit: shown without one rather than not at all
    }
  }
  return show_resolved_model(store, std::move(m), verbose);
}

ShownModel show_resolved_model(const ModelStore& store, ResolvedModel model, bool verbose) {
  ShownModel out;
  ResolvedModel& m = out.resolved;
  m = std::move(model);
  const ModelDetails details = store.details(m);
  OrderedJson info = OrderedJson::object();
  std::string chat_template;
  const auto file = gguf::GgufFile::open(m.model_path.string());
  for (const auto& [key, value] : file.content().metadata) {
    if (key == "tokenizer.chat_template") {  // shown as the template, not as model information
      if (const auto* s = std::get_if<std::string>(&value.data)) chat_template = *s;
      continue;
    }
    info[key] = value_json(value, verbose);
  }
  OrderedJson& body = out.body;
  body = OrderedJson{{"modelfile", modelfile_text(m, m.model_path.string())},
                     {"parameters", m.params ? format_parameters(*m.params) : std::string()},
                     {"template", m.template_text.value_or(chat_template)}};
  if (m.system_text) body["system"] = *m.system_text;
  if (!m.licenses.empty()) {
    std::string license;
    for (const auto& l : m.licenses) license += (license.empty() ? "" : "\n\n") + l;
    body["license"] = license;
  }
  body["details"] = details_json(details);
  body["model_info"] = std::move(info);
  if (m.projector_path) {
    try {
      body["projector_info"] = projector_info_json(*m.projector_path, verbose);
    } catch (const gguf::GgufError&) {
      // Not readable as GGUF: the model is shown without it (projector_note says what is wrong).
    }
  }
  body["capabilities"] = model_capabilities(m.projector ? &*m.projector : nullptr);
  return out;
}

}  // namespace locus::runtime
