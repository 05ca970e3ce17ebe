// OpenAI-compatible request bodies (api-compat.md §2.7), mapped the way Ollama's compatibility layer maps them.
#include <algorithm>
#include <cctype>

#include "server/client_json.h"
#include "server/data_uri.h"
#include "server/api_parse.h"
#include "server/ollama_options.h"
#include "server/parse_common.h"

namespace locus::server {

namespace {

void require_object_body(const OrderedJson& body) {
  if (!body.is_object()) fail_field("request body", "a JSON object", &body);
}

// A media URL: a data: URI's bytes and declared type, or an http(s) URL kept for the HTTP side (which fetches
// it when the server allows fetching and refuses the request otherwise). file: and anything else are refused:
// a request never makes the server read a file.
MediaInput media_from_url(const OrderedJson& url, const std::string& path) {
  if (!url.is_string()) fail_field(path, "a data: URI string", &url);
  const std::string& s = url.get_ref<const std::string&>();
  MediaInput in;
  switch (classify_media_url(s)) {
    case MediaUrlKind::kData: {
      DataUriResult d = parse_data_uri(s);
      if (!d.uri) throw FieldError(path, path + ": " + d.error);
      in.mime = std::move(d.uri->mime);
      in.bytes = std::move(d.uri->bytes);
      return in;
    }
    case MediaUrlKind::kRemote:
      in.url = s;
      in.param = path;
      return in;
    case MediaUrlKind::kFile:
      throw FieldError(path, path + ": expected a data: URI with the bytes in base64, found a file: URL (a request "
                                    "never makes the server read a file)");
    case MediaUrlKind::kOther:
      break;
  }
  fail_field(path, "a data: URI (data:<type>;base64,<data>) or an http(s) URL", &url);
}

// input_audio.data / input_video.data: bare base64 (OpenAI's form), or a data: URI (llama-server takes one).
MediaInput media_from_data(const OrderedJson& data, const std::string& path) {
  if (data.is_string() && classify_media_url(data.get_ref<const std::string&>()) == MediaUrlKind::kData) {
    return media_from_url(data, path);
  }
  MediaInput in;
  in.bytes = decode_media_base64(data, path);
  return in;
}

// OpenAI `detail`: low and high are fixed budgets, auto (or none) leaves the request's or server's.
std::optional<int32_t> read_detail(const OrderedJson& image_url, const std::string& path) {
  const OrderedJson* d = find_field(image_url, "detail");
  if (d == nullptr) return std::nullopt;
  if (d->is_string()) {
    const std::string& s = d->get_ref<const std::string&>();
    if (s == "auto") return std::nullopt;
    if (s == "low") return kDetailLowTokens;
    if (s == "high") return kDetailHighTokens;
  }
  fail_field(field_path(path, "detail"), "\"auto\", \"low\" or \"high\"", d);
}

// {"url": ...} or, as some clients send it, the URL string itself (image_url, video_url).
MediaInput media_from_url_part(const OrderedJson& part, const std::string& key, const std::string& path) {
  const OrderedJson* u = find_field(part, key);
  const std::string up = field_path(path, key);
  if (u != nullptr && u->is_string()) return media_from_url(*u, up);
  if (u == nullptr || !u->is_object()) fail_field(up, "an object {\"url\"}", u);
  const OrderedJson* url = find_field(*u, "url");
  if (url == nullptr) fail_field(field_path(up, "url"), "a data: URI string", nullptr);
  MediaInput in = media_from_url(*url, field_path(up, "url"));
  if (key == "image_url") in.max_tokens = read_detail(*u, up);
  return in;
}

// input_audio's `format` is only what the client says (the bytes decide): a short name such as "wav", "mp3",
// "flac", "ogg", "m4a" or "webm", kept as the type "audio/<format>".
std::string audio_format(const OrderedJson& a, const std::string& path) {
  const OrderedJson* f = find_field(a, "format");
  if (f == nullptr) return "";
  const std::string fp = field_path(path, "format");
  if (!f->is_string()) fail_field(fp, "a format name such as \"wav\" or \"mp3\"", f);
  std::string s = f->get<std::string>();
  const bool ok = !s.empty() && s.size() <= 16 &&
                  std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '.'; });
  if (!ok) fail_field(fp, "a format name such as \"wav\" or \"mp3\"", f);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

text::ContentPart parse_part(const OrderedJson& part, const std::string& path, MediaInput& media, bool& is_media) {
  if (!part.is_object()) fail_field(path, "a content part object", &part);
  const std::string type = read_string(part, "type", path).value_or("");
  text::ContentPart p;
  is_media = false;
  if (type == "text") {
    const auto t = read_string(part, "text", path);
    if (!t) fail_field(field_path(path, "text"), "a string", nullptr);
    p.text = *t;
    return p;
  }
  is_media = true;
  if (type == "image_url") {
    media = media_from_url_part(part, "image_url", path);
    media.kind = p.kind = text::ContentPartKind::kImage;
    return p;
  }
  if (type == "input_audio") {
    const OrderedJson* a = find_field(part, "input_audio");
    const std::string ap = field_path(path, "input_audio");
    if (a == nullptr || !a->is_object()) fail_field(ap, "an object {\"data\", \"format\"}", a);
    const std::string format = audio_format(*a, ap);
    if (const OrderedJson* data = find_field(*a, "data")) {
      media = media_from_data(*data, field_path(ap, "data"));
    } else if (const OrderedJson* url = find_field(*a, "url")) {
      media = media_from_url(*url, field_path(ap, "url"));
    } else {
      fail_field(field_path(ap, "data"), "a base64 string", nullptr);
    }
    if (media.mime.empty() && !format.empty()) media.mime = "audio/" + format;
    media.kind = p.kind = text::ContentPartKind::kAudio;
    return p;
  }
  if (type == "video_url") {
    media = media_from_url_part(part, "video_url", path);
    media.kind = p.kind = text::ContentPartKind::kVideo;
    return p;
  }
  if (type == "input_video") {
    const OrderedJson* v = find_field(part, "input_video");
    const std::string vp = field_path(path, "input_video");
    if (v != nullptr && v->is_string()) {
      media = media_from_url(*v, vp);
    } else {
      if (v == nullptr || !v->is_object()) fail_field(vp, "an object {\"data\"} or {\"url\"}", v);
      if (const OrderedJson* data = find_field(*v, "data")) {
        media = media_from_data(*data, field_path(vp, "data"));
      } else if (const OrderedJson* url = find_field(*v, "url")) {
        media = media_from_url(*url, field_path(vp, "url"));
      } else {
        fail_field(vp, "an object {\"data\"} or {\"url\"}", v);
      }
    }
    media.kind = p.kind = text::ContentPartKind::kVideo;
    return p;
  }
  fail_field(field_path(path, "type"),
             "\"text\", \"image_url\", \"input_audio\", \"video_url\" or \"input_video\"", find_field(part, "type"));
}

// OpenAI's arguments are a JSON-encoded string; an empty string means no arguments.
nlohmann::json decode_arguments(const OrderedJson* args, const std::string& path) {
  if (args == nullptr) return nlohmann::json::object();
  if (args->is_object()) return nlohmann::json(*args);  // lenient: the Ollama form
  if (!args->is_string()) fail_field(path, "a JSON-encoded object string", args);
  const std::string& s = args->get_ref<const std::string&>();
  if (s.empty()) return nlohmann::json::object();
  const OrderedJson parsed = parse_client_json(s).value;  // discarded when too deep, too
  if (parsed.is_discarded() || !parsed.is_object()) {
    fail_field(path, "a string holding a JSON object", args);
  }
  return nlohmann::json(parsed);
}

text::ChatMessage parse_message(const OrderedJson& j, size_t index, std::vector<MediaInput>& media) {
  const std::string path = index_path("messages", index);
  if (!j.is_object()) fail_field(path, "a message object", &j);
  text::ChatMessage m;
  m.role = parse_role(find_field(j, "role"), field_path(path, "role"));
  if (const OrderedJson* content = find_field(j, "content")) {
    const std::string cp = field_path(path, "content");
    if (content->is_string()) {
      m.text = content->get<std::string>();
    } else if (content->is_array()) {
      m.use_parts = true;
      for (size_t i = 0; i < content->size(); ++i) {
        MediaInput in;
        bool is_media = false;
        text::ContentPart p = parse_part((*content)[i], index_path(cp, i), in, is_media);
        if (is_media) {
          in.message = index;
          in.part = m.parts.size();
          media.push_back(std::move(in));
        }
        m.parts.push_back(std::move(p));
      }
    } else {
      fail_field(cp, "a string or an array of content parts", content);
    }
  }
  m.reasoning = read_string(j, "reasoning", path).value_or("");
  if (m.reasoning.empty()) m.reasoning = read_string(j, "reasoning_content", path).value_or("");
  m.tool_call_id = read_string(j, "tool_call_id", path).value_or("");
  if (m.role == text::ChatRole::kTool) m.name = read_string(j, "name", path).value_or("");
  m.tool_calls = read_tool_calls(j, path, decode_arguments);
  return m;
}

// OpenAI's reasoning_effort onto Gemma's on/off thinking; the level is kept as sent.
Think parse_effort(const OrderedJson& v, const std::string& path) {
  static constexpr const char* kEfforts[] = {"minimal", "low", "medium", "high", "xhigh", "max", "ultra"};
  Think t;
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s == "none") {
      t.mode = Think::Mode::kOff;
      return t;
    }
    for (const char* e : kEfforts) {
      if (s == e) {
        t.mode = Think::Mode::kOn;
        t.level = s;
        return t;
      }
    }
  }
  fail_field(path, "\"none\", \"minimal\", \"low\", \"medium\", \"high\", \"xhigh\" or \"max\"", &v);
}

