// libFuzzer target for the data: URI and base64 parsers that read media from OpenAI requests
// (src/server/data_uri.h, base64.h); invariants in data_uri_check.h. A crash, a sanitizer report or a broken
// invariant is a bug.
#include <cstdio>
#include <cstdlib>

#include "data_uri_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string broken = locus::fuzz::check_data_uri(data, size);
  if (!broken.empty()) {
    std::fprintf(stderr, "data_uri_fuzz: %s\n", broken.c_str());
    std::abort();
  }
  return 0;
}
