// Progress shown on the terminal for long work.
#pragma once

#include <cstdint>
#include <functional>

#include "gguf/file.h"

namespace locus::cli {

// A one-line "loading model [####    ]  42% 3.1 GB" bar on stderr, redrawn when the percentage changes and
// erased when done reaches total. With show false it draws nothing.
std::function<void(uint64_t done, uint64_t total)> load_progress_bar(bool show);

// Reads the model's tensor data through the page cache before the first token, so that a large model
// used in place from its mapping (--mmap) shows its load as a progress bar instead of a long silent first
// answer. `show` draws the bar on stderr.
void prefetch_weights(const gguf::GgufFile& file, bool show);

}  // namespace locus::cli
