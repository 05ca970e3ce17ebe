#include "cli/tokenize.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iterator>
#include <vector>

#include "gguf/file.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace locus::cli {

namespace {

// A piece for a terminal: valid UTF-8 as it is, any other byte as \xHH (a byte token alone is half a
// character, and raw it would garble the line).
std::string printable_piece(std::string_view piece) {
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    const auto lead = static_cast<uint8_t>(piece[i]);
    const size_t len = lead < 0x80 ? 1 : lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3
                     : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
    if (len > 0 && i + len <= piece.size() && text::is_valid_utf8(piece.substr(i, len))) {
      out.append(piece.substr(i, len));
      i += len;
      continue;
    }
    char hex[5];
    std::snprintf(hex, sizeof hex, "\\x%02X", lead);
    out += hex;
    ++i;
  }
  return out;
}

}  // namespace

void tokenize(const TokenizeOptions& o, std::istream& in, std::ostream& out) {
  const auto file = gguf::GgufFile::open(o.model_path);
  const text::Tokenizer tok = text::Tokenizer::from_gguf(file);

  std::string input = o.text;
  if (o.text == "-") input.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());

  const bool add_bos = tok.wants_bos() && !o.no_bos;
  const std::vector<int32_t> ids = tok.encode(input, add_bos, o.parse_special);

  if (o.json) {
    nlohmann::json pieces = nlohmann::json::array();
    for (const int32_t id : ids) pieces.push_back(text::sanitize_utf8(tok.piece(id, true)));
    const nlohmann::json j = {{"tokens", ids}, {"pieces", pieces}, {"n_tokens", ids.size()}};
    out << j.dump() << "\n";
    return;
  }
  if (o.pieces) {
    for (const int32_t id : ids) {
      char head[32];
      std::snprintf(head, sizeof head, "%6d -> '", id);
      out << head << printable_piece(tok.piece(id, true)) << "'\n";
    }
    return;
  }
  out << "[";
  for (size_t i = 0; i < ids.size(); ++i) out << (i ? ", " : "") << ids[i];
  out << "]\n";
}

}  // namespace locus::cli
