// Tokenizer parity on raw bytes: calls llama.cpp's llama_tokenize (node-llama-cpp's prebuilt libllama, the
// oracle's own library) in this process, so ill-formed UTF-8, which cannot travel through the JavaScript
// oracle, reaches llama.cpp unchanged. Every corpus text (tokenizer_corpus.h), with and without
// parse_special, must give locus's ids. The one expected difference: where llama.cpp throws (a 4-byte
// sequence above U+10FFFF), locus encodes one U+FFFD; those texts are counted, not compared.
//
// usage: tokenizer_raw_parity MODEL.gguf
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "llama.h"
#include "text/tokenizer.h"
#include "text/utf8.h"
#include "tokenizer_corpus.h"

namespace {

void quiet(ggml_log_level, const char*, void*) {}

std::vector<int32_t> llama_ids(const llama_vocab* vocab, const std::string& text, bool parse_special) {
  std::vector<llama_token> out(text.size() + 8);
  int n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), out.data(),
                         static_cast<int32_t>(out.size()), false, parse_special);
  if (n < 0) {
    out.resize(-n);
    n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), out.data(),
                       static_cast<int32_t>(out.size()), false, parse_special);
  }
  out.resize(n);
  return std::vector<int32_t>(out.begin(), out.end());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: tokenizer_raw_parity MODEL.gguf\n");
    return 2;
  }
  llama_log_set(quiet, nullptr);
  llama_backend_init();
  llama_model_params params = llama_model_default_params();
  params.vocab_only = true;
  llama_model* model = llama_model_load_from_file(argv[1], params);
  if (model == nullptr) {
    std::fprintf(stderr, "llama.cpp cannot load %s\n", argv[1]);
    return 1;
  }
  const llama_vocab* vocab = llama_model_get_vocab(model);
  const auto tok = locus::text::Tokenizer::from_gguf(locus::gguf::GgufFile::open(argv[1]));

  int compared = 0, compared_invalid = 0, differ = 0, llama_throws = 0;
  for (const auto& [category, text] : locus::parity::tokenizer_corpus()) {
    const bool invalid = !locus::text::is_valid_utf8(text);
    for (const bool parse_special : {false, true}) {
      std::vector<int32_t> want;
      try {
        want = llama_ids(vocab, text, parse_special);
      } catch (const std::exception&) {
        ++llama_throws;
        continue;
      }
      ++compared;
      compared_invalid += invalid;
      if (tok.encode(text, false, parse_special) != want) {
        if (++differ <= 20) {
          std::printf("DIFF %s (parse_special %d, %zu bytes)\n", category.c_str(), parse_special, text.size());
        }
      }
    }
  }
  std::printf("llama_tokenize on raw bytes: %d encodings compared (%d of ill-formed UTF-8), %d differ; "
              "llama.cpp threw on %d (values above U+10FFFF)\n",
              compared, compared_invalid, differ, llama_throws);
  llama_model_free(model);
  llama_backend_free();
  const bool ok = differ == 0 && compared_invalid > 0;
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
