// Turns a stream of token pieces (arbitrary byte chunks) into text that only ever holds whole UTF-8
// characters, so a streamed answer never shows half a character: a byte-fallback token such as <0xE2> may
// start a character that the next two tokens finish.
//
// Rule for bad bytes (the Unicode/WHATWG "maximal subpart" rule, the one V8 and browsers use): bytes are held
// back only while they are a valid prefix of a character; as soon as a byte shows the prefix cannot be
// completed, the held bytes come out as one U+FFFD and that byte is looked at afresh. A byte that can never
// start a character (80..BF alone, C0, C1, F5..FF) is one U+FFFD. So at most 3 bytes are ever held, and
// invalid input never stalls the stream. flush() at the end of a stream turns an unfinished prefix into one
// U+FFFD. The output is always well-formed UTF-8.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace locus::text {

class Utf8StreamDecoder {
 public:
  // Returns the text that is complete after `bytes`.
  std::string push(std::string_view bytes);
  // Same, appending to `out`.
  void push_into(std::string& out, std::string_view bytes);
  // Ends the stream: returns U+FFFD if an unfinished character was held back, else nothing, and resets.
  std::string flush();
  // Bytes held back, waiting for the rest of their character (0 to 3).
  size_t pending_bytes() const { return n_held_; }

 private:
  void reset_sequence();

  char held_[4] = {};
  uint8_t n_held_ = 0;
  uint8_t n_needed_ = 0;  // total length of the character being held, 0 when none
  uint8_t lower_ = 0x80;  // allowed range of the next continuation byte (narrower after E0, ED, F0, F4)
  uint8_t upper_ = 0xBF;
};

}  // namespace locus::text
