// JsonMatcher: the state of a deterministic pushdown automaton over a compiled JsonGrammar (json_grammar.h),
// fed one byte at a time. Constrained decoding copies it to probe candidate tokens, so the state is a fixed
// array of 8-byte frames (one per open container, plus the top level) and one leaf (the string, number, key or
// literal being read); advance() never allocates.
//
// What the matcher accepts beyond the schema's own rules:
//  - no whitespace before the top-level value or after it; at most kMaxJsonWhitespace bytes of whitespace
//    (space, \n, \t, \r) between two structural tokens;
//  - kJson strings: strict UTF-8 (no overlongs, surrogates or values above U+10FFFF), no raw bytes < 0x20,
//    escapes \" \\ \/ \b \f \n \r \t \uXXXX (not D800-DFFF); keys take no \u escapes;
//  - kGemmaToolArgs strings: kSymQuote, strict UTF-8 text (raw, no escapes; of the control bytes only \t \n \r),
//    kSymQuote; keys are bare (tool_call_syntax.h's name characters) and end at ':' or whitespace;
//  - containers beyond kMaxJsonDepth cannot be opened (a recursive schema that needs one there is a dead end:
//    no byte is allowed and can_end() is false);
//  - arrays without maxItems hold at most 65535 counted items where a count matters (minItems, prefixItems).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "text/json_grammar.h"

namespace locus::text {

struct JsonFrame {
  uint32_t node;   // the object or array node (the grammar's root for the top-level frame)
  uint8_t phase;
  uint8_t ws;      // whitespace bytes since the last structural token
  uint16_t count;  // object: next declared property (count+1 past the last: extra keys); array: items so far
};

// The value or key being read; fields are used per kind and zeroed when a leaf starts, so that equal
// states compare equal byte for byte.
struct JsonLeaf {
  uint64_t int_value;    // number: integer digits
  uint64_t frac_value;   // number: fraction digits
  uint64_t allowed;      // key: declared properties that may come now
  uint32_t node;         // string/number: the grammar node
  uint32_t trie;         // key/literal/tool name: trie position (kNoJsonNode: off the key trie)
  uint32_t count;        // string: code points (only while a length bound needs it)
  uint16_t fmt_value;    // format: year, octet value, part length
  uint8_t kind;
  uint8_t phase;
  uint8_t utf8_need;     // continuation bytes still due, and the range the next one must be in
  uint8_t utf8_lo;
  uint8_t utf8_hi;
  uint8_t negative;
  uint8_t int_digits;
  uint8_t frac_digits;
  uint8_t exp_digits;
  uint8_t free_key;      // key: an undeclared key is allowed here
  uint8_t hex;           // \u escape: first hex digit
  uint8_t fmt_pos;
  uint8_t fmt_a;
  uint8_t fmt_b;
  uint8_t fmt_c;
  uint8_t unused[3];  // explicit, so that no padding byte is left undefined
};
static_assert(sizeof(JsonLeaf) == 56, "JsonLeaf must have no padding: states are compared byte for byte");

// Text that any plain string state (JsonMatcher::plain_string_budget) accepts: strict UTF-8 made of whole code
// points; in kJson no '"', '\\' or bytes below 0x20; in kGemmaToolArgs no bytes below 0x20 other than \t \n \r.
// Returns its length in code points, or nothing when the text is not plain (or empty).
std::optional<uint32_t> plain_string_length(std::string_view text, JsonDialect dialect);

class JsonMatcher {
 public:
  explicit JsonMatcher(const JsonGrammar& grammar);  // the grammar must outlive the matcher

  // False when `byte` cannot come next; the state is then unchanged.
  bool advance(uint8_t byte);
  // Feeds `bytes` in order and stops at the first rejected one: false then, with the state after the accepted
  // prefix (not all or nothing; copy the matcher first to probe).
  bool advance(std::string_view bytes);
  // The input so far is one complete value (end of generation may come now).
  bool can_end() const;
  // Complete, and no further byte is possible (a top-level number can go on, so it is not done).
  bool done() const;
  void reset();

  // Inside the text of a string value (not a key, no format, not in an escape, at a code-point boundary): how
  // many more code points maxLength allows (UINT32_MAX when unbounded). Such a state accepts every plain text
  // (is_plain_string_text) of at most that many code points, whatever else the state holds, which lets a caller
  // skip simulating those. Nothing otherwise.
  std::optional<uint32_t> plain_string_budget() const;

  // Equal states hash equal; a cache key.
  uint64_t state_hash() const;
  // Exact state equality (the same grammar assumed).
  bool same_state(const JsonMatcher& other) const;
  // Becomes a copy of `other`, copying only the frames in use (cheaper than assignment on deep stacks).
  void copy_from(const JsonMatcher& other);

  int depth() const { return depth_ - 1; }  // open containers

 private:
  enum class Step : uint8_t { kRejected, kAccepted, kDone, kEnded };

  bool frame_step(uint8_t b);
  bool start_value(uint32_t node, uint8_t b);
  bool start_key(JsonFrame& f, const JsonNode& n, uint8_t b);
  void finish_container();
  Step leaf_step(uint8_t b, uint32_t& chosen);
  Step string_step(uint8_t b, uint32_t& chosen);
  Step bare_key_step(uint8_t b, uint32_t& chosen);
  Step number_step(uint8_t b);
  bool key_feed(uint8_t b, uint32_t& trie) const;
  bool key_finish(uint32_t& chosen) const;
  bool leaf_can_end() const;

  const JsonGrammar* g_;
  JsonLeaf leaf_;
  uint32_t depth_;  // frames in use, the top-level frame included
  JsonFrame frames_[kMaxJsonDepth + 1];
};

}  // namespace locus::text
