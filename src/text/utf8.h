// UTF-8 helpers for the tokenizer. Two different rules for bad bytes live here, on purpose:
//
// - llama.cpp's rule (`next_code_point_llama`), which the encoder must follow to give the same ids: a lead
//   byte announces a length, the announced continuation bytes are checked for the 10xxxxxx pattern only, and a
//   failure consumes one byte and yields U+FFFD. Overlong forms and surrogates decode to their (odd) code
//   point, which is then written back in its shortest form.
// - The Unicode/WHATWG rule (`sanitize_utf8`, Utf8StreamDecoder): a U+FFFD for each maximal subpart of an
//   ill-formed sequence. This is what browsers and V8 (so Node.js) do; text leaving locus follows it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace locus::text {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Appends the shortest UTF-8 form of `cp` (any value up to 0x10FFFF, surrogates included, as llama.cpp
// writes them). Values above 0x10FFFF append U+FFFD.
void append_utf8(std::string& out, char32_t cp);

// Decodes one code point at `offset` with llama.cpp's rule and advances `offset` (by one byte on failure).
// Code points above 0x10FFFF (lead bytes F4..F7 with a large payload) come back as they decode; the caller
// decides what to do with them.
char32_t next_code_point_llama(std::string_view text, size_t& offset);

// True when `text` is well-formed UTF-8 (shortest forms, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// `text` with every maximal subpart of an ill-formed sequence replaced by U+FFFD (the Unicode/WHATWG rule).
std::string sanitize_utf8(std::string_view text);

}  // namespace locus::text
