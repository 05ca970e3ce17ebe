// Follows google-gemma-4-31B-it.jinja rule by rule; the comments name the template's quirks we reproduce.
#include "text/chat_renderer.h"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <utility>

namespace locus::text {
namespace {

using nlohmann::json;

constexpr const char* kQuote = "<|\"|>";

[[noreturn]] void refuse(const std::string& what) { throw std::invalid_argument("chat template: " + what); }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Jinja's `trim` (ASCII whitespace; Python and JS also strip Unicode spaces, which we leave alone).
std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::string ascii_lower(std::string s) {
  for (char& c : s) if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string upper_type(const json& type, const std::string& where) {
  if (!type.is_string()) refuse(where + ": \"type\" must be a string, found " + std::string(type.type_name()));
  std::string s = type.get<std::string>();
  for (char& c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) refuse(where + ": non-ASCII type name \"" + type.get<std::string>() + "\"");
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

// Jinja's `dictsort`: keys compared case-insensitively (ties keep the object's order).
std::vector<std::pair<std::string, const json*>> dictsort(const json& object) {
  std::vector<std::pair<std::string, const json*>> items;
  for (auto it = object.begin(); it != object.end(); ++it) items.emplace_back(it.key(), &it.value());
  std::stable_sort(items.begin(), items.end(),
                   [](const auto& a, const auto& b) { return ascii_lower(a.first) < ascii_lower(b.first); });
  return items;
}

bool truthy(const json* v) {
  if (v == nullptr || v->is_null()) return false;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_string() || v->is_array() || v->is_object()) return !v->empty();
  if (v->is_number_float()) return v->get<double>() != 0.0;
  if (v->is_number_unsigned()) return v->get<uint64_t>() != 0;
  return v->get<int64_t>() != 0;
}

const json* get(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// The template's format_argument macro. Null has no Gemma spelling in the template (Jinja2 prints "None",
// @huggingface/jinja prints nothing); we write `null`, as the model's own tool-call syntax does.
void format_argument(const json& v, bool escape_keys, std::string& out) {
  if (v.is_string()) {
    out += kQuote;
    out += v.get<std::string>();
    out += kQuote;
  } else if (v.is_boolean()) {
    out += v.get<bool>() ? "true" : "false";
  } else if (v.is_object()) {
    out += '{';
    bool first = true;
    for (const auto& [key, value] : dictsort(v)) {
      if (!first) out += ',';
      first = false;
      if (escape_keys) out += kQuote + key + kQuote;
      else out += key;
      out += ':';
      format_argument(*value, escape_keys, out);
    }
    out += '}';
  } else if (v.is_array()) {
    out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out += ',';
      format_argument(v[i], escape_keys, out);
    }
    out += ']';
  } else {
    out += v.dump();  // numbers (shortest round-trip form) and null
  }
}

void string_list(const json& list, const std::string& where, std::string& out) {
  if (!list.is_array()) refuse(where + " must be an array of strings");
  out += '[';
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string()) refuse(where + " must be an array of strings");
    if (i) out += ',';
    out += kQuote + list[i].get<std::string>() + kQuote;
  }
  out += ']';
}

void comma(bool& add_comma, std::string& out) {
  if (add_comma) out += ',';
  add_comma = true;
}

void format_parameters(const json& properties, const std::string& where, std::string& out, bool schema_itself = false);

bool is_null_schema(const json& s) {
  const json* t = s.is_object() ? get(s, "type") : nullptr;
  return t != nullptr && t->is_string() && t->get<std::string>() == "null";
}

// JSON Schema's ways of writing "T or null" -- `"type": ["string", "null"]`, or `anyOf`/`oneOf` of one schema and
// {"type": "null"}, as pydantic writes Optional[...] -- become the template's own form of the same thing: one
// "type" and "nullable": true (the template reads nothing else, and fails on a missing or list type). Other
// unions cannot be told to the model through this template and are refused. Nothing when `value` needs no change.
std::optional<json> template_form(const json& value, const std::string& at) {
  const json* type = get(value, "type");
  if (type != nullptr && type->is_array()) {
    json rest = json::array();
    bool has_null = false;
    for (const json& t : *type) {
      if (t.is_string() && t.get<std::string>() == "null") has_null = true;
      else rest.push_back(t);
    }
    if (rest.size() != 1) refuse(at + ": a union of types " + type->dump() + " cannot be declared (the template takes one type)");
    json out = value;
    out["type"] = rest[0];
    if (has_null) out["nullable"] = true;
    return out;
  }
  if (type != nullptr) return std::nullopt;
  for (const char* key : {"anyOf", "oneOf"}) {
    const json* alts = get(value, key);
    if (alts == nullptr) continue;
    if (!alts->is_array()) refuse(at + ": \"" + std::string(key) + "\" must be an array");
    const json* only = nullptr;
    bool has_null = false;
    for (const json& a : *alts) {
      if (is_null_schema(a)) {
        has_null = true;
      } else if (only == nullptr && a.is_object()) {
        only = &a;
      } else {
        refuse(at + ": \"" + std::string(key) + "\" with more than one non-null alternative cannot be declared "
               "(the template takes one type)");
      }
    }
    if (only == nullptr) refuse(at + ": \"" + std::string(key) + "\" has no non-null alternative");
    json out = *only;
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (it.key() != key) out[it.key()] = it.value();  // the property's own description wins
    }
    if (has_null) out["nullable"] = true;
    if (std::optional<json> deeper = template_form(out, at)) return deeper;
    return out;
  }
  return std::nullopt;
}

