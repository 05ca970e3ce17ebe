// `locus inspect FILE.gguf`: what a GGUF file holds, for people (a summary and tables) or machines (--json).
#pragma once

#include <ostream>
#include <string>

namespace locus::cli {

struct InspectOptions {
  std::string path;
  bool json = false;
  bool all_metadata = false;  // print long arrays in full
  bool no_tensors = false;
};

// Writes the report to `out`; throws gguf::GgufError (one line) for a file that cannot be read.
void inspect(const InspectOptions& o, std::ostream& out);

}  // namespace locus::cli
