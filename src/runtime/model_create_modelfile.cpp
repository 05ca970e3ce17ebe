// The Modelfile parser and the typing of model parameters (model_create.h).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "common/trim.h"
#include "runtime/model_create.h"

namespace locus::runtime {
namespace {

enum class ParamType { integer, number, boolean, string_list };

// The options a model's params layer may hold: those the runtime honours (SamplingOptions) and the rest of
// Ollama's runner options (api-compat.md §2.4), which are stored so a model made for Ollama keeps them.
const std::map<std::string, ParamType, std::less<>>& parameter_types() {
  static const std::map<std::string, ParamType, std::less<>> types = {
      {"num_ctx", ParamType::integer},          {"num_predict", ParamType::integer},
      {"num_keep", ParamType::integer},         {"seed", ParamType::integer},
      {"stop", ParamType::string_list},         {"temperature", ParamType::number},
      {"top_k", ParamType::integer},            {"top_p", ParamType::number},
      {"min_p", ParamType::number},             {"typical_p", ParamType::number},
      {"repeat_penalty", ParamType::number},    {"repeat_last_n", ParamType::integer},
      {"presence_penalty", ParamType::number},  {"frequency_penalty", ParamType::number},
      {"num_batch", ParamType::integer},        {"num_gpu", ParamType::integer},
      {"main_gpu", ParamType::integer},         {"use_mmap", ParamType::boolean},
      {"num_thread", ParamType::integer},       {"draft_num_predict", ParamType::integer},
  };
  return types;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

using common::trim;

std::string json_quoted(std::string_view s) { return nlohmann::json(std::string(s)).dump(); }

// Reads a Modelfile line by line, keeping the line number for errors; a triple-quoted value may take more
// lines.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}
  bool next_line(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    const size_t end = text_.find('\n', pos_);
    line = text_.substr(pos_, end == std::string_view::npos ? std::string_view::npos : end - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = end == std::string_view::npos ? text_.size() : end + 1;
    ++line_no_;
    return true;
  }
  int line_no() const { return line_no_; }

  // The value that starts at `rest` (the remainder of the current line). For """ it reads on until the
  // closing quotes, which must end their line.
  std::string value(std::string_view rest, std::string_view what) {
    rest = trim(rest);
    const int start_line = line_no_;
    if (rest.starts_with("\"\"\"")) {
      std::string out;
      std::string_view piece = rest.substr(3);
      for (;;) {
        const size_t close = piece.find("\"\"\"");
        if (close != std::string_view::npos) {
          out += piece.substr(0, close);
          if (!trim(piece.substr(close + 3)).empty()) {
            throw ModelfileError(line_no_, "unexpected text after the closing \"\"\" of " + std::string(what));
          }
          return out;
        }
        out += piece;
        std::string_view line;
        if (!next_line(line)) {
          throw ModelfileError(start_line, std::string(what) + ": \"\"\" is never closed");
        }
        out += '\n';
        piece = line;
      }
    }
    if (rest.starts_with('"')) {
      std::string out;
      for (size_t i = 1; i < rest.size(); ++i) {
        const char c = rest[i];
        if (c == '\\' && i + 1 < rest.size() && (rest[i + 1] == '"' || rest[i + 1] == '\\')) {
          out += rest[++i];
        } else if (c == '"') {
          if (!trim(rest.substr(i + 1)).empty()) {
            throw ModelfileError(line_no_, "unexpected text after the closing quote of " + std::string(what));
          }
          return out;
        } else {
          out += c;
        }
      }
      throw ModelfileError(line_no_, std::string(what) + ": the quote is never closed (use \"\"\" for text over several lines)");
    }
    return std::string(rest);
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int line_no_ = 0;
};

// Splits off the first word of `s`; returns it and leaves the rest in `s`.
std::string_view first_word(std::string_view& s) {
  s = trim(s);
  size_t i = 0;
  while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  const std::string_view word = s.substr(0, i);
  s.remove_prefix(i);
  return word;
}

}  // namespace

std::vector<std::string> known_parameter_names() {
  std::vector<std::string> names;
  for (const auto& [name, type] : parameter_types()) names.push_back(name);
  return names;
}

std::optional<nlohmann::json> typed_parameter(std::string_view name, std::string_view value, std::string* error) {
  const auto it = parameter_types().find(name);
  if (it == parameter_types().end()) {
    std::string known;
    for (const auto& n : known_parameter_names()) known += (known.empty() ? "" : ", ") + n;
    *error = "unknown parameter " + json_quoted(name) + " (known: " + known + ")";
    return std::nullopt;
  }
  const std::string text(trim(value));
  switch (it->second) {
    case ParamType::integer: {
      int64_t v = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return nlohmann::json(v);
      // Ollama's options take a JSON number for an int and truncate it; a written "4096.0" is the same.
      double d = 0;
      const auto [dend, dec] = std::from_chars(text.data(), text.data() + text.size(), d);
      if (dec == std::errc() && dend == text.data() + text.size() && !text.empty() && std::isfinite(d) &&
          std::fabs(d) < 9.2e18) {
        return nlohmann::json(static_cast<int64_t>(d));
      }
      *error = std::string(name) + ": expected an integer, found " + json_quoted(text);
      return std::nullopt;
    }
    case ParamType::number: {
      double d = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
      if (ec == std::errc() && end == text.data() + text.size() && !text.empty() && std::isfinite(d)) {
        // Whole numbers stay integers in JSON, as Go writes a float64 of 1.0: "temperature":1.
        if (d == std::floor(d) && std::fabs(d) < 9.0e15) return nlohmann::json(static_cast<int64_t>(d));
        return nlohmann::json(d);
      }
      *error = std::string(name) + ": expected a number, found " + json_quoted(text);
      return std::nullopt;
    }
    case ParamType::boolean: {
      const std::string l = lower(text);
      if (l == "true" || l == "1") return nlohmann::json(true);
      if (l == "false" || l == "0") return nlohmann::json(false);
      *error = std::string(name) + ": expected true or false, found " + json_quoted(text);
      return std::nullopt;
    }
    case ParamType::string_list:
      if (text.empty()) {
        *error = std::string(name) + ": expected a string, found nothing";
        return std::nullopt;
      }
      return nlohmann::json(text);
  }
  return std::nullopt;
}

nlohmann::ordered_json normalize_parameters(const nlohmann::json& parameters) {
  if (!parameters.is_object()) {
    throw StoreError(StoreErrorKind::bad_input,
                     std::string("parameters: expected a JSON object, found ") + parameters.type_name());
  }
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& [key, value] : parameters.items()) {
    const auto it = parameter_types().find(key);
    if (it == parameter_types().end()) {
      std::string error;
      typed_parameter(key, "", &error);
      throw StoreError(StoreErrorKind::bad_input, "parameters: " + error);
    }
    const auto wrong = [&, &k = key, &v = value](std::string_view expected) {  // clang 14: no binding captures
      return StoreError(StoreErrorKind::bad_input, "parameters: " + k + ": expected " + std::string(expected) +
                                                       ", found " + v.dump());
    };
    // A string is accepted for any type, as a Modelfile would write it (clients send "0.7" too).
    if (value.is_string() && it->second != ParamType::string_list) {
      std::string error;
      auto typed = typed_parameter(key, value.get<std::string>(), &error);
      if (!typed) throw StoreError(StoreErrorKind::bad_input, "parameters: " + error);
      out[key] = *typed;
      continue;
    }
    switch (it->second) {
      case ParamType::integer:
        if (!value.is_number()) throw wrong("an integer");
        out[key] = value.is_number_float() ? nlohmann::json(static_cast<int64_t>(value.get<double>())) : value;
        break;
      case ParamType::number:
        if (!value.is_number()) throw wrong("a number");
        out[key] = value;
        break;
      case ParamType::boolean:
        if (!value.is_boolean()) throw wrong("true or false");
        out[key] = value;
        break;
      case ParamType::string_list: {
        nlohmann::json list = nlohmann::json::array();
        if (value.is_string()) {
          list.push_back(value);
        } else if (value.is_array() && std::all_of(value.begin(), value.end(), [](const auto& v) { return v.is_string(); })) {
          list = value;
        } else {
          throw wrong("a string or an array of strings");
        }
        out[key] = list;
        break;
      }
    }
  }
  return out;
}

Modelfile parse_modelfile(std::string_view text) {
  Modelfile mf;
  Reader reader(text);
  std::string_view line;
  while (reader.next_line(line)) {
    std::string_view rest = trim(line);
    if (rest.empty() || rest.starts_with('#')) continue;
    const int at = reader.line_no();
    const std::string command = lower(first_word(rest));
    if (command == "from") {
      std::string value = reader.value(rest, "FROM");
      if (value.empty()) throw ModelfileError(at, "FROM needs a GGUF file or a model name");
      if (mf.from.empty()) {
        mf.from = std::move(value);
        mf.from_line = at;
      } else {
        // The model and its projector (Ollama's way of naming both); create_model decides which is which.
        if (!mf.more_from.empty()) {
          throw ModelfileError(at, "a third FROM (lines " + std::to_string(mf.from_line) + " and " +
                                       std::to_string(mf.more_from.front().line) +
                                       " have one): a Modelfile names a model and at most one projector");
        }
        mf.more_from.push_back({std::move(value), at});
      }
    } else if (command == "parameter") {
      const std::string name = lower(first_word(rest));
      if (name.empty()) throw ModelfileError(at, "PARAMETER needs a name and a value");
      const std::string value = reader.value(rest, "PARAMETER " + name);
      if (value.empty()) throw ModelfileError(at, "PARAMETER " + name + " needs a value");
      std::string error;
      auto typed = typed_parameter(name, value, &error);
      if (!typed) throw ModelfileError(at, error);
      if (name == "stop") {
        if (!mf.parameters.contains("stop")) mf.parameters["stop"] = nlohmann::ordered_json::array();
        mf.parameters["stop"].push_back(typed->get<std::string>());
      } else {
        mf.parameters[name] = *typed;  // a later line wins, as in Ollama
      }
    } else if (command == "system") {
      mf.system = reader.value(rest, "SYSTEM");
    } else if (command == "template") {
      mf.template_text = reader.value(rest, "TEMPLATE");
    } else if (command == "license") {
      mf.licenses.push_back(reader.value(rest, "LICENSE"));
    } else if (command == "message") {
      const std::string role = lower(first_word(rest));
      if (role != "system" && role != "user" && role != "assistant") {
        throw ModelfileError(at, "MESSAGE role: expected system, user or assistant, found " + json_quoted(role));
      }
      mf.messages.push_back({role, reader.value(rest, "MESSAGE")});
    } else if (command == "adapter") {
      throw ModelfileError(at, "ADAPTER is not supported: locus does not apply LoRA adapters (merge the adapter "
                               "into the model's GGUF instead)");
    } else {
      throw ModelfileError(at, "unknown command " + json_quoted(command) +
                                   ": expected FROM, PARAMETER, SYSTEM, TEMPLATE, MESSAGE, LICENSE or ADAPTER");
    }
  }
  if (mf.from.empty()) {
    throw ModelfileError(std::max(reader.line_no(), 1), "no FROM line: a Modelfile must name a GGUF file or a model");
  }
  return mf;
}

std::string format_parameters(const nlohmann::json& parameters) {
  std::string out;
  const auto line = [&](const std::string& key, const nlohmann::json& v) {
    char pad[64];
    std::snprintf(pad, sizeof pad, "%-30s ", key.c_str());
    out += pad;
    out += v.dump();  // strings come out quoted, like Go's %#v
    out += '\n';
  };
  if (!parameters.is_object()) return out;
  for (const auto& [key, value] : parameters.items()) {
    if (value.is_array()) {
      for (const auto& item : value) line(key, item);
    } else {
      line(key, value);
    }
  }
  return out;
}

namespace {
// A value as a Modelfile writes it back: triple-quoted, which keeps any text but three quotes in a row.
std::string modelfile_value(const std::string& text) { return "\"\"\"" + text + "\"\"\""; }
}  // namespace

std::string modelfile_text(const ResolvedModel& model, std::string_view from_line_value) {
  std::string out = "# Modelfile generated by \"locus show\"\n# To build a new Modelfile based on this, replace FROM with:\n# FROM " +
                    model.display_name + "\n\nFROM " + std::string(from_line_value) + "\n";
  // The projector as Ollama writes it back: a second FROM line, which `locus create` reads as the projector.
  if (model.projector_path) out += "FROM " + model.projector_path->string() + "\n";
  if (model.template_text) {
    out += "# TEMPLATE is informational: locus renders Gemma 4's chat format itself\n";
    out += "TEMPLATE " + modelfile_value(*model.template_text) + "\n";
  }
  if (model.system_text) out += "SYSTEM " + modelfile_value(*model.system_text) + "\n";
  if (model.params && model.params->is_object()) {
    for (const auto& [key, value] : model.params->items()) {
      if (value.is_array()) {
        for (const auto& item : value) out += "PARAMETER " + key + " " + item.dump() + "\n";
      } else {
        out += "PARAMETER " + key + " " + value.dump() + "\n";
      }
    }
  }
  if (model.messages && model.messages->is_array()) {
    for (const auto& m : *model.messages) {
      if (!m.is_object()) continue;
      out += "MESSAGE " + m.value("role", std::string("user")) + " " + modelfile_value(m.value("content", std::string())) + "\n";
    }
  }
  for (const auto& license : model.licenses) out += "LICENSE " + modelfile_value(license) + "\n";
  return out;
}

}  // namespace locus::runtime
