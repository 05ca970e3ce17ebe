// libFuzzer target for the JSON Schema compiler and matcher (src/text/json_grammar.h, json_matcher.h): a schema
// (JSON text up to the first 0x00), a byte choosing the entry point, and bytes fed to the compiled grammar's
// matcher. The input layout and the invariants are in json_schema_check.h; a crash, a sanitizer report, a hang
// or a broken invariant is a bug.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "json_schema_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string problem = locus::fuzz::check_json_schema(data, size);
  if (!problem.empty()) {
    std::fprintf(stderr, "json_schema_fuzz: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
