// Tokenizer parity with llama.cpp: encodes the corpus (tokenizer_corpus.h) with locus and asks llama.cpp
// (tools/oracle/oracle.mjs, node-llama-cpp's libllama) for the same, with and without parse_special; then
// decodes the ids both ways and compares, and compares every token's piece over the whole vocabulary.
//
// usage: tokenizer_parity MODEL.gguf NODE ORACLE.mjs WORK_DIR
// Prints a summary per category; exits 1 on any difference.
//
// Invalid UTF-8 cannot reach llama.cpp through the oracle: node-llama-cpp takes JavaScript strings, which hold
// no ill-formed UTF-8 (V8 turns lone surrogates into U+FFFD on the way out). llama.cpp itself replaces each bad
// byte by U+FFFD before BPE (its unicode_cpts_from_utf8), and that replacement is what the oracle is given for
// these texts, while locus encodes the raw bytes and must give the same ids. Texts whose replacement is still
// not valid UTF-8 (encoded surrogates, which llama.cpp keeps) or holds a value above U+10FFFF (which makes
// llama.cpp throw) are checked only against the replaced text locally.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "gguf/file.h"
#include "text/tokenizer.h"
#include "text/utf8.h"
#include "tokenizer_corpus.h"

namespace {

using locus::text::Tokenizer;
using Ids = std::vector<int32_t>;
using nlohmann::json;

struct Tally {
  int texts = 0;
  int oracle = 0;      // compared with llama.cpp (both parse modes)
  int local_only = 0;  // invalid UTF-8 llama.cpp cannot be given; compared with its replacement locally
  int encode_diff = 0;
  int decode_diff = 0;
  int roundtrip_diff = 0;
};

// The text llama.cpp's tokenizer works on: each ill-formed byte as U+FFFD, odd forms written shortest.
// `ok` is false when llama.cpp would throw (a value above U+10FFFF).
std::string llama_replaced(std::string_view text, bool& ok) {
  ok = true;
  std::string out;
  for (size_t at = 0; at < text.size();) {
    char32_t cp = locus::text::next_code_point_llama(text, at);
    if (cp > 0x10FFFF) {
      ok = false;
      cp = locus::text::kReplacementChar;
    }
    locus::text::append_utf8(out, cp);
  }
  return out;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

json run_oracle(const std::string& node, const std::string& oracle, const std::string& args, const std::string& out_path) {
  const std::string cmd = shell_quote(node) + " " + shell_quote(oracle) + " " + args + " > " + shell_quote(out_path);
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("oracle failed: " + cmd);
  std::ifstream in(out_path, std::ios::binary);
  return json::parse(in);
}

void write_json(const std::string& path, const json& j) {
  std::ofstream out(path, std::ios::binary);
  out << j.dump();
}

std::string show(const Ids& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size() && i < 24; ++i) {
    if (i > 0) s += ' ';
    s += std::to_string(ids[i]);
  }
  s += ids.size() > 24 ? " ...]" : "]";
  return s;
}

std::string preview(std::string_view text) {
  json j = locus::text::sanitize_utf8(text.substr(0, 60));
  return j.dump() + (text.size() > 60 ? "..." : "");
}

// First position where two id lists differ, for the report.
size_t first_difference(const Ids& a, const Ids& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: tokenizer_parity MODEL.gguf NODE ORACLE.mjs WORK_DIR\n");
    return 2;
  }
  const std::string model = argv[1], node = argv[2], oracle = argv[3], work = argv[4];
  const std::string model_arg = "--model " + shell_quote(model);

  const auto t_load = std::chrono::steady_clock::now();
  const Tokenizer tok = Tokenizer::from_gguf(locus::gguf::GgufFile::open(model));
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();

  const auto corpus = locus::parity::tokenizer_corpus();
  std::map<std::string, Tally> tally;
  size_t corpus_bytes = 0;
  int failures = 0;
  const auto report = [&](const std::string& what) {
    if (++failures <= 20) std::printf("DIFF %s\n", what.c_str());
  };

