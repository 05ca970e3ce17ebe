// libFuzzer target for the media front door (src/media/media.h): arbitrary bytes through probe, decode_image,
// decode_audio, decode_video and fit_image with small limits. The invariants are in media_check.h: a result that
// keeps its promises or a one-line MediaError; any other exception, a crash or a sanitizer report is a bug.
#include <cstdio>
#include <cstdlib>

#include "media_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string broken = locus::fuzz::check_media(data, size);
  if (!broken.empty()) {
    std::fprintf(stderr, "media_fuzz: %s\n", broken.c_str());
    std::abort();
  }
  return 0;
}