// One property of format_parameters: description, enum (strings), items (arrays), nullable,
// properties/required (objects), type.
void format_property(const std::string& key, const json& value_in, const std::string& where, std::string& out) {
  const std::string at = where + "." + key;
  if (!value_in.is_object()) refuse(at + ": a property schema must be an object");
  const std::optional<json> normalized = template_form(value_in, at);
  const json& value = normalized ? *normalized : value_in;
  const json* type = get(value, "type");
  if (type == nullptr) refuse(at + ": property has no \"type\"");
  const std::string upper = upper_type(*type, at);
  out += key + ":{";
  bool add_comma = false;
  const json* description = get(value, "description");
  if (truthy(description)) {
    if (!description->is_string()) refuse(at + ": \"description\" must be a string");
    out += "description:";
    out += kQuote + description->get<std::string>() + kQuote;
    add_comma = true;
  }
  if (upper == "STRING") {
    if (const json* e = get(value, "enum"); truthy(e)) {
      comma(add_comma, out);
      out += "enum:";
      format_argument(*e, true, out);
    }
  } else if (upper == "ARRAY") {
    const json* items = get(value, "items");
    if (items != nullptr && items->is_object() && !items->empty()) {
      comma(add_comma, out);
      out += "items:{";
      bool first = true;
      for (const auto& [item_key, item_value] : dictsort(*items)) {
        if (item_value->is_null()) continue;
        if (!first) out += ',';
        first = false;
        if (item_key == "properties") {
          out += "properties:{";
          if (item_value->is_object()) format_parameters(*item_value, at + ".items", out);
          out += '}';
        } else if (item_key == "required") {
          out += "required:";
          string_list(*item_value, at + ".items.required", out);
        } else if (item_key == "type") {
          out += "type:";
          if (item_value->is_array()) {
            json uppers = json::array();
            for (const json& t : *item_value) uppers.push_back(upper_type(t, at + ".items"));
            format_argument(uppers, true, out);
          } else {
            format_argument(json(upper_type(*item_value, at + ".items")), true, out);
          }
        } else {
          out += item_key + ":";
          format_argument(*item_value, true, out);  // the template quotes nested keys here
        }
      }
      out += '}';
    }
  }
  if (truthy(get(value, "nullable"))) {
    comma(add_comma, out);
    out += "nullable:true";
  }
  if (upper == "OBJECT") {
    comma(add_comma, out);
    out += "properties:{";
    const json* nested = get(value, "properties");
    // Without "properties" the template reads the schema's own other keys as properties.
    if (nested != nullptr && nested->is_object()) format_parameters(*nested, at, out);
    else format_parameters(value, at, out, true);
    out += '}';
    if (const json* required = get(value, "required"); truthy(required)) {
      comma(add_comma, out);
      out += "required:";
      string_list(*required, at + ".required", out);
    }
  }
  comma(add_comma, out);
  out += "type:";
  out += kQuote + upper + kQuote + "}";
}

bool is_standard_key(const std::string& key) {
  return key == "description" || key == "type" || key == "properties" || key == "required" || key == "nullable";
}

