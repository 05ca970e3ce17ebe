// libFuzzer target for the multipart/form-data parser behind POST /v1/audio/transcriptions
// (src/server/multipart.h); input layout and invariants in multipart_check.h. A crash, a sanitizer report or a
// broken invariant is a bug.
#include <cstdio>
#include <cstdlib>

#include "multipart_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string broken = locus::fuzz::check_multipart(data, size);
  if (!broken.empty()) {
    std::fprintf(stderr, "multipart_fuzz: %s\n", broken.c_str());
    std::abort();
  }
  return 0;
}
