// Progress shown on the terminal for long work.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "gguf/file.h"

namespace locus::cli {

// A one-line "loading model [####    ]  42% 3.1 GB" bar on stderr, redrawn when the percentage changes and
// erased when done reaches total. With show false it draws nothing.
std::function<void(uint64_t done, uint64_t total)> load_progress_bar(bool show);

// Reads the model's tensor data through the page cache before the first token, so that a large model
// used in place from its mapping (--mmap) shows its load as a progress bar instead of a long silent first
// answer. `show` draws the bar on stderr.
void prefetch_weights(const gguf::GgufFile& file, bool show);

// What `ollama pull` and `ollama push` show: one line per phase, and per blob
// "pulling 1a2b3c4d5e6f:  42% [####   ] 1.2 GiB/2.9 GiB" redrawn in place on a terminal. Without a terminal
// (a log, a pipe) each blob gets a line when it starts and one when it is complete, so the output stays
// short and readable. Lines without a digest are phases ("pulling manifest", "success").
class BlobProgressDisplay {
 public:
  explicit BlobProgressDisplay(bool terminal) : terminal_(terminal) {}
  void show(const std::string& status, const std::string& digest, uint64_t total, uint64_t completed);
  // Ends a bar drawn in place (before an error message, say).
  void end_bar();

 private:
  bool terminal_;
  bool bar_open_ = false;
  std::string digest_;
  int last_pct_ = -1;
};

}  // namespace locus::cli