void format_parameters(const json& properties, const std::string& where, std::string& out, bool schema_itself) {
  bool first = true;
  for (const auto& [key, value] : dictsort(properties)) {
    if (is_standard_key(key)) {
      if (schema_itself) continue;
      refuse(where + ": a property named \"" + key + "\" cannot be declared (the template skips it)");
    }
    if (!first) out += ',';
    first = false;
    format_property(key, *value, where, out);
  }
}

std::string format_declaration(const json& tool, size_t index) {
  const std::string where = "tools[" + std::to_string(index) + "]";
  const json* function = get(tool, "function");
  if (function == nullptr || !function->is_object()) refuse(where + ": expected {\"type\":\"function\",\"function\":{...}}");
  const json* name = get(*function, "name");
  if (name == nullptr || !name->is_string() || name->get<std::string>().empty())
    refuse(where + ": function has no name");
  const std::string at = "tool " + name->get<std::string>();
  std::string out = "declaration:" + name->get<std::string>() + "{description:" + kQuote;
  if (const json* d = get(*function, "description"); d != nullptr && !d->is_null()) {
    if (!d->is_string()) refuse(at + ": \"description\" must be a string");
    out += d->get<std::string>();
  }
  out += kQuote;
  if (const json* params = get(*function, "parameters"); truthy(params)) {
    if (!params->is_object()) refuse(at + ": \"parameters\" must be an object");
    out += ",parameters:{";
    if (const json* props = get(*params, "properties"); truthy(props)) {
      if (!props->is_object()) refuse(at + ": \"properties\" must be an object");
      out += "properties:{";
      format_parameters(*props, at, out);
      out += "},";
    }
    if (const json* required = get(*params, "required"); truthy(required)) {
      out += "required:";
      string_list(*required, at + ": \"required\"", out);
      out += ',';
    }
    const json* type = get(*params, "type");
    if (!truthy(type)) refuse(at + ": parameters have no \"type\" (the template would leave them unclosed)");
    out += "type:";
    out += kQuote + upper_type(*type, at) + kQuote + "}";
  }
  if (const json* response = get(*function, "response"); response != nullptr) {
    if (!response->is_object()) refuse(at + ": \"response\" must be an object");
    out += ",response:{";
    if (const json* d = get(*response, "description"); truthy(d)) {
      if (!d->is_string()) refuse(at + ": response \"description\" must be a string");
      out += "description:";
      out += kQuote + d->get<std::string>() + kQuote + ",";
    }
    if (const json* t = get(*response, "type"); t != nullptr && upper_type(*t, at + " response") == "OBJECT")
      out += "type:" + std::string(kQuote) + "OBJECT" + kQuote + "}";
  }
  out += '}';
  return trim(out);
}

// strip_thinking: drops every `<|channel>...<channel|>` block (and text after a `<|channel>` with no end).
std::string strip_thinking(std::string_view text) {
  std::string result;
  size_t pos = 0;
  while (true) {
    size_t end = text.find("<channel|>", pos);
    std::string_view part = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    size_t open = part.find("<|channel>");
    result += part.substr(0, open);
    if (end == std::string_view::npos) break;
    pos = end + 10;
  }
  return trim(result);
}

const char* role_name(ChatRole role) {
  switch (role) {
    case ChatRole::kSystem: return "system";
    case ChatRole::kDeveloper: return "developer";
    case ChatRole::kUser: return "user";
    case ChatRole::kAssistant: return "model";
    case ChatRole::kTool: return "tool";
  }
  return "user";
}

bool has_content(const ChatMessage& m) {
  if (!m.object_result.is_null()) return !m.object_result.empty();
  return m.use_parts ? !m.parts.empty() : !m.text.empty();
}

void tool_response_block(const std::string& name, const ChatMessage& result, std::string& out) {
  out += "<|tool_response>response:" + name + "{";
  if (!result.object_result.is_null()) {
    bool first = true;
    for (const auto& [key, value] : dictsort(result.object_result)) {
      if (!first) out += ',';
      first = false;
      out += key + ":";
      format_argument(*value, false, out);
    }
  } else {
    std::string body = result.text;
    if (result.use_parts) {  // text parts concatenated as they are; media parts are dropped
      body.clear();
      for (const ContentPart& p : result.parts)
        if (p.kind == ContentPartKind::kText) body += p.text;
    }
    out += "value:";
    out += kQuote + body + kQuote;
  }
  out += "}<tool_response|>";
}

}  // namespace

