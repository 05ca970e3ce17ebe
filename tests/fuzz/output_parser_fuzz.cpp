// libFuzzer target for the chat output parser (src/text/output_parser.h): random generated text, split at
// random places, must give the same events however it is split, never put marker text in the answer, and
// give tool calls whose arguments are valid JSON. The invariants are in output_parser_check.h; a crash, a
// sanitizer report, a hang or a broken invariant is a bug.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "output_parser_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string problem = locus::fuzz::check_output_parser(data, size);
  if (!problem.empty()) {
    std::fprintf(stderr, "output_parser_fuzz: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
