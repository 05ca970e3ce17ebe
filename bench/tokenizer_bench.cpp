// Tokenizer speed: loading Gemma 4's tokenizer from a GGUF, encoding 1 MiB of several kinds of text, and
// decoding. Built with llama.cpp's library at hand (see tests/parity/CMakeLists.txt), it times llama.cpp's
// llama_tokenize on the same texts in the same process and prints the ratio.
//
// usage: tokenizer_bench MODEL.gguf [REPEATS]     (a model from locus-mkmodel, or any Gemma 4 GGUF)
// Each figure is the best of REPEATS runs (default 5). Not a test: run it by hand on a quiet machine.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "text/tokenizer.h"
#include "text/utf8.h"
#include "tokenizer_corpus.h"

#ifdef LOCUS_BENCH_WITH_LLAMA
#include "llama.h"
#endif

namespace {

using locus::text::Tokenizer;
constexpr size_t kTextBytes = 1 << 20;

double best_seconds(int repeats, const std::function<void()>& f) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// 1 MiB made of the parity corpus's texts of the given categories, in corpus order, repeated as needed
// (invalid UTF-8 left out: llama.cpp may throw on it).
std::string text_of(const std::vector<locus::parity::CorpusText>& corpus, const std::vector<std::string>& categories) {
  std::string out;
  while (out.size() < kTextBytes) {
    for (const auto& c : corpus) {
      if (std::find(categories.begin(), categories.end(), c.category) == categories.end()) continue;
      if (!locus::text::is_valid_utf8(c.text)) continue;
      out += c.text;
      out += '\n';
      if (out.size() >= kTextBytes) break;
    }
  }
  // Cut back to a character boundary.
  size_t end = kTextBytes;
  while (end > 0 && (static_cast<uint8_t>(out[end]) & 0xC0) == 0x80) --end;
  out.resize(end);
  return out;
}

#ifdef LOCUS_BENCH_WITH_LLAMA
void quiet(ggml_log_level, const char*, void*) {}

struct Llama {
  llama_model* model = nullptr;
  const llama_vocab* vocab = nullptr;
  explicit Llama(const char* path) {
    llama_log_set(quiet, nullptr);
    llama_backend_init();
    llama_model_params params = llama_model_default_params();
    params.vocab_only = true;
    model = llama_model_load_from_file(path, params);
    if (model != nullptr) vocab = llama_model_get_vocab(model);
  }
  ~Llama() {
    if (model != nullptr) llama_model_free(model);
  }
  size_t encode(const std::string& text, bool parse_special) const {
    std::vector<llama_token> out(text.size() + 8);
    const int n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), out.data(),
                                 static_cast<int32_t>(out.size()), true, parse_special);
    return static_cast<size_t>(std::max(n, 0));
  }
};
#endif

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: tokenizer_bench MODEL.gguf [REPEATS]\n");
    return 2;
  }
  const std::string path = argv[1];
  const int repeats = argc == 3 ? std::max(1, std::atoi(argv[2])) : 5;

  // Loading: opening the GGUF (parsing all its metadata) and building the tokenizer from it.
  double open_s = 1e30, build_s = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto file = locus::gguf::GgufFile::open(path);
    const auto t1 = std::chrono::steady_clock::now();
    const Tokenizer t = Tokenizer::from_gguf(file);
    const auto t2 = std::chrono::steady_clock::now();
    open_s = std::min(open_s, std::chrono::duration<double>(t1 - t0).count());
    build_s = std::min(build_s, std::chrono::duration<double>(t2 - t1).count());
  }
  const Tokenizer tok = Tokenizer::from_gguf(locus::gguf::GgufFile::open(path));
  std::printf("load: GGUF opened in %.0f ms, tokenizer built in %.0f ms (%d pieces, %zu merges); best of %d\n",
              open_s * 1e3, build_s * 1e3, tok.n_vocab(), tok.n_merges(), repeats);

#ifdef LOCUS_BENCH_WITH_LLAMA
  const Llama llama(path.c_str());
  const bool with_llama = llama.vocab != nullptr;
#else
  const bool with_llama = false;
#endif

  const auto corpus = locus::parity::tokenizer_corpus();
  struct Kind {
    const char* name;
    std::vector<std::string> categories;
    bool parse_special;
    bool one_line;
  };
  const Kind kinds[] = {
      {"prose, many scripts", {"scripts"}, false, false},
      {"code", {"code"}, false, false},
      {"whitespace, control", {"whitespace", "control"}, false, false},
      {"emoji, rare unicode", {"emoji", "random_unicode"}, false, false},
      {"mixed, one line", {"mixed", "scripts", "code"}, false, true},
      {"special text, parsed", {"special_text", "mixed"}, true, false},
  };
  std::printf("\nencode 1 MiB (BOS added), best of %d:\n", repeats);
  std::printf("%-24s %10s %12s%s\n", "text", "MB/s", "tokens", with_llama ? "   llama.cpp MB/s   locus/llama.cpp" : "");
  for (const Kind& k : kinds) {
    std::string text = text_of(corpus, k.categories);
    if (k.one_line) std::replace(text.begin(), text.end(), '\n', ' ');
    size_t n_tokens = 0;
    const double s = best_seconds(repeats, [&] { n_tokens = tok.encode(text, true, k.parse_special).size(); });
    std::printf("%-24s %10.1f %12zu", k.name, text.size() / s / 1e6, n_tokens);
#ifdef LOCUS_BENCH_WITH_LLAMA
    if (with_llama) {
      const double ls = best_seconds(repeats, [&] { llama.encode(text, k.parse_special); });
      std::printf("   %14.1f   %15.2f", text.size() / ls / 1e6, ls / s);
    }
#endif
    std::printf("\n");
  }

  const std::string text = text_of(corpus, {"scripts", "code", "emoji"});
  const std::vector<int32_t> ids = tok.encode(text, false, false);
  std::string out;
  const double ds = best_seconds(repeats, [&] { out = tok.decode(ids, false); });
  std::printf("\ndecode %zu tokens: %.1f MB/s of text, %.1f M tokens/s\n", ids.size(), out.size() / ds / 1e6,
              ids.size() / ds / 1e6);
  return 0;
}
