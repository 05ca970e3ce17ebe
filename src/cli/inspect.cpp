#include "cli/inspect.h"

#include <nlohmann/json.hpp>

#include <cinttypes>
#include <cstdio>
#include <map>
#include <sstream>

#include "common/human.h"
#include "gguf/file.h"
#include "model/quant_mix.h"

namespace locus::cli {
namespace {

using gguf::Value;
using gguf::ValueType;

constexpr size_t kArrayPreview = 8;  // items shown of a long array unless --all

// A string shown on one line: control characters escaped, long text cut.
std::string one_line(const std::string& s, size_t max_bytes) {
  std::string out;
  for (unsigned char ch : s) {
    if (out.size() >= max_bytes) {
      out += "...";
      break;
    }
    if (ch == '\n') out += "\\n";
    else if (ch == '\t') out += "\\t";
    else if (ch < 0x20 || ch == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
    } else out += static_cast<char>(ch);
  }
  return out;
}

std::string scalar_text(const Value& v, size_t max_string) {
  switch (v.type) {
    case ValueType::STRING: {
      std::string q = "\"";
      q += one_line(std::get<std::string>(v.data), max_string);
      q += '"';
      return q;
    }
    case ValueType::BOOL: return std::get<bool>(v.data) ? "true" : "false";
    case ValueType::FLOAT32:
    case ValueType::FLOAT64: {
      std::ostringstream ss;
      ss << std::get<double>(v.data);
      return ss.str();
    }
    default:
      if (std::holds_alternative<int64_t>(v.data)) return std::to_string(std::get<int64_t>(v.data));
      return std::to_string(std::get<uint64_t>(v.data));
  }
}

std::string value_text(const Value& v, bool all) {
  const gguf::Array* a = v.as_array();
  if (a == nullptr) return scalar_text(v, all ? SIZE_MAX : 200);
  std::string s = "[";
  const size_t shown = all ? a->items.size() : std::min(a->items.size(), kArrayPreview);
  for (size_t i = 0; i < shown; ++i) {
    if (i) s += ", ";
    s += value_text(a->items[i], all);
  }
  if (shown < a->items.size()) s += ", ... (" + std::to_string(a->items.size()) + " items)";
  return s + "]";
}

nlohmann::ordered_json value_json(const Value& v, bool all) {
  if (const gguf::Array* a = v.as_array()) {
    auto arr = nlohmann::ordered_json::array();
    const size_t shown = all ? a->items.size() : std::min(a->items.size(), kArrayPreview);
    for (size_t i = 0; i < shown; ++i) arr.push_back(value_json(a->items[i], all));
    if (shown == a->items.size()) return arr;
    return {{"type", "array"}, {"element_type", gguf::value_type_name(a->element_type)},
            {"count", a->items.size()}, {"head", arr}};
  }
  switch (v.type) {
    case ValueType::STRING: return std::get<std::string>(v.data);
    case ValueType::BOOL: return std::get<bool>(v.data);
    case ValueType::FLOAT32:
    case ValueType::FLOAT64: return std::get<double>(v.data);
    default:
      if (std::holds_alternative<int64_t>(v.data)) return std::get<int64_t>(v.data);
      return std::get<uint64_t>(v.data);
  }
}

struct Summary {
  std::string architecture = "(none)";
  std::string name;
  uint64_t n_params = 0;
  uint64_t tensor_bytes = 0;
  std::string file_type = "(not set)";
  std::optional<uint64_t> context_length;
  std::map<std::string, uint64_t> tensors_by_type;
};

Summary summarize(const gguf::GgufFile& f) {
  Summary s;
  if (auto a = f.get_string_or("general.architecture")) s.architecture = *a;
  if (auto n = f.get_string_or("general.name")) s.name = *n;
  if (auto ft = f.get_u32_or("general.file_type")) {
    auto info = model::file_type_info(*ft);
    s.file_type = info ? std::string(info->name) : "unknown (" + std::to_string(*ft) + ")";
  }
  if (auto c = f.get_u32_or(s.architecture + ".context_length")) s.context_length = *c;
  for (const auto& t : f.content().tensors) {
    s.n_params += t.n_elements();
    s.tensor_bytes += t.n_bytes;
    ++s.tensors_by_type[std::string(gguf::ggml_type_info(t.type).name)];
  }
  return s;
}

}  // namespace

void inspect(const InspectOptions& o, std::ostream& out) {
  const auto f = gguf::GgufFile::open(o.path);
  const Summary s = summarize(f);
  const auto& content = f.content();

  if (o.json) {
    nlohmann::ordered_json j;
    j["path"] = o.path;
    j["gguf_version"] = content.version;
    j["file_bytes"] = f.file_size();
    j["architecture"] = s.architecture;
    j["name"] = s.name;
    j["parameters"] = s.n_params;
    j["file_type"] = s.file_type;
    j["context_length"] = s.context_length ? nlohmann::ordered_json(*s.context_length) : nullptr;
    j["alignment"] = content.alignment;
    j["tensor_types"] = s.tensors_by_type;
    auto meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : content.metadata) meta[k] = value_json(v, o.all_metadata);
    j["metadata"] = std::move(meta);
    if (!o.no_tensors) {
      auto ts = nlohmann::ordered_json::array();
      for (const auto& t : content.tensors) {
        ts.push_back({{"name", t.name}, {"type", gguf::ggml_type_info(t.type).name}, {"shape", t.shape},
                      {"bytes", t.n_bytes}, {"offset", content.data_offset + t.offset}});
      }
      j["tensors"] = std::move(ts);
    }
    out << j.dump(2) << "\n";
    return;
  }

