#include "server/parse_common.h"

#include <cctype>

#include "server/base64.h"
#include "server/go_duration.h"
#include "server/ollama_options.h"

namespace locus::server {

text::ChatRole parse_role(const OrderedJson* value, const std::string& path) {
  constexpr std::string_view kExpected = "\"system\", \"developer\", \"user\", \"assistant\" or \"tool\"";
  if (value == nullptr || !value->is_string()) fail_field(path, kExpected, value);
  std::string r = value->get<std::string>();
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (r == "system") return text::ChatRole::kSystem;
  if (r == "developer") return text::ChatRole::kDeveloper;
  if (r == "user") return text::ChatRole::kUser;
  if (r == "assistant") return text::ChatRole::kAssistant;
  if (r == "tool") return text::ChatRole::kTool;
  fail_field(path, kExpected, value);
}

std::string decode_media_base64(const OrderedJson& value, const std::string& path) {
  if (!value.is_string()) fail_field(path, "a base64 string", &value);
  Base64Result r = decode_base64(value.get_ref<const std::string&>());
  if (!r.bytes) {
    throw FieldError(path, path + ": expected standard base64 (A-Z a-z 0-9 + /, '=' padded), found " + r.error);
  }
  if (r.bytes->empty()) throw FieldError(path, path + ": expected media bytes in base64, found an empty string");
  return std::move(*r.bytes);
}

text::ContentPartKind sniff_media_kind(std::string_view b) {
  auto at = [&](size_t offset, std::string_view magic) {
    return b.size() >= offset + magic.size() && b.substr(offset, magic.size()) == magic;
  };
  using K = text::ContentPartKind;
  if (at(0, "RIFF")) return at(8, "WAVE") ? K::kAudio : at(8, "AVI ") ? K::kVideo : K::kImage;  // else WEBP
  const bool mp3 = at(0, "ID3") ||  // also ADTS AAC, whose sync word matches
                   (b.size() >= 2 && static_cast<unsigned char>(b[0]) == 0xFF &&
                    (static_cast<unsigned char>(b[1]) & 0xE0) == 0xE0);
  if (mp3 || at(0, "fLaC") || at(0, "OggS") || at(0, "#!AMR")) return K::kAudio;
  if (at(0, "\x1A\x45\xDF\xA3")) return K::kVideo;  // EBML: WebM, Matroska
  if (at(4, "ftyp")) {  // ISO base media: the major brand tells audio, still images and video apart
    const std::string_view brand = b.substr(8, std::min<size_t>(4, b.size() - 8));
    for (std::string_view a : {"M4A ", "M4B ", "M4P ", "F4A ", "F4B "}) {
      if (brand == a) return K::kAudio;
    }
    for (std::string_view i : {"heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "avif", "avis"}) {
      if (brand == i) return K::kImage;
    }
    return K::kVideo;
  }
  return K::kImage;
}

std::vector<nlohmann::json> parse_tools(const OrderedJson& tools, const std::string& path) {
  if (!tools.is_array()) fail_field(path, "an array of tools", &tools);
  std::vector<nlohmann::json> out;
  for (size_t i = 0; i < tools.size(); ++i) {
    const OrderedJson& t = tools[i];
    const std::string p = index_path(path, i);
    if (!t.is_object()) fail_field(p, "a tool object {\"type\":\"function\",\"function\":{...}}", &t);
    if (auto type = read_string(t, "type", p); type && *type != "function") {
      fail_field(field_path(p, "type"), "\"function\"", find_field(t, "type"));
    }
    const OrderedJson* f = find_field(t, "function");
    if (f == nullptr || !f->is_object()) fail_field(field_path(p, "function"), "an object", f);
    const std::string fp = field_path(p, "function");
    const auto name = read_string(*f, "name", fp);
    if (!name || name->empty()) fail_field(field_path(fp, "name"), "a non-empty string", find_field(*f, "name"));
    if (const OrderedJson* params = find_field(*f, "parameters"); params != nullptr && !params->is_object()) {
      fail_field(field_path(fp, "parameters"), "a JSON Schema object", params);
    }
    out.push_back(nlohmann::json(t));
  }
  return out;
}

std::vector<text::ToolCall> read_tool_calls(const OrderedJson& message, const std::string& path,
                                            DecodeArguments decode) {
  std::vector<text::ToolCall> out;
  const OrderedJson* calls = find_field(message, "tool_calls");
  if (calls == nullptr) return out;
  const std::string cp = field_path(path, "tool_calls");
  if (!calls->is_array()) fail_field(cp, "an array of tool calls", calls);
  for (size_t i = 0; i < calls->size(); ++i) {
    const OrderedJson& c = (*calls)[i];
    const std::string p = index_path(cp, i);
    if (!c.is_object()) fail_field(p, "a tool call object", &c);
    text::ToolCall call;
    call.id = read_string(c, "id", p).value_or("");
    const OrderedJson* f = find_field(c, "function");
    const std::string fp = field_path(p, "function");
    if (f == nullptr || !f->is_object()) fail_field(fp, "an object {\"name\", \"arguments\"}", f);
    call.name = read_string(*f, "name", fp).value_or("");
    if (call.name.empty()) fail_field(field_path(fp, "name"), "a non-empty string", find_field(*f, "name"));
    call.arguments = decode(find_field(*f, "arguments"), field_path(fp, "arguments"));
    out.push_back(std::move(call));
  }
  return out;
}

nlohmann::json arguments_object(const OrderedJson& value, const std::string& path) {
  if (!value.is_object()) fail_field(path, "an object", &value);
  return nlohmann::json(value);
}

void check_sampling(const runtime::SamplingOptions& options, const std::string& prefix) {
  if (auto e = runtime::validate(options)) {
    // validate's messages start with the option's name.
    const std::string name = e->substr(0, e->find(' '));
    throw FieldError(prefix + name, prefix + *e);
  }
}

int32_t read_top_logprobs(const OrderedJson& body, std::string_view key, const std::string& parent) {
  const auto v = read_int(body, key, parent);
  if (!v) return 0;
  if (*v < 0 || *v > runtime::kMaxTopLogprobs) {
    fail_field(field_path(parent, key), "an integer in [0, " + std::to_string(runtime::kMaxTopLogprobs) + "]",
               find_field(body, key));
  }
  return static_cast<int32_t>(*v);
}

namespace {

Think parse_ollama_think(const OrderedJson& v) {
  Think t;
  if (v.is_boolean()) {
    t.mode = v.get<bool>() ? Think::Mode::kOn : Think::Mode::kOff;
    if (v.get<bool>()) t.level = "medium";  // Ollama: true means "medium"
    return t;
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s == "low" || s == "medium" || s == "high" || s == "max") {
      t.mode = Think::Mode::kOn;
      t.level = s;
      return t;
    }
  }
  fail_field("think", "true, false, \"low\", \"medium\", \"high\" or \"max\"", &v);
}

Format parse_ollama_format(const OrderedJson& v) {
  Format f;
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.empty()) return f;
    if (s == "json") {
      f.kind = Format::Kind::kJsonObject;
      return f;
    }
  } else if (v.is_object()) {
    f.kind = Format::Kind::kJsonSchema;
    f.schema = v;
    return f;
  }
  fail_field("format", "\"json\" or a JSON Schema object", &v);
}

}  // namespace