std::string render_gemma4_prompt(const Conversation& conversation, const RenderOptions& options) {
  const std::vector<ChatMessage>& all = conversation.messages;
  if (all.empty()) refuse("the conversation has no messages");
  std::string out = options.bos_token;
  enum class Prev { kNone, kThink, kTool, kToolCall, kToolResponse, kMedia };
  Prev prev = Prev::kNone;
  size_t first = 0;
  const bool leading_system = all[0].role == ChatRole::kSystem || all[0].role == ChatRole::kDeveloper;
  if (options.enable_thinking || !conversation.tools.empty() || leading_system) {
    out += "<|turn>system\n";
    if (options.enable_thinking) {
      out += "<|think|>\n";
      prev = Prev::kThink;
    }
    if (leading_system) {
      if (all[0].use_parts || !all[0].object_result.is_null())
        refuse("the first system message must be text (the template trims it as a string)");
      out += trim(all[0].text);
      first = 1;
    }
    for (size_t i = 0; i < conversation.tools.size(); ++i)
      out += "<|tool>" + format_declaration(conversation.tools[i], i) + "<tool|>";
    if (!conversation.tools.empty()) prev = Prev::kTool;
    out += "<turn|>\n";
  }

  size_t last_user = SIZE_MAX;
  for (size_t i = first; i < all.size(); ++i)
    if (all[i].role == ChatRole::kUser) last_user = i;

  const ChatMessage* prev_non_tool = nullptr;
  for (size_t i = first; i < all.size(); ++i) {
    const ChatMessage& m = all[i];
    if (m.role == ChatRole::kTool) {
      // Rendered by the assistant message it answers; anywhere else the template drops it.
      size_t j = i;
      while (j > first && all[j - 1].role == ChatRole::kTool) --j;
      if (j == first || all[j - 1].role != ChatRole::kAssistant || all[j - 1].tool_calls.empty())
        refuse("message " + std::to_string(i) + ": a tool result must follow an assistant message with tool calls");
      continue;
    }
    if (m.role != ChatRole::kTool && !m.object_result.is_null())
      refuse("message " + std::to_string(i) + ": only tool results may have an object as content");
    prev = Prev::kNone;
    const bool is_model = m.role == ChatRole::kAssistant;
    // Consecutive assistant messages (tool results between them aside) share one model turn.
    const bool continues = is_model && prev_non_tool != nullptr && prev_non_tool->role == ChatRole::kAssistant;
    prev_non_tool = &m;
    if (!continues) out += std::string("<|turn>") + role_name(m.role) + "\n";

    if (!m.reasoning.empty() && (last_user == SIZE_MAX || i > last_user) && !m.tool_calls.empty())
      out += "<|channel>thought\n" + m.reasoning + "\n<channel|>";

    for (const ToolCall& call : m.tool_calls) {
      if (call.name.empty()) refuse("message " + std::to_string(i) + ": a tool call has no name");
      out += "<|tool_call>call:" + call.name + "{";
      if (call.arguments.is_object()) {
        bool first_arg = true;
        for (const auto& [key, value] : dictsort(call.arguments)) {
          if (!first_arg) out += ',';
          first_arg = false;
          out += key + ":";
          format_argument(*value, false, out);
        }
      } else if (call.arguments.is_string()) {
        out += call.arguments.get<std::string>();
      } else if (!call.arguments.is_null()) {
        refuse("tool call " + call.name + ": arguments must be a JSON object or a string");
      }
      out += "}<tool_call|>";
    }
    if (!m.tool_calls.empty()) prev = Prev::kToolCall;

    bool responded = false;
    if (!m.tool_calls.empty()) {
      for (size_t k = i + 1; k < all.size() && all[k].role == ChatRole::kTool; ++k) {
        const ChatMessage& result = all[k];
        std::string name = result.name.empty() ? "unknown" : result.name;
        bool matched = false;
        for (const ToolCall& call : m.tool_calls)  // the last call with the same id (both absent counts)
          if (call.id == result.tool_call_id) {
            name = call.name;
            matched = true;
          }
        if (!matched && result.name.empty())
          refuse("message " + std::to_string(k) + ": tool result has no name and matches no tool call id");
        tool_response_block(name, result, out);
        responded = true;
        prev = Prev::kToolResponse;
      }
    }

    if (m.use_parts) {
      for (const ContentPart& p : m.parts) {
        switch (p.kind) {
          case ContentPartKind::kText: out += is_model ? strip_thinking(p.text) : trim(p.text); break;
          case ContentPartKind::kImage: out += "<|image|>"; prev = Prev::kMedia; break;
          case ContentPartKind::kAudio: out += "<|audio|>"; prev = Prev::kMedia; break;
          case ContentPartKind::kVideo: out += "<|video|>"; prev = Prev::kMedia; break;
        }
      }
    } else {
      out += is_model ? strip_thinking(m.text) : trim(m.text);
    }

    if (prev == Prev::kToolCall && !responded) out += "<|tool_response>";
    else if (!(responded && !has_content(m))) out += "<turn|>\n";
  }

  if (options.add_generation_prompt && prev != Prev::kToolResponse && prev != Prev::kToolCall) {
    out += "<|turn>model\n";
    if (!options.enable_thinking) out += "<|channel>thought\n<channel|>";
  }
  return out;
}

