// JSON from clients, parsed with its nesting bounded. nlohmann's parser itself does not recurse, but code that
// walks the result does (dump(), the chat renderer, the tool-argument writers): a body nested 100,000 deep would
// overflow the stack there. Deeper input is refused as a bad request instead.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace locus::server {

// Far deeper than any real request (a tool schema or argument object a few levels deep inside a message).
inline constexpr int kMaxClientJsonDepth = 128;

struct ClientJson {
  nlohmann::ordered_json value;  // discarded when the text is not JSON or too deep
  bool too_deep = false;
};

inline ClientJson parse_client_json(std::string_view text) {
  ClientJson out;
  auto bound = [&out](int depth, nlohmann::ordered_json::parse_event_t, nlohmann::ordered_json&) {
    if (depth > kMaxClientJsonDepth) out.too_deep = true;
    return !out.too_deep;
  };
  out.value = nlohmann::ordered_json::parse(text, bound, /*allow_exceptions=*/false);
  if (out.too_deep) out.value = nlohmann::ordered_json(nlohmann::ordered_json::value_t::discarded);
  return out;
}

}  // namespace locus::server
