// Stop strings over streamed text: nothing that is, or may become, part of a stop string is ever emitted.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace locus::runtime {

// Feed the decoded pieces of generated tokens in order. Each feed returns the text that can no longer be
// part of a stop string; a tail that could still grow into one is held back. When a stop string completes,
// the text before it is returned, the stop string and everything after it are dropped, and the matcher
// stays stopped. A stop string completes as soon as its last byte arrives, even if a longer one that started
// earlier might still have completed later (Ollama's runner and llama.cpp's server also stop at the first
// complete match). Within one piece the stop that ends first wins, and of two ending on the same byte the
// longer, so the output is the same however the text is split into pieces.
//
// Matching is on bytes. Stop strings are valid UTF-8 and UTF-8 is self-synchronising, so a match always
// starts and ends on character boundaries of valid text, even when a piece holds only part of a character.
//
// Returned views point into an internal buffer and stay valid until the next call. After set_stops(), feed()
// allocates only when a piece is longer than the buffer has ever been.
class StopMatcher {
 public:
  struct Result {
    std::string_view text;   // safe to emit
    bool stopped = false;    // a stop string completed (now or earlier)
    int32_t stop_index = -1; // index into the stops given to set_stops, when stopped
  };

  StopMatcher() = default;
  explicit StopMatcher(std::span<const std::string> stops) { set_stops(stops); }

  // Sets the stop strings (empty ones are ignored) and resets.
  void set_stops(std::span<const std::string> stops);
  void reset();

  Result feed(std::string_view piece);

  // End of generation without a stop: returns the held-back text, which turned out not to be a stop.
  std::string_view flush();

  bool stopped() const { return stop_index_ >= 0; }
  bool active() const { return !stops_.empty(); }

 private:
  void drop_emitted();

  std::vector<std::string> stops_;
  std::vector<int32_t> stop_index_of_;  // position of each kept stop in the caller's list
  size_t max_len_ = 0;
  std::string buffer_;
  size_t emitted_ = 0;  // buffer_[0, emitted_) was handed out and is erased on the next call
  int32_t stop_index_ = -1;
};

}  // namespace locus::runtime
