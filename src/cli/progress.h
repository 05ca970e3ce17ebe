// Progress shown on the terminal for long work.
#pragma once

#include "gguf/file.h"

namespace locus::cli {

// Reads the model's tensor data through the page cache before the first token, so a large model's
// load shows as a progress bar instead of a long silent first answer. `show` draws the bar on stderr.
void prefetch_weights(const gguf::GgufFile& file, bool show);

}  // namespace locus::cli