// The sampling fields both OpenAI endpoints share, on top of Ollama's defaults. Ollama's compatibility layer
// sends temperature and top_p 1.0 when the client leaves them out (OpenAI's own defaults).
void parse_openai_sampling(const OrderedJson& body, ApiRequest& r) {
  runtime::SamplingOptions& o = r.options;
  o.temperature = static_cast<float>(read_number(body, "temperature", "").value_or(1.0));
  o.top_p = static_cast<float>(read_number(body, "top_p", "").value_or(1.0));
  if (auto v = read_number(body, "presence_penalty", "")) o.presence_penalty = static_cast<float>(*v);
  if (auto v = read_number(body, "frequency_penalty", "")) o.frequency_penalty = static_cast<float>(*v);
  if (auto v = read_int(body, "seed", "")) o.seed = *v;
  // max_completion_tokens replaced max_tokens; when both are sent the newer one wins.
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (auto v = read_int(body, key, "")) {
      if (*v < 1 || *v > INT32_MAX) fail_field(key, "a positive integer", find_field(body, key));
      o.num_predict = static_cast<int32_t>(*v);
    }
  }
  if (const OrderedJson* stop = find_field(body, "stop")) o.stop = read_stop_list(*stop, "stop", true);
  check_sampling(o, "");

  for (const char* key : {"n", "best_of"}) {
    if (auto n = read_int(body, key, ""); n && *n != 1) {
      fail_field(key, "1 (several choices per request are not supported)", find_field(body, key));
    }
  }
  if (const OrderedJson* bias = find_field(body, "logit_bias")) {
    if (!bias->is_object()) fail_field("logit_bias", "an object", bias);
    if (!bias->empty()) {
      throw FieldError("logit_bias", "logit_bias: expected an empty object (logit_bias is not supported), found " +
                                         std::to_string(bias->size()) + " token bias(es)");
    }
  }
  r.stream = read_bool(body, "stream", "").value_or(false);
  if (const OrderedJson* so = find_field(body, "stream_options")) {
    if (!so->is_object()) fail_field("stream_options", "an object", so);
    r.include_usage = read_bool(*so, "include_usage", "stream_options").value_or(false);
  }
}

