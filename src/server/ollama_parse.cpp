// Ollama native request bodies (api-compat.md §2.2–2.4).
#include "server/api_parse.h"
#include "server/parse_common.h"

namespace locus::server {

namespace {

void require_object_body(const OrderedJson& body) {
  if (!body.is_object()) fail_field("request body", "a JSON object", &body);
}

// Ollama's `images` of one message (or of a generate request): base64 strings, each becoming a media part of
// message `message_index` (or of the raw prompt when message_index is kInPrompt).
void add_images(const OrderedJson& images, const std::string& path, size_t message_index, text::ChatMessage* message,
                std::vector<MediaInput>& media) {
  if (!images.is_array()) fail_field(path, "an array of base64 strings", &images);
  for (size_t i = 0; i < images.size(); ++i) {
    MediaInput in;
    in.bytes = decode_media_base64(images[i], index_path(path, i));
    in.kind = sniff_media_kind(in.bytes);
    in.message = message_index;
    if (message != nullptr) {
      in.part = message->parts.size();
      text::ContentPart part;
      part.kind = in.kind;
      message->parts.push_back(std::move(part));
    }
    media.push_back(std::move(in));
  }
}

// Media first, then the text: a message's images come before its words, which is where Ollama's templates put
// them when the text does not place them.
text::ChatMessage parse_message(const OrderedJson& j, size_t index, std::vector<MediaInput>& media) {
  const std::string path = index_path("messages", index);
  if (!j.is_object()) fail_field(path, "a message object", &j);
  text::ChatMessage m;
  m.role = parse_role(find_field(j, "role"), field_path(path, "role"));
  const std::string content = read_string(j, "content", path).value_or("");
  if (const OrderedJson* images = find_field(j, "images"); images != nullptr && !images->empty()) {
    m.use_parts = true;
    add_images(*images, field_path(path, "images"), index, &m, media);
    if (!content.empty()) {
      text::ContentPart part;
      part.text = content;
      m.parts.push_back(std::move(part));
    }
  } else {
    m.text = content;
  }
  m.reasoning = read_string(j, "thinking", path).value_or("");
  m.name = read_string(j, "tool_name", path).value_or("");
  m.tool_call_id = read_string(j, "tool_call_id", path).value_or("");
  // Ollama's arguments are a JSON object (a string is the OpenAI form, which Ollama refuses here too).
  m.tool_calls = read_tool_calls(j, path, [](const OrderedJson* args, const std::string& at) {
    return args == nullptr ? nlohmann::json::object() : arguments_object(*args, at);
  });
  return m;
}

}  // namespace

ParseResult parse_ollama_chat(const OrderedJson& body) {
  return parse_guarded([&](ApiRequest& r) {
    require_object_body(body);
    r.api = Api::kOllamaChat;
    r.model = read_model(body);
    if (const OrderedJson* messages = find_field(body, "messages")) {
      if (!messages->is_array()) fail_field("messages", "an array of messages", messages);
      for (size_t i = 0; i < messages->size(); ++i) {
        r.conversation.messages.push_back(parse_message((*messages)[i], i, r.media));
      }
    }
    r.load_only = r.conversation.messages.empty();
    if (const OrderedJson* tools = find_field(body, "tools")) r.conversation.tools = parse_tools(*tools, "tools");
    parse_ollama_common(body, r);
  });
}

ParseResult parse_ollama_generate(const OrderedJson& body) {
  return parse_guarded([&](ApiRequest& r) {
    require_object_body(body);
    r.api = Api::kOllamaGenerate;
    r.model = read_model(body);
    r.prompt = read_string(body, "prompt", "").value_or("");
    r.suffix = read_string(body, "suffix", "").value_or("");
    r.system = read_string(body, "system", "").value_or("");
    r.template_override = read_string(body, "template", "").value_or("");
    r.raw = read_bool(body, "raw", "").value_or(false);
    r.load_only = r.prompt.empty();  // Ollama answers an empty prompt with done_reason "load" (or "unload")
    if (const OrderedJson* ctx = find_field(body, "context")) {
      if (!ctx->is_array()) fail_field("context", "an array of token ids", ctx);
      for (size_t i = 0; i < ctx->size(); ++i) {
        const OrderedJson& t = (*ctx)[i];
        if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX) {
          fail_field(index_path("context", i), "a token id (a non-negative integer)", &t);
        }
        r.context.push_back(static_cast<int32_t>(t.get<int64_t>()));
      }
    }
    const OrderedJson* images = find_field(body, "images");
    if (r.raw) {
      if (images != nullptr) add_images(*images, "images", MediaInput::kInPrompt, nullptr, r.media);
    } else if (!r.load_only) {
      // Templated like a one-turn chat: [system], user(images + prompt).
      if (!r.system.empty()) {
        text::ChatMessage sys;
        sys.role = text::ChatRole::kSystem;
        sys.text = r.system;
        r.conversation.messages.push_back(std::move(sys));
      }
      text::ChatMessage user;
      user.role = text::ChatRole::kUser;
      if (images != nullptr && !images->empty()) {
        user.use_parts = true;
        add_images(*images, "images", r.conversation.messages.size(), &user, r.media);
        text::ContentPart part;
        part.text = r.prompt;
        user.parts.push_back(std::move(part));
      } else {
        user.text = r.prompt;
      }
      r.conversation.messages.push_back(std::move(user));
    } else if (images != nullptr) {
      add_images(*images, "images", MediaInput::kInPrompt, nullptr, r.media);  // validated, unused
    }
    parse_ollama_common(body, r);
  });
}

}  // namespace locus::server
