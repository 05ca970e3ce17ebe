// Chat-format parity: renders generated conversations with locus (text/chat_renderer.h) and with the GGUF's
// own Jinja template through the oracle (tools/oracle/oracle.mjs render, @huggingface/jinja), and compares the
// texts byte for byte and their tokens (locus's tokenizer against llama.cpp's, special tokens parsed).
//
// The generator (fixed seed) covers every feature of the template: system/developer turns, thinking on/off,
// generation prompt on/off, tool declarations (nested objects, arrays with item schemas, enums, nullable,
// required, sorted keys, response declarations), tool calls with object and string arguments, tool results as
// text, parts or objects, pending and unanswered calls, reasoning before and after the last user message,
// channel blocks in assistant text, consecutive assistant messages and media parts. It avoids what the two
// renderers spell differently for reasons outside the format (see src/text/README.md): null values,
// whole-number floats, keys equal but for case, and Unicode whitespace at the ends of trimmed text; nor does it
// give an array's items a list of types, which @huggingface/jinja cannot render (no `map('upper')`).
//
// usage: chat_template_parity MODEL.gguf NODE ORACLE_MJS WORKDIR [COUNT]
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "text/chat_renderer.h"
#include "text/tokenizer.h"

namespace {

using nlohmann::json;

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}
  int range(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  template <class T> const T& pick(const std::vector<T>& v) { return v[static_cast<size_t>(range(0, static_cast<int>(v.size()) - 1))]; }

  std::string text() {
    static const std::vector<std::string> words = {
        "Hello", "weather", "Paris", "naïve", "東京", "emoji 🎉", "{braces}", "a:b", "\"quoted\"", "new\nline",
        "tab\tbed", "x<y", "1.5", "[list]", "don't", "C++", "<b>bold</b>", "ünïcödé", "  ", "end."};
    std::string s;
    const int n = range(1, 6);
    for (int i = 0; i < n; ++i) s += (i ? " " : "") + pick(words);
    if (chance(0.2)) s = "  " + s;
    if (chance(0.2)) s += "\n\n";
    return s;
  }

  std::string key() {
    static const std::vector<std::string> keys = {"city", "unit", "count", "Query", "max_results", "items_",
                                                  "zeta", "alpha", "B", "flag", "path", "nested", "id2"};
    return pick(keys);
  }

  json value(int depth) {
    switch (range(0, depth > 2 ? 3 : 5)) {
      case 0: return text();
      case 1: return range(-1000, 100000);
      case 2: return range(0, 3) + 0.25 * range(1, 3);  // never a whole number
      case 3: return chance(0.5);
      case 4: {
        json a = json::array();
        for (int i = range(0, 3); i > 0; --i) a.push_back(value(depth + 1));
        return a;
      }
      default: return object(depth + 1);
    }
  }

  json object(int depth) {
    json o = json::object();
    for (int i = range(0, 4); i > 0; --i) o[key()] = value(depth);
    return o;
  }

  json schema(int depth, bool allow_object = true) {
    json s = json::object();
    if (chance(0.6)) s["description"] = text();
    static const std::vector<std::string> types = {"string", "integer", "number", "boolean", "array", "object"};
    std::string type = pick(types);
    if (!allow_object && (type == "object" || type == "array")) type = "string";
    if (depth > 2 && (type == "object" || type == "array")) type = "integer";
    s["type"] = chance(0.1) ? std::string(1, static_cast<char>(type[0] - 32)) + type.substr(1) : type;
    if (type == "string" && chance(0.4)) s["enum"] = json::array({"c", "f", text()});
    if (chance(0.2)) s["nullable"] = true;
    if (type == "array" && chance(0.8)) {
      json items = json::object();
      const int kind = range(0, 2);
      if (kind == 0) {
        items["type"] = "string";
        if (chance(0.5)) items["enum"] = json::array({"x", "y"});
      } else if (kind == 1) {
        items["type"] = "object";
        json props = json::object();
        for (int i = range(1, 3); i > 0; --i) props[key()] = schema(depth + 1);
        items["properties"] = props;
        items["required"] = json::array({props.begin().key()});
      } else {
        items["type"] = "integer";  // a list of types needs map('upper'), which @huggingface/jinja lacks
        items["description"] = text();
      }
      s["items"] = items;
    }
    if (type == "object" && chance(0.85)) {
      json props = json::object();
      for (int i = range(1, 3); i > 0; --i) props[key()] = schema(depth + 1);
      s["properties"] = props;
      if (chance(0.6)) s["required"] = json::array({props.begin().key()});
    }
    return s;
  }

  json tool(int index) {
    json f = {{"name", "tool_" + std::to_string(index) + (chance(0.5) ? "_lookup" : "")}};
    if (chance(0.9)) f["description"] = text();
    if (chance(0.85)) {
      json props = json::object();
      for (int i = range(0, 4); i > 0; --i) props[key()] = schema(1);
      json params = {{"type", "object"}};
      if (!props.empty()) params["properties"] = props;
      if (!props.empty() && chance(0.7)) params["required"] = json::array({props.begin().key()});
      f["parameters"] = params;
    }
    if (chance(0.1)) f["response"] = {{"description", text()}, {"type", "object"}};
    return {{"type", "function"}, {"function", f}};
  }

  json user_content() {
    if (!chance(0.3)) return text();
    json parts = json::array();
    for (int i = range(1, 4); i > 0; --i) {
      switch (range(0, 3)) {
        case 0: parts.push_back({{"type", "image"}}); break;
        case 1: parts.push_back({{"type", "audio"}}); break;
        case 2: parts.push_back({{"type", "video"}}); break;
        default: parts.push_back({{"type", "text"}, {"text", text()}});
      }
    }
    return parts;
  }

  std::string assistant_text() {
    std::string s = text();
    if (chance(0.2)) s = "<|channel>thought\n" + text() + "<channel|>" + s;
    if (chance(0.1)) s += "<|channel>unclosed " + text();
    return s;
  }

  // Appends an assistant step: maybe tool calls (with results) and maybe text.
  void assistant(json& messages, const std::vector<std::string>& tool_names, bool last) {
    json m = {{"role", "assistant"}};
    if (chance(0.5)) m[chance(0.5) ? "reasoning" : "reasoning_content"] = text();
    const bool calls = !tool_names.empty() && chance(0.6);
    if (calls) {
      json list = json::array();
      for (int i = range(1, 3); i > 0; --i) {
        json call = {{"type", "function"}};
        if (chance(0.6)) call["id"] = "call_" + std::to_string(range(0, 9));
        json args = chance(0.1) ? json(std::string("raw:<|\"|>text<|\"|>")) : object(0);
        call["function"] = {{"name", pick(tool_names)}, {"arguments", args}};
        list.push_back(call);
      }
      m["tool_calls"] = list;
    }
    if (!calls || chance(0.3)) m["content"] = chance(0.15) ? json(json::array({{{"type", "text"}, {"text", assistant_text()}}})) : json(assistant_text());
    messages.push_back(m);
    if (!calls || (last && chance(0.2))) return;  // an unanswered call
    for (const json& call : m["tool_calls"]) {
      json r = {{"role", "tool"}};
      if (call.contains("id") && chance(0.8)) r["tool_call_id"] = call["id"];
      if (!r.contains("tool_call_id") || chance(0.3)) r["name"] = call["function"]["name"];
      const int kind = range(0, 5);
      if (kind == 0) r["content"] = object(0);
      else if (kind == 1) r["content"] = json::array({{{"type", "text"}, {"text", text()}}, {{"type", "text"}, {"text", text()}}});
      else r["content"] = text();
      messages.push_back(r);
    }
    if (chance(0.4)) messages.push_back({{"role", "assistant"}, {"content", assistant_text()}});
  }

  json conversation() {
    json c = json::object();
    json tools = json::array();
    std::vector<std::string> names;
    if (chance(0.6)) {
      for (int i = range(1, 3); i > 0; --i) {
        tools.push_back(tool(static_cast<int>(tools.size())));
        names.push_back(tools.back()["function"]["name"]);
      }
    }
    json messages = json::array();
    if (chance(0.5)) messages.push_back({{"role", chance(0.7) ? "system" : "developer"}, {"content", text()}});
    const int turns = range(1, 4);
    for (int t = 0; t < turns; ++t) {
      if (t > 0 && chance(0.1)) messages.push_back({{"role", "system"}, {"content", text()}});
      messages.push_back({{"role", "user"}, {"content", user_content()}});
      const bool last = t == turns - 1;
      if (!last || chance(0.6)) {
        for (int steps = range(1, 2); steps > 0; --steps) assistant(messages, names, last);
      }
    }
    c["messages"] = messages;
    if (!tools.empty() || chance(0.5)) c["tools"] = tools;
    c["add_generation_prompt"] = chance(0.8);
    c["enable_thinking"] = chance(0.5);
    return c;
  }

 private:
  std::mt19937_64 rng_;
};