  char line[512];
  out << o.path << "\n";
  std::snprintf(line, sizeof line, "  %-16s %s\n  %-16s %s (%" PRIu64 ")\n  %-16s %s\n", "architecture",
                s.architecture.c_str(), "parameters", human_count(double(s.n_params)).c_str(), s.n_params, "file type",
                s.file_type.c_str());
  out << line;
  if (!s.name.empty()) out << "  name             " << one_line(s.name, 200) << "\n";
  out << "  context length   " << (s.context_length ? std::to_string(*s.context_length) : "(not set)") << "\n";
  std::snprintf(line, sizeof line, "  %-16s GGUF v%u, %s, %zu tensors (%s of data), %zu metadata keys\n", "file",
                content.version, human_bytes(double(f.file_size())).c_str(), content.tensors.size(),
                human_bytes(double(s.tensor_bytes)).c_str(), content.metadata.size());
  out << line;
  std::string types;
  for (const auto& [name, n] : s.tensors_by_type) {
    if (!types.empty()) types += ", ";
    types += name;
    types += ' ';
    types += std::to_string(n);
  }
  out << "  tensor types     " << types << "\n\nmetadata\n";
  for (const auto& [k, v] : content.metadata) {
    const gguf::Array* a = v.as_array();
    const std::string type = a ? "arr[" + std::string(gguf::value_type_name(a->element_type)) + "," +
                                     std::to_string(a->items.size()) + "]"
                               : std::string(gguf::value_type_name(v.type));
    std::snprintf(line, sizeof line, "  %-44s %-16s ", one_line(k, 44).c_str(), type.c_str());
    out << line << value_text(v, o.all_metadata) << "\n";
  }
  if (o.no_tensors) return;
  out << "\ntensors\n";
  std::snprintf(line, sizeof line, "  %-40s %-8s %-24s %12s\n", "name", "type", "shape", "size");
  out << line;
  for (const auto& t : content.tensors) {
    std::snprintf(line, sizeof line, "  %-40s %-8s %-24s %12s\n", one_line(t.name, 40).c_str(),
                  std::string(gguf::ggml_type_info(t.type).name).c_str(), gguf::format_shape(t.shape).c_str(),
                  human_bytes(double(t.n_bytes)).c_str());
    out << line;
  }
}

}  // namespace locus::cli