void parse_ollama_common(const OrderedJson& body, ApiRequest& r) {
  if (const OrderedJson* f = find_field(body, "format")) r.format = parse_ollama_format(*f);
  if (const OrderedJson* o = find_field(body, "options")) {
    apply_ollama_options(*o, "options", r.options, r.runner, r.warnings, &r.media_options);
  }
  check_sampling(r.options, "options.");
  if (auto e = check_media_options(r.media_options, "options.")) throw FieldError(e->param, e->message);
  r.stream = read_bool(body, "stream", "").value_or(true);
  if (const OrderedJson* k = find_field(body, "keep_alive")) r.keep_alive = parse_keep_alive(*k, "keep_alive");
  if (const OrderedJson* t = find_field(body, "think")) r.think = parse_ollama_think(*t);
  r.truncate = read_bool(body, "truncate", "").value_or(true);
  r.shift = read_bool(body, "shift", "").value_or(true);
  r.logprobs = read_bool(body, "logprobs", "").value_or(false);
  r.top_logprobs = read_top_logprobs(body, "top_logprobs", "");
}

std::string read_model(const OrderedJson& body) {
  const OrderedJson* m = find_field(body, "model");
  if (m == nullptr || !m->is_string() || m->get_ref<const std::string&>().empty()) {
    fail_field("model", "a model name (a non-empty string)", m);
  }
  return m->get<std::string>();
}

}  // namespace locus::server
