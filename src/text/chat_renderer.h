// Renders a conversation into Gemma 4's prompt text (gemma4.md §7), byte for byte what the GGUF's Jinja
// template (google-gemma-4-31B-it.jinja) produces, without a Jinja engine. See README.md ("Chat renderer").
//
// Input the template cannot express (it would drop it silently, print a Python repr or fail) is refused with
// a std::invalid_argument carrying a one-line message: an empty conversation, a tool result that follows no
// assistant tool call, a schema property named like a schema keyword, a property without a string type, ...
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace locus::text {

enum class ChatRole { kSystem, kDeveloper, kUser, kAssistant, kTool };

enum class ContentPartKind { kText, kImage, kAudio, kVideo };

// One piece of a message's content; media parts become <|image|>, <|audio|>, <|video|>.
struct ContentPart {
  ContentPartKind kind = ContentPartKind::kText;
  std::string text;  // kText only
};

struct ToolCall {
  std::string id;             // optional; matched against a tool result's tool_call_id
  std::string name;
  nlohmann::json arguments;   // a JSON object (rendered with sorted bare keys) or a string (copied as is)
};

struct ChatMessage {
  ChatRole role = ChatRole::kUser;
  // Content is either text or parts (use_parts). Empty text and no parts are the same: no content.
  std::string text;
  std::vector<ContentPart> parts;
  bool use_parts = false;
  // Tool results only: a JSON object result (rendered response:NAME{k:v,...}); null means text/parts.
  nlohmann::json object_result;
  std::string reasoning;                // assistant; kept only where gemma4.md §7.1 says
  std::vector<ToolCall> tool_calls;     // assistant
  std::string tool_call_id;             // tool results
  std::string name;                     // tool results: the function's name (else found by tool_call_id)
};

struct Conversation {
  std::vector<ChatMessage> messages;
  // OpenAI-style declarations: {"type":"function","function":{"name","description","parameters":schema}}.
  std::vector<nlohmann::json> tools;
};

struct RenderOptions {
  std::string bos_token = "<bos>";
  bool add_generation_prompt = true;
  bool enable_thinking = false;
};

// The prompt text, ready for the tokenizer with special tokens parsed.
std::string render_gemma4_prompt(const Conversation& conversation, const RenderOptions& options);

// An OpenAI-style chat request body's "messages" (and optionally "tools") into a Conversation: role, content
// as a string or [{type: text|image|image_url|audio|input_audio|video, ...}], reasoning or reasoning_content,
// tool_calls [{id, function: {name, arguments}}], tool_call_id, name. A tool message's content may be a JSON
// object. Throws std::invalid_argument for anything else.
Conversation conversation_from_json(const nlohmann::json& messages, const nlohmann::json& tools = nullptr);

}  // namespace locus::text
