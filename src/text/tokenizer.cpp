#include "text/tokenizer.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "text/bpe.h"
#include "text/clean_spaces.h"
#include "text/special_split.h"
#include "text/utf8.h"

namespace locus::text {

struct Tokenizer::Model {
  Vocab vocab;
  Bpe bpe;
  SpecialSplitter split_all;           // parse_special = true
  SpecialSplitter split_user_defined;  // parse_special = false
  std::vector<int32_t> newline_runs;   // newline_runs[k]: the id of the piece of k newlines, or -1
};

namespace {

constexpr char32_t kSpaceMark = 0x2581;  // "▁", how the vocabulary writes a space
constexpr std::string_view kSpaceMarkUtf8 = "\xE2\x96\x81";

// Per-call working memory, sized by the longest run of text between newlines (and special tokens).
struct EncodeScratch {
  std::string word;                  // the run's bytes after escaping and invalid-byte replacement
  std::vector<Bpe::Symbol> symbols;  // one per code point of `word`
  Bpe::Scratch bpe;
  std::vector<TextSegment> segments;
};

// What encoding plain text needs from the model.
struct PlainEncoder {
  const Bpe& bpe;
  const std::vector<int32_t>& newline_runs;
};

void encode_word(const PlainEncoder& m, bool newlines, EncodeScratch& s, std::vector<int32_t>& out);

// Encodes plain text (no special tokens in it) word by word, a word being a run of newlines or of anything else.
void encode_plain(const PlainEncoder& m, std::string_view text, EncodeScratch& s, std::vector<int32_t>& out) {
  s.word.clear();
  s.symbols.clear();
  bool word_is_newlines = false;
  size_t offset = 0;
  while (offset < text.size()) {
    const auto lead = static_cast<uint8_t>(text[offset]);
    char32_t cp = lead;
    if (lead < 0x80) {
      ++offset;
    } else {
      cp = next_code_point_llama(text, offset);
      if (cp > 0x10FFFF) cp = kReplacementChar;  // llama.cpp throws here; see tokenizer.h
    }
    if (cp == ' ') cp = kSpaceMark;
    const bool is_newline = cp == '\n';
    if (is_newline != word_is_newlines && !s.symbols.empty()) {
      encode_word(m, word_is_newlines, s, out);
      s.word.clear();
      s.symbols.clear();
    }
    word_is_newlines = is_newline;
    const size_t begin = s.word.size();
    append_utf8(s.word, cp);
    if (s.word.size() > std::numeric_limits<int32_t>::max()) throw std::length_error("text run too long to tokenize");
    s.symbols.push_back({m.bpe.symbol_of(cp), -1, -1, static_cast<uint32_t>(begin),
                         static_cast<uint32_t>(s.word.size() - begin)});
  }
  if (!s.symbols.empty()) encode_word(m, word_is_newlines, s, out);
}

void encode_word(const PlainEncoder& m, bool newlines, EncodeScratch& s, std::vector<int32_t>& out) {
  // A run of newlines that is itself a piece is taken whole, not merged (llama.cpp's Gemma 4 rule).
  if (newlines && s.symbols.size() < m.newline_runs.size() && m.newline_runs[s.symbols.size()] >= 0) {
    out.push_back(m.newline_runs[s.symbols.size()]);
    return;
  }
  m.bpe.encode_word(s.symbols, 0, static_cast<int32_t>(s.symbols.size()) - 1, s.word, out, s.bpe);
}

void append_unescaped(std::string& out, std::string_view piece) {
  size_t at = 0;
  for (size_t hit; (hit = piece.find(kSpaceMarkUtf8, at)) != std::string_view::npos; at = hit + kSpaceMarkUtf8.size()) {
    out.append(piece.substr(at, hit - at));
    out.push_back(' ');
  }
  out.append(piece.substr(at));
}

}  // namespace

Tokenizer Tokenizer::from_gguf(const gguf::GgufFile& file) {
  const auto model_name = file.get_string_or("tokenizer.ggml.model");
  if (!model_name) {
    throw gguf::GgufError(file.path() + ": no tokenizer (key tokenizer.ggml.model missing)");
  }
  if (*model_name != "gemma4") {
    throw gguf::GgufError(file.path() + ": tokenizer.ggml.model is \"" + *model_name +
                          "\"; only Gemma 4's \"gemma4\" tokenizer is supported");
  }
  auto m = std::make_shared<Model>();
  m->vocab = load_gemma4_vocab(file);

  const gguf::Array& merges = file.get_array("tokenizer.ggml.merges");
  if (merges.element_type != gguf::ValueType::STRING) {
    throw gguf::GgufError("key tokenizer.ggml.merges in " + file.path() + ": expected an array of strings, found an array of " +
                          std::string(gguf::value_type_name(merges.element_type)));
  }
  m->bpe = Bpe(m->vocab, merges);
  m->split_all = SpecialSplitter(m->vocab, true);
  m->split_user_defined = SpecialSplitter(m->vocab, false);

  for (int32_t id = 0; id < m->vocab.size(); ++id) {
    const std::string_view p = m->vocab.pieces[id];
    if (p.find_first_not_of('\n') != std::string::npos) continue;
    if (m->newline_runs.size() <= p.size()) m->newline_runs.resize(p.size() + 1, -1);
    m->newline_runs[p.size()] = id;
  }
  return Tokenizer(std::move(m));
}

const Vocab& Tokenizer::vocab() const { return model_->vocab; }

size_t Tokenizer::n_merges() const { return model_->bpe.n_merges(); }

void Tokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= n_vocab()) {
    throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary [0, " +
                            std::to_string(n_vocab()) + ")");
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  const Model& m = *model_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 4 + 2);
  if (add_bos) out.push_back(m.vocab.bos);

  EncodeScratch scratch;
  const PlainEncoder plain{m.bpe, m.newline_runs};
  (parse_special ? m.split_all : m.split_user_defined).split(text, scratch.segments);
  for (const TextSegment& seg : scratch.segments) {
    if (seg.token >= 0) {
      out.push_back(seg.token);
    } else {
      encode_plain(plain, text.substr(seg.begin, seg.end - seg.begin), scratch, out);
    }
  }

  if (add_bos && m.vocab.add_eos) out.push_back(m.vocab.eos);
  return out;
}