ToolChoice parse_tool_choice(const OrderedJson& v, const std::vector<nlohmann::json>& tools) {
  constexpr std::string_view kExpected =
      "\"none\", \"auto\", \"required\" or {\"type\":\"function\",\"function\":{\"name\"}}";
  ToolChoice c;
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s == "auto") return c;
    if (s == "none") c.kind = ToolChoice::Kind::kNone;
    else if (s == "required") c.kind = ToolChoice::Kind::kRequired;
    else fail_field("tool_choice", kExpected, &v);
  } else if (v.is_object()) {
    const OrderedJson* f = find_field(v, "function");
    if (f == nullptr || !f->is_object()) fail_field("tool_choice.function", "an object {\"name\"}", f);
    c.kind = ToolChoice::Kind::kNamed;
    c.name = read_string(*f, "name", "tool_choice.function").value_or("");
    std::string names;
    bool declared = false;
    for (const nlohmann::json& t : tools) {
      const std::string n = t["function"]["name"].get<std::string>();
      declared = declared || n == c.name;
      names += (names.empty() ? "" : ", ") + n;
    }
    if (!declared) {
      fail_field("tool_choice.function.name", "a declared tool (" + (names.empty() ? "none declared" : names) + ")",
                 find_field(*f, "name"));
    }
    return c;
  } else {
    fail_field("tool_choice", kExpected, &v);
  }
  if (c.kind == ToolChoice::Kind::kRequired && tools.empty()) {
    fail_field("tool_choice", "\"none\" or \"auto\" when no tools are declared", &v);
  }
  return c;
}

Format parse_response_format(const OrderedJson& v) {
  Format f;
  if (!v.is_object()) fail_field("response_format", "an object {\"type\"}", &v);
  const std::string type = read_string(v, "type", "response_format").value_or("");
  if (type == "text") return f;
  if (type == "json_object") {
    f.kind = Format::Kind::kJsonObject;
    return f;
  }
  if (type == "json_schema") {
    const OrderedJson* js = find_field(v, "json_schema");
    if (js == nullptr || !js->is_object()) {
      fail_field("response_format.json_schema", "an object {\"name\", \"schema\", \"strict\"}", js);
    }
    const OrderedJson* schema = find_field(*js, "schema");
    if (schema == nullptr || !schema->is_object()) {
      fail_field("response_format.json_schema.schema", "a JSON Schema object", schema);
    }
    f.kind = Format::Kind::kJsonSchema;
    f.schema = *schema;
    f.name = read_string(*js, "name", "response_format.json_schema").value_or("");
    f.strict = read_bool(*js, "strict", "response_format.json_schema").value_or(false);
    return f;
  }
  fail_field("response_format.type", "\"text\", \"json_object\" or \"json_schema\"", find_field(v, "type"));
}

}  // namespace