  // Encode everything locally; decide what llama.cpp is given.
  struct Item {
    size_t index;            // into corpus
    std::string oracle_text; // what llama.cpp tokenizes
    Ids parse, plain;        // locus's ids for the raw text
  };
  std::vector<Item> items;
  double encode_s = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const auto& [category, text] = corpus[i];
    Tally& t = tally[category];
    ++t.texts;
    corpus_bytes += text.size();
    const auto t0 = std::chrono::steady_clock::now();
    Item item{i, text, tok.encode(text, false, true), tok.encode(text, false, false)};
    encode_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!locus::text::is_valid_utf8(text)) {
      bool ok = true;
      item.oracle_text = llama_replaced(text, ok);
      if (tok.encode(item.oracle_text, false, true) != item.parse || tok.encode(item.oracle_text, false, false) != item.plain) {
        ++t.encode_diff;
        report(category + " #" + std::to_string(i) + ": raw bytes and llama.cpp's replacement encode differently");
      }
      if (!ok || !locus::text::is_valid_utf8(item.oracle_text)) {
        ++t.local_only;
        continue;
      }
    }
    items.push_back(std::move(item));
  }

  // llama.cpp's ids.
  json texts = json::array();
  for (const Item& it : items) texts.push_back(it.oracle_text);
  write_json(work + "/texts.json", texts);
  const json tokenized = run_oracle(node, oracle, "tokenize " + model_arg + " --json-input " + shell_quote(work + "/texts.json"),
                                    work + "/tokenized.json");
  for (size_t k = 0; k < items.size(); ++k) {
    const Item& it = items[k];
    const auto& [category, text] = corpus[it.index];
    Tally& t = tally[category];
    ++t.oracle;
    const Ids want_parse = tokenized["items"][k]["tokens_parse_special"].get<Ids>();
    const Ids want_plain = tokenized["items"][k]["tokens_no_parse_special"].get<Ids>();
    for (const auto& [got, want, mode] : {std::tuple{&it.parse, &want_parse, "parse_special"},
                                          std::tuple{&it.plain, &want_plain, "no parse_special"}}) {
      if (*got == *want) continue;
      ++t.encode_diff;
      const size_t at = first_difference(*got, *want);
      report(category + " #" + std::to_string(it.index) + " (" + mode + ") " + preview(text) + ": from token " +
             std::to_string(at) + " locus " + show(Ids(got->begin() + at, got->end())) + " llama.cpp " +
             show(Ids(want->begin() + at, want->end())));
    }
  }

  // Round trip: the pieces (special ones rendered) give back the text, spaces for U+2581 (as llama.cpp).
  for (const Item& it : items) {
    const auto& [category, text] = corpus[it.index];
    std::string joined;
    for (const int32_t id : it.parse) tok.append_piece(joined, id, true);
    std::string want;
    for (size_t at = 0; at < it.oracle_text.size();) {
      if (it.oracle_text.compare(at, 3, "\xE2\x96\x81") == 0) {
        want += ' ';
        at += 3;
      } else {
        want += it.oracle_text[at++];
      }
    }
    if (joined != want) {
      ++tally[category].roundtrip_diff;
      report(category + " #" + std::to_string(it.index) + ": pieces do not give the text back: " + preview(text));
    }
  }

  // Decoding: whole sequences and every piece of the vocabulary, both render modes. llama.cpp's text comes
  // back through V8, which replaces ill-formed UTF-8 by maximal subparts; sanitize_utf8 does the same.
  json lists = json::array();
  for (const Item& it : items) lists.push_back(it.parse);
  // Runs of byte tokens, mostly pieces of UTF-8 sequences, to check that sanitize_utf8 replaces ill-formed
  // bytes exactly as V8 does.
  std::vector<Ids> byte_runs;
  uint64_t seed = 12345;
  const auto next = [&](uint64_t n) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (seed >> 33) % n;
  };
  static constexpr uint8_t kBytes[] = {'a', 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1,
                                       0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF};
  for (int k = 0; k < 400; ++k) {
    Ids run;
    for (uint64_t n = 1 + next(10); n > 0; --n) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", kBytes[next(std::size(kBytes))]);
      run.push_back(tok.find(name).value());
    }
    byte_runs.push_back(run);
    lists.push_back(run);
  }
  Ids all_ids(tok.n_vocab());
  for (int32_t id = 0; id < tok.n_vocab(); ++id) all_ids[id] = id;
  lists.push_back(all_ids);
  write_json(work + "/lists.json", lists);
  int pieces_compared = 0;
  int piece_diff = 0;
  for (const bool special : {false, true}) {
    const json detok = run_oracle(node, oracle,
                                  "detokenize " + model_arg + " --json-input " + shell_quote(work + "/lists.json") +
                                      (special ? " --special" : ""),
                                  work + "/detokenized.json");
    for (size_t k = 0; k < items.size(); ++k) {
      const auto& [category, text] = corpus[items[k].index];
      const std::string got = locus::text::sanitize_utf8(tok.decode(items[k].parse, special));
      if (got != detok["items"][k]["text"].get<std::string>()) {
        ++tally[category].decode_diff;
        report(category + " #" + std::to_string(items[k].index) + " decode (special " + std::to_string(special) +
               ") " + preview(got) + " vs llama.cpp " + preview(detok["items"][k]["text"].get<std::string>()));
      }
    }
    int byte_run_diff = 0;
    for (size_t k = 0; k < byte_runs.size(); ++k) {
      const json& want = detok["items"][items.size() + k]["text"];
      if (locus::text::sanitize_utf8(tok.decode(byte_runs[k], special)) != want.get<std::string>()) ++byte_run_diff;
    }
    if (byte_run_diff > 0) report(std::to_string(byte_run_diff) + " runs of byte tokens decode differently");
    const size_t vocab_item = items.size() + byte_runs.size();
    // The oracle's "pieces" are one-token detokenizations (so cleaned up: " ." gives "."), and its "text"
    // for the whole vocabulary joins every raw piece.
    const json& vocab = detok["items"][vocab_item];
    const json& pieces = vocab["pieces"];
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
      ++pieces_compared;
      const std::string got = locus::text::sanitize_utf8(tok.decode(std::span(&id, 1), special));
      if (got != pieces[id].get<std::string>()) {
        ++piece_diff;
        report("token " + std::to_string(id) + " (special " + std::to_string(special) + ") " + preview(got) +
               " vs llama.cpp " + preview(pieces[id].get<std::string>()));
      }
    }
    if (locus::text::sanitize_utf8(tok.decode(all_ids, special)) != vocab["text"].get<std::string>()) {
      ++piece_diff;
      report("the whole vocabulary decodes differently (special " + std::to_string(special) + ")");
    }
  }

  // Summary.
  Tally total;
  std::printf("%-15s %6s %7s %6s %7s %7s %9s\n", "category", "texts", "oracle", "local", "encode", "decode", "roundtrip");
  for (const auto& [category, t] : tally) {
    std::printf("%-15s %6d %7d %6d %7d %7d %9d\n", category.c_str(), t.texts, t.oracle, t.local_only, t.encode_diff,
                t.decode_diff, t.roundtrip_diff);
    total.texts += t.texts;
    total.oracle += t.oracle;
    total.local_only += t.local_only;
    total.encode_diff += t.encode_diff;
    total.decode_diff += t.decode_diff;
    total.roundtrip_diff += t.roundtrip_diff;
  }
  std::printf("%-15s %6d %7d %6d %7d %7d %9d\n", "total", total.texts, total.oracle, total.local_only,
              total.encode_diff, total.decode_diff, total.roundtrip_diff);
  std::printf("(oracle: texts compared with llama.cpp, each with and without parse_special; local: invalid UTF-8\n"
              " llama.cpp cannot be given, compared with its replacement text; the last three: differences)\n");
  std::printf("tokens decoded alone and compared with llama.cpp: %d (the whole vocabulary, special rendering off and\n"
              " on; and the vocabulary decoded as one sequence), differences: %d\n",
              pieces_compared, piece_diff);
  std::printf("runs of byte tokens decoded and compared with llama.cpp (through V8): %zu, both render modes\n",
              byte_runs.size());
  std::printf("corpus: %zu bytes encoded twice in %.3f s (%.1f MB/s); tokenizer loaded in %.0f ms\n", corpus_bytes,
              encode_s, 2 * corpus_bytes / encode_s / 1e6, load_ms);
  const bool ok = failures == 0 && total.texts >= 2000;
  std::printf("%s\n", ok ? "PASS: identical to llama.cpp" : "FAIL");
  return ok ? 0 : 1;
}