void Tokenizer::append_piece(std::string& out, int32_t id, bool render_special) const {
  check_id(id);
  const Vocab& v = vocab();
  const uint16_t attr = v.attrs[id];
  if (attr & (kAttrControl | kAttrUnknown)) {
    if (render_special) out += v.pieces[id];
  } else if (attr & kAttrUserDefined) {
    out += v.pieces[id];
  } else if (attr & kAttrNormal) {
    append_unescaped(out, v.pieces[id]);
  } else if (attr & kAttrByte) {
    out.push_back(static_cast<char>(v.byte_value[id]));
  }
  // Undefined and unused tokens render as nothing.
}

std::string Tokenizer::piece(int32_t id, bool render_special) const {
  std::string out;
  append_piece(out, id, render_special);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  std::string out;
  bool strip_space = vocab().add_space_prefix;  // llama.cpp drops the space it would have added in front
  for (const int32_t id : ids) {
    const size_t before = out.size();
    append_piece(out, id, render_special);
    if (strip_space && out.size() > before && out[before] == ' ') out.erase(before, 1);
    strip_space = false;
  }
  clean_spaces(out);
  return out;
}

bool Tokenizer::is_eog(int32_t id) const {
  return std::binary_search(vocab().eog.begin(), vocab().eog.end(), id);
}

std::string_view Tokenizer::raw_piece(int32_t id) const {
  check_id(id);
  return vocab().pieces[id];
}

TokenType Tokenizer::token_type(int32_t id) const {
  check_id(id);
  return vocab().types[id];
}

bool Tokenizer::is_control(int32_t id) const {
  check_id(id);
  return (vocab().attrs[id] & (kAttrControl | kAttrUnknown)) != 0;
}

}  // namespace locus::text