// The template renders an object tool result only from the legacy `tool_responses` list on the assistant
// message (for a role "tool" message it would iterate the object as content parts), so the oracle's context
// carries those results there; the template then skips the role "tool" messages.
json template_context(const json& c) {
  json out = c;
  json& messages = out["messages"];
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i]["role"] != "assistant" || !messages[i].contains("tool_calls")) continue;
    bool any_object = false;
    size_t k = i + 1;
    for (; k < messages.size() && messages[k]["role"] == "tool"; ++k) any_object |= messages[k]["content"].is_object();
    if (!any_object) continue;
    json responses = json::array();
    for (size_t j = i + 1; j < k; ++j) {
      const json& r = messages[j];
      std::string name = r.value("name", std::string("unknown"));
      for (const json& call : messages[i]["tool_calls"])
        if (call.value("id", std::string()) == r.value("tool_call_id", std::string())) name = call["function"]["name"];
      json body = r["content"];
      if (body.is_array()) {
        std::string s;
        for (const json& p : body) s += p.value("text", std::string());
        body = s;
      }
      responses.push_back({{"name", name}, {"response", body}});
    }
    messages[i]["tool_responses"] = responses;
  }
  return out;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string snippet(const std::string& s, size_t at) {
  const size_t from = at > 40 ? at - 40 : 0;
  return json(s.substr(from, 80)).dump();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: chat_template_parity MODEL.gguf NODE ORACLE_MJS WORKDIR [COUNT]\n";
    return 2;
  }
  const std::string model = argv[1], node = argv[2], oracle = argv[3], work = argv[4];
  const int count = argc > 5 ? std::atoi(argv[5]) : 300;

  Gen gen(20260405);
  json contexts = json::array(), conversations = json::array();
  for (int i = 0; i < count; ++i) {
    conversations.push_back(gen.conversation());
    contexts.push_back(template_context(conversations.back()));
  }
  {
    std::ofstream out(work + "/contexts.json", std::ios::binary);
    out << contexts.dump();
  }
  const std::string cmd = shell_quote(node) + " " + shell_quote(oracle) + " render --model " + shell_quote(model) +
                          " --json-input " + shell_quote(work + "/contexts.json") + " > " +
                          shell_quote(work + "/rendered.json");
  if (std::system(cmd.c_str()) != 0) {
    std::cerr << "oracle failed: " << cmd << "\n";
    return 1;
  }
  json rendered;
  {
    std::ifstream in(work + "/rendered.json", std::ios::binary);
    rendered = json::parse(in);
  }
  const json& items = rendered["items"];
  const auto tokenizer = locus::text::Tokenizer::from_gguf(locus::gguf::GgufFile::open(model));

  int same_text = 0, same_tokens = 0, failures = 0;
  for (int i = 0; i < count; ++i) {
    const json& c = conversations[static_cast<size_t>(i)];
    const json& item = items[static_cast<size_t>(i)];
    auto fail = [&](const std::string& what) {
      if (failures++ < 20) {
        std::cerr << "conversation #" << i << ": " << what << "\n  context: " << contexts[static_cast<size_t>(i)].dump() << "\n";
      }
    };
    if (item.contains("error")) {
      fail("the oracle could not render it: " + item["error"].get<std::string>());
      continue;
    }
    std::string text;
    try {
      locus::text::RenderOptions options;
      options.bos_token = rendered["bos_token"];
      options.add_generation_prompt = c["add_generation_prompt"];
      options.enable_thinking = c["enable_thinking"];
      text = locus::text::render_gemma4_prompt(
          locus::text::conversation_from_json(c["messages"], c.value("tools", json())), options);
    } catch (const std::exception& e) {
      fail(std::string("locus refused it: ") + e.what());
      continue;
    }
    const std::string want = item["text"];
    if (text != want) {
      size_t at = 0;
      while (at < text.size() && at < want.size() && text[at] == want[at]) ++at;
      fail("texts differ at byte " + std::to_string(at) + "\n  locus:  " + snippet(text, at) +
           "\n  oracle: " + snippet(want, at));
      continue;
    }
    ++same_text;
    if (tokenizer.encode(text, false, true) != item["tokens"].get<std::vector<int32_t>>()) {
      fail("same text, different tokens");
      continue;
    }
    ++same_tokens;
  }
  std::printf("chat template parity: %d conversations, %d identical texts, %d identical token lists (oracle: %s)\n",
              count, same_text, same_tokens, rendered.value("renderer", std::string("?")).c_str());
  return failures == 0 ? 0 : 1;
}