namespace {

ChatRole parse_role(const json& role, size_t i) {
  const std::string where = "messages[" + std::to_string(i) + "]";
  if (!role.is_string()) refuse(where + ": \"role\" must be a string");
  const std::string r = role.get<std::string>();
  if (r == "system") return ChatRole::kSystem;
  if (r == "developer") return ChatRole::kDeveloper;
  if (r == "user") return ChatRole::kUser;
  if (r == "assistant") return ChatRole::kAssistant;
  if (r == "tool") return ChatRole::kTool;
  refuse(where + ": unknown role \"" + r + "\" (expected system, developer, user, assistant or tool)");
}

std::string optional_string(const json& object, const char* key, const std::string& where) {
  const json* v = get(object, key);
  if (v == nullptr || v->is_null()) return {};
  if (!v->is_string()) refuse(where + ": \"" + key + "\" must be a string");
  return v->get<std::string>();
}

}  // namespace

Conversation conversation_from_json(const json& messages, const json& tools) {
  Conversation c;
  if (!messages.is_array()) refuse("\"messages\" must be an array");
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& j = messages[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!j.is_object()) refuse(where + " must be an object");
    ChatMessage m;
    m.role = parse_role(j.value("role", json()), i);
    const json* content = get(j, "content");
    if (content == nullptr || content->is_null()) {
    } else if (content->is_string()) {
      m.text = content->get<std::string>();
    } else if (content->is_array()) {
      m.use_parts = true;
      for (const json& part : *content) {
        const std::string type = optional_string(part, "type", where + ".content");
        ContentPart p;
        if (type == "text") {
          p.text = optional_string(part, "text", where + ".content");
        } else if (type == "image" || type == "image_url") {
          p.kind = ContentPartKind::kImage;
        } else if (type == "audio" || type == "input_audio") {
          p.kind = ContentPartKind::kAudio;
        } else if (type == "video") {
          p.kind = ContentPartKind::kVideo;
        } else {
          refuse(where + ": unknown content part type \"" + type + "\"");
        }
        m.parts.push_back(std::move(p));
      }
    } else if (content->is_object() && m.role == ChatRole::kTool) {
      m.object_result = *content;
    } else {
      refuse(where + ": \"content\" must be a string or an array of parts");
    }
    m.reasoning = optional_string(j, "reasoning", where);
    if (m.reasoning.empty()) m.reasoning = optional_string(j, "reasoning_content", where);
    m.tool_call_id = optional_string(j, "tool_call_id", where);
    m.name = optional_string(j, "name", where);
    if (const json* calls = get(j, "tool_calls"); calls != nullptr && !calls->is_null()) {
      if (!calls->is_array()) refuse(where + ": \"tool_calls\" must be an array");
      for (const json& tc : *calls) {
        ToolCall call;
        call.id = optional_string(tc, "id", where + ".tool_calls");
        const json* f = get(tc, "function");
        if (f == nullptr || !f->is_object()) refuse(where + ": a tool call has no \"function\"");
        call.name = optional_string(*f, "name", where + ".tool_calls");
        if (const json* args = get(*f, "arguments"); args != nullptr) call.arguments = *args;
        m.tool_calls.push_back(std::move(call));
      }
    }
    c.messages.push_back(std::move(m));
  }
  if (!tools.is_null()) {
    if (!tools.is_array()) refuse("\"tools\" must be an array");
    for (const json& t : tools) c.tools.push_back(t);
  }
  return c;
}

}  // namespace locus::text
