// Turns a stream of bytes (token pieces may split a character) into chunks of complete, valid UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace locus::runtime {

// feed() returns every complete character received so far and holds back a sequence that is valid so far
// but unfinished. Bytes that can never be valid UTF-8 become U+FFFD, one per maximal ill-formed subpart
// (the Unicode recommendation, also what WHATWG decoders do), so the output is always valid UTF-8 and safe
// to put in JSON. finish() drops an unfinished tail, as Ollama's runner does when a sequence ends.
//
// Returned views stay valid until the next call; no allocation once the buffers have grown to the largest
// piece seen.
class Utf8Stream {
 public:
  Utf8Stream();
  std::string_view feed(std::string_view bytes);
  void finish() { pending_.clear(); }
  void reset();
  bool has_pending() const { return !pending_.empty(); }

 private:
  std::string pending_;  // an unfinished sequence, at most 3 bytes
  std::string input_;
  std::string out_;
};

}  // namespace locus::runtime