ParseResult parse_openai_chat(const OrderedJson& body) {
  return parse_guarded([&](ApiRequest& r) {
    require_object_body(body);
    r.api = Api::kOpenAiChat;
    r.model = read_model(body);
    const OrderedJson* messages = find_field(body, "messages");
    if (messages == nullptr || !messages->is_array() || messages->empty()) {
      fail_field("messages", "a non-empty array of messages", messages);
    }
    for (size_t i = 0; i < messages->size(); ++i) {
      r.conversation.messages.push_back(parse_message((*messages)[i], i, r.media));
    }
    if (const OrderedJson* tools = find_field(body, "tools")) r.conversation.tools = parse_tools(*tools, "tools");
    if (const OrderedJson* tc = find_field(body, "tool_choice")) {
      r.tool_choice = parse_tool_choice(*tc, r.conversation.tools);
    }
    r.parallel_tool_calls = read_bool(body, "parallel_tool_calls", "").value_or(true);
    if (const OrderedJson* rf = find_field(body, "response_format")) r.format = parse_response_format(*rf);
    if (const OrderedJson* e = find_field(body, "reasoning_effort")) {
      r.think = parse_effort(*e, "reasoning_effort");
    } else if (const OrderedJson* reasoning = find_field(body, "reasoning")) {
      if (!reasoning->is_object()) fail_field("reasoning", "an object {\"effort\"}", reasoning);
      if (const OrderedJson* effort = find_field(*reasoning, "effort")) r.think = parse_effort(*effort, "reasoning.effort");
    }
    parse_openai_sampling(body, r);
    // locus's media options, as top-level fields under the names Ollama's `options` use.
    for (const char* key : {"image_tokens", "image_size_rule", "video_frames", "video_frame_tokens", "video_audio",
                            "video_layout"}) {
      if (const OrderedJson* v = find_field(body, key)) read_media_option(key, *v, key, false, r.media_options);
    }
    if (auto e = check_media_options(r.media_options, "")) throw FieldError(e->param, e->message);
    r.logprobs = read_bool(body, "logprobs", "").value_or(false);
    r.top_logprobs = read_top_logprobs(body, "top_logprobs", "");
    // OpenAI refuses alternatives without the chosen tokens' logprobs rather than ignoring them.
    if (r.top_logprobs > 0 && !r.logprobs) {
      const OrderedJson* lp = find_field(body, "logprobs");
      throw FieldError("top_logprobs", "top_logprobs: needs logprobs: true, found logprobs " +
                                           (lp == nullptr ? std::string("not set") : describe_json(lp)));
    }
  });
}

ParseResult parse_openai_completions(const OrderedJson& body) {
  return parse_guarded([&](ApiRequest& r) {
    require_object_body(body);
    r.api = Api::kOpenAiCompletions;
    r.model = read_model(body);
    const OrderedJson* prompt = find_field(body, "prompt");
    if (prompt != nullptr && prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
      r.prompt = (*prompt)[0].get<std::string>();
    } else if (prompt != nullptr && prompt->is_string()) {
      r.prompt = prompt->get<std::string>();
    } else {
      fail_field("prompt", "a string (or an array of one string)", prompt);
    }
    r.suffix = read_string(body, "suffix", "").value_or("");
    if (read_bool(body, "echo", "").value_or(false)) {
      fail_field("echo", "false (echoing the prompt is not supported)", find_field(body, "echo"));
    }
    // Ollama's compatibility layer templates the prompt as a user turn (it does not set raw), so this does too.
    text::ChatMessage user;
    user.role = text::ChatRole::kUser;
    user.text = r.prompt;
    r.conversation.messages.push_back(std::move(user));
    parse_openai_sampling(body, r);
    // The legacy API's logprobs is a count of top alternatives (0 = only the chosen token's).
    if (auto n = read_int(body, "logprobs", "")) {
      if (*n < 0 || *n > runtime::kMaxTopLogprobs) {
        fail_field("logprobs", "an integer in [0, " + std::to_string(runtime::kMaxTopLogprobs) + "]",
                   find_field(body, "logprobs"));
      }
      r.logprobs = true;
      r.top_logprobs = static_cast<int32_t>(*n);
    }
  });
}

}  // namespace locus::server
