#include "text/json_matcher.h"

#include <bit>
#include <charconv>
#include <cstring>

namespace locus::text {
namespace {

enum Phase : uint8_t {
  kOpen,        // after '{' or '[' (top level: before the value, no whitespace)
  kKey,         // the leaf is a key
  kAfterKey,
  kAfterColon,
  kValue,       // a child container or leaf value is being read
  kAfterValue,  // top level: done
  kAfterComma,
  kToolName,    // top level of a tool call: the leaf is `call:NAME`
  kToolArgs,    // top level of a tool call: count is the tool, its arguments object comes next
};

enum LeafKind : uint8_t { kLeafNone, kLeafString, kLeafKey, kLeafNumber, kLeafLiteral, kLeafToolName };

enum NumberPhase : uint8_t { kNumStart, kNumMinus, kNumZero, kNumInt, kNumDot, kNumFrac, kNumE, kNumESign, kNumExp };

enum StringPhase : uint8_t { kStrBody, kStrEscape, kStrHex1, kStrHex2, kStrHex3, kStrHex4 };

constexpr uint32_t kUnbounded = 0xFFFFFFFFu;
constexpr int kMaxExponent = 290;

bool is_ws(uint8_t b) { return b == ' ' || b == '\n' || b == '\t' || b == '\r'; }
bool is_digit(uint8_t b) { return b >= '0' && b <= '9'; }
int hex_value(uint8_t b) {
  if (b >= '0' && b <= '9') return b - '0';
  if (b >= 'a' && b <= 'f') return b - 'a' + 10;
  if (b >= 'A' && b <= 'F') return b - 'A' + 10;
  return -1;
}

// Must agree with tool_call_syntax.cpp's is_name_char (what the parser reads back as a bare key).
bool is_bare_byte(uint8_t u) {
  if (u < 0x20 || u == 0x7F || u == kSymQuote) return false;
  switch (u) {
    case ' ': case ':': case '{': case '}': case '[': case ']': case ',': case '<': case '>':
    case '"': case '\'': case '`': case '\\':
      return false;
    default:
      return true;
  }
}

// For a UTF-8 lead byte: how many continuation bytes follow and the range of the first one (the strict
// ranges exclude overlongs, surrogates and values above U+10FFFF). False for bytes that cannot lead.
bool utf8_lead(uint8_t b, uint8_t& need, uint8_t& lo, uint8_t& hi) {
  lo = 0x80;
  hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    need = 1;
  } else if (b >= 0xE0 && b <= 0xEF) {
    need = 2;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 3;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return false;
  }
  return true;
}

// Bits [next, first required at or after next] of an object's declared properties: the keys that may come
// now (a required one cannot be skipped).
uint64_t allowed_keys(const JsonNode& n, uint32_t next) {
  if (next >= n.count) return 0;
  const uint64_t all = n.count >= 64 ? ~uint64_t{0} : (uint64_t{1} << n.count) - 1;
  uint64_t bits = (~uint64_t{0} << next) & all;
  const uint64_t req = n.required & bits;
  if (req != 0) {
    const int r = std::countr_zero(req);
    bits &= r == 63 ? ~uint64_t{0} : (uint64_t{2} << r) - 1;
  }
  return bits;
}

bool required_left(const JsonNode& n, uint32_t next) {
  if (next >= 64) return false;
  return (n.required & (~uint64_t{0} << next)) != 0;
}

bool free_keys_allowed(const JsonNode& n, uint32_t next) {
  return n.child != kNoJsonNode && !required_left(n, next);
}

bool key_possible(const JsonNode& n, uint32_t next) {
  return allowed_keys(n, next) != 0 || free_keys_allowed(n, next);
}

uint32_t array_item(const JsonGrammar& g, const JsonNode& n, uint32_t i) {
  if (i < n.count) return g.prefix_items[n.first + i];
  return n.child;
}

bool array_item_allowed(const JsonGrammar& g, const JsonNode& n, uint32_t count) {
  if (n.max_len != kUnbounded && count >= n.max_len) return false;
  return array_item(g, n, count) != kNoJsonNode;
}

// Counting items only as far as a bound or prefixItems needs keeps states that behave alike equal (better
// cache hits for the caller).
uint16_t array_count_after_item(const JsonNode& n, uint16_t count) {
  const uint32_t cap = n.max_len != kUnbounded ? n.max_len : std::max(n.count, n.min_len);
  return count < cap && count < 65535 ? static_cast<uint16_t>(count + 1) : count;
}

// ---- number bounds ----

constexpr long double kPow10[] = {1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L, 1e11L,
                                  1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L};
constexpr int64_t kIPow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
                               10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000,
                               1000000000000000, 10000000000000000};

// Whether [lo, hi] (ends included as flagged) meets the node's allowed interval.
bool meets_bounds(const JsonNode& n, long double lo, bool lo_in, long double hi, bool hi_in) {
  if (n.has_min) {
    const long double m = n.min;
    if (m > lo) {
      lo = m;
      lo_in = !n.min_exclusive;
    } else if (m == lo) {
      lo_in = lo_in && !n.min_exclusive;
    }
  }
  if (n.has_max) {
    const long double m = n.max;
    if (m < hi) {
      hi = m;
      hi_in = !n.max_exclusive;
    } else if (m == hi) {
      hi_in = hi_in && !n.max_exclusive;
    }
  }
  return lo < hi || (lo == hi && lo_in && hi_in);
}

bool meets_signed(const JsonNode& n, bool negative, long double lo, bool lo_in, long double hi, bool hi_in) {
  if (negative) return meets_bounds(n, -hi, hi_in, -lo, lo_in);
  return meets_bounds(n, lo, lo_in, hi, hi_in);
}

bool imeets(const JsonNode& n, bool negative, int64_t lo, int64_t hi) {
  if (negative) {
    const int64_t a = -hi;
    hi = -lo;
    lo = a;
  }
  return std::max(lo, n.imin) <= std::min(hi, n.imax);
}

// Some completion of the number prefix in `l` lies within the node's bounds.
bool number_viable(const JsonLeaf& l, const JsonNode& n) {
  const bool neg = l.negative != 0;
  const auto v = static_cast<int64_t>(l.int_value);
  if (n.integer) {
    switch (l.phase) {
      case kNumMinus: return imeets(n, true, 0, kIPow10[16] - 1);
      case kNumZero: return imeets(n, false, 0, 0);
      case kNumInt:
        for (int e = 0; l.int_digits + e <= 16; ++e) {
          if (imeets(n, neg, v * kIPow10[e], v * kIPow10[e] + kIPow10[e] - 1)) return true;
        }
        return false;
      default: return false;
    }
  }
  const auto lv = static_cast<long double>(l.int_value);
  switch (l.phase) {
    case kNumMinus: return meets_signed(n, true, 0, true, kPow10[16], false);
    case kNumZero: return meets_signed(n, neg, 0, true, 1, false);
    case kNumInt:
      for (int e = 0; l.int_digits + e <= 16; ++e) {
        if (meets_signed(n, neg, lv * kPow10[e], true, (lv + 1) * kPow10[e], false)) return true;
      }
      return false;
    case kNumDot: return meets_signed(n, neg, lv, true, lv + 1, false);
    case kNumFrac: {
      const long double x = lv + static_cast<long double>(l.frac_value) / kPow10[l.frac_digits];
      if (l.frac_digits >= 16) return meets_signed(n, neg, x, true, x, true);
      return meets_signed(n, neg, x, true, x + 1 / kPow10[l.frac_digits], false);
    }
    default: return false;
  }
}

// The number read so far is complete and within bounds. The value is converted the way a JSON parser does
// (from the decimal text), so the matcher and a validator agree at the bounds.
bool number_complete(const JsonLeaf& l, const JsonNode& n) {
  if (l.phase != kNumZero && l.phase != kNumInt && l.phase != kNumFrac && l.phase != kNumExp) return false;
  if (!n.bounded) return true;
  if (n.integer) {
    const auto v = static_cast<int64_t>(l.int_value);
    const int64_t x = l.negative ? -v : v;
    return x >= n.imin && x <= n.imax;
  }
  char text[48];
  char* p = text;
  if (l.negative) *p++ = '-';
  p = std::to_chars(p, text + sizeof(text), l.int_value).ptr;
  if (l.phase == kNumFrac) {
    *p++ = '.';
    char digits[20];
    char* q = std::to_chars(digits, digits + sizeof(digits), l.frac_value).ptr;
    const int len = static_cast<int>(q - digits);
    for (int i = len; i < l.frac_digits; ++i) *p++ = '0';
    std::memcpy(p, digits, static_cast<size_t>(len));
    p += len;
  }
  double x = 0;
  std::from_chars(text, p, x);
  if (n.has_min && (x < n.min || (n.min_exclusive && x == n.min))) return false;
  if (n.has_max && (x > n.max || (n.max_exclusive && x == n.max))) return false;
  return true;
}

// ---- string formats ----

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

// A two-digit field from lo to hi: the first digit must leave some second digit in range.
bool two_digit_first(uint8_t b, int lo, int hi) {
  if (!is_digit(b)) return false;
  const int d = b - '0';
  return d * 10 <= hi && d * 10 + 9 >= lo;
}
bool two_digit_second(uint8_t tens, uint8_t b, int lo, int hi) {
  if (!is_digit(b)) return false;
  const int v = tens * 10 + (b - '0');
  return v >= lo && v <= hi;
}

// time: states 0-8 read HH:MM:SS, 8 waits for '.', 'Z' or an offset, 9 reads fraction digits (fmt_c of
// them), 11-15 the offset's HH:MM, 16 is complete.
bool time_step(JsonLeaf& l, uint8_t s, uint8_t b) {
  switch (s) {
    case 0: case 11:
      if (!two_digit_first(b, 0, 23)) return false;
      l.fmt_b = b - '0';
      return true;
    case 1: case 12: return two_digit_second(l.fmt_b, b, 0, 23);
    case 2: case 5: case 13: return b == ':';
    case 3: case 6: case 14:
      if (!two_digit_first(b, 0, 59)) return false;
      l.fmt_b = b - '0';
      return true;
    case 4: case 7: case 15: return two_digit_second(l.fmt_b, b, 0, 59);
    default: return false;
  }
}

// Returns the next time state after `b`, or -1.
int time_next(JsonLeaf& l, uint8_t s, uint8_t b) {
  if (s <= 7 || (s >= 11 && s <= 15)) return time_step(l, s, b) ? s + 1 : -1;
  if (s == 8) {
    if (b == '.') return 9;
    if (b == 'Z') return 16;
    if (b == '+' || b == '-') return 11;
    return -1;
  }
  if (s == 9 || s == 10) {
    if (is_digit(b) && l.fmt_c < 9) {
      ++l.fmt_c;
      return 10;
    }
    if (s == 10 && b == 'Z') return 16;
    if (s == 10 && (b == '+' || b == '-')) return 11;
    return -1;
  }
  return -1;
}

bool is_alnum(uint8_t b) { return is_digit(b) || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z'); }

bool format_step(JsonLeaf& l, StringFormat f, uint8_t b) {
  JsonLeaf t = l;
  switch (f) {
    case StringFormat::kDate:
    case StringFormat::kDateTime: {
      const uint8_t s = t.fmt_pos;
      if (s < 10) {
        bool ok = false;
        if (s < 4) {
          ok = is_digit(b);
          t.fmt_value = static_cast<uint16_t>(t.fmt_value * 10 + (b - '0'));
        } else if (s == 4 || s == 7) {
          ok = b == '-';
        } else if (s == 5) {
          ok = two_digit_first(b, 1, 12);
          t.fmt_a = static_cast<uint8_t>(b - '0');
        } else if (s == 6) {
          ok = two_digit_second(t.fmt_a, b, 1, 12);
          t.fmt_a = static_cast<uint8_t>(t.fmt_a * 10 + (b - '0'));
        } else if (s == 8) {
          ok = two_digit_first(b, 1, days_in_month(t.fmt_value, t.fmt_a));
          t.fmt_b = static_cast<uint8_t>(b - '0');
        } else {
          ok = two_digit_second(t.fmt_b, b, 1, days_in_month(t.fmt_value, t.fmt_a));
        }
        if (!ok) return false;
        ++t.fmt_pos;
        break;
      }
      if (f == StringFormat::kDate) return false;
      if (s == 10) {
        if (b != 'T') return false;
        t.fmt_pos = 11;
        break;
      }
      const int next = time_next(t, static_cast<uint8_t>(s - 11), b);
      if (next < 0) return false;
      t.fmt_pos = static_cast<uint8_t>(next + 11);
      break;
    }
    case StringFormat::kTime: {
      const int next = time_next(t, t.fmt_pos, b);
      if (next < 0) return false;
      t.fmt_pos = static_cast<uint8_t>(next);
      break;
    }
    case StringFormat::kUuid: {
      const uint8_t s = t.fmt_pos;
      if (s >= 36) return false;
      if (s == 8 || s == 13 || s == 18 || s == 23) {
        if (b != '-') return false;
      } else if (hex_value(b) < 0) {
        return false;
      }
      ++t.fmt_pos;
      break;
    }
    case StringFormat::kIpv4: {
      // fmt_a: octets finished, fmt_b: digits of this one, fmt_value: its value.
      if (is_digit(b)) {
        if (t.fmt_b > 0 && t.fmt_value == 0) return false;  // no leading zeros
        const int v = t.fmt_value * 10 + (b - '0');
        if (v > 255) return false;
        t.fmt_value = static_cast<uint16_t>(v);
        ++t.fmt_b;
      } else if (b == '.') {
        if (t.fmt_b == 0 || t.fmt_a >= 3) return false;
        ++t.fmt_a;
        t.fmt_b = 0;
        t.fmt_value = 0;
      } else {
        return false;
      }
      break;
    }
    case StringFormat::kEmail: {
      // fmt_pos: 0 local part, 1 domain; fmt_value: length of the part; fmt_a: length of the label;
      // fmt_b: last byte was 0 nothing/'.', 1 alnum (or atext), 2 '-'; fmt_c: dots in the domain (max 2).
      if (t.fmt_pos == 0) {
        if (is_alnum(b) || b == '_' || b == '+' || b == '-') {
          if (t.fmt_value >= 64) return false;
          ++t.fmt_value;
          t.fmt_b = 1;
        } else if (b == '.') {
          if (t.fmt_b != 1 || t.fmt_value >= 63) return false;
          ++t.fmt_value;
          t.fmt_b = 0;
        } else if (b == '@') {
          if (t.fmt_b != 1) return false;
          t.fmt_pos = 1;
          t.fmt_value = 0;
          t.fmt_b = 0;
        } else {
          return false;
        }
      } else {
        if (is_alnum(b)) {
          if (t.fmt_a >= 63 || t.fmt_value >= 253) return false;
          ++t.fmt_a;
          ++t.fmt_value;
          t.fmt_b = 1;
        } else if (b == '-') {
          if (t.fmt_a == 0 || t.fmt_a >= 62 || t.fmt_value >= 252) return false;
          ++t.fmt_a;
          ++t.fmt_value;
          t.fmt_b = 2;
        } else if (b == '.') {
          if (t.fmt_b != 1 || t.fmt_value >= 252) return false;
          ++t.fmt_value;
          t.fmt_a = 0;
          t.fmt_b = 0;
          if (t.fmt_c < 2) ++t.fmt_c;
        } else {
          return false;
        }
      }
      break;
    }
    case StringFormat::kNone: return false;
  }
  l = t;
  return true;
}

bool format_complete(const JsonLeaf& l, StringFormat f) {
  switch (f) {
    case StringFormat::kDate: return l.fmt_pos == 10;
    case StringFormat::kTime: return l.fmt_pos == 16;
    case StringFormat::kDateTime: return l.fmt_pos == 27;
    case StringFormat::kUuid: return l.fmt_pos == 36;
    case StringFormat::kIpv4: return l.fmt_a == 3 && l.fmt_b > 0;
    case StringFormat::kEmail: return l.fmt_pos == 1 && l.fmt_c >= 1 && l.fmt_b == 1;
    case StringFormat::kNone: return true;
  }
  return false;
}

uint64_t mix(uint64_t h, uint64_t w) {
  h ^= w + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 31);
}

}  // namespace

JsonMatcher::JsonMatcher(const JsonGrammar& grammar) : g_(&grammar) { reset(); }

void JsonMatcher::reset() {
  leaf_ = JsonLeaf{};
  depth_ = 1;
  frames_[0] = JsonFrame{g_->root, kOpen, 0, 0};
  if (g_->tool_call) {
    frames_[0].phase = kToolName;
    leaf_.kind = kLeafToolName;
    leaf_.trie = g_->tool_trie;
  }
}

void JsonMatcher::copy_from(const JsonMatcher& other) {
  g_ = other.g_;
  leaf_ = other.leaf_;
  depth_ = other.depth_;
  std::memcpy(frames_, other.frames_, sizeof(JsonFrame) * depth_);
}

bool JsonMatcher::advance(std::string_view bytes) {
  for (const char c : bytes) {
    if (!advance(static_cast<uint8_t>(c))) return false;
  }
  return true;
}

bool JsonMatcher::advance(uint8_t b) {
  if (leaf_.kind == kLeafNone) return frame_step(b);
  uint32_t chosen = 0;
  const uint8_t kind = leaf_.kind;
  const Step r = leaf_step(b, chosen);
  if (r == Step::kAccepted) return true;
  if (r == Step::kRejected) return false;
  JsonFrame& f = frames_[depth_ - 1];
  const JsonFrame saved = f;
  if (kind == kLeafKey) {
    f.phase = kAfterKey;
    f.count = static_cast<uint16_t>(chosen);
  } else if (kind == kLeafToolName) {
    f.phase = kToolArgs;
    f.count = static_cast<uint16_t>(chosen);
  } else {
    f.phase = kAfterValue;
  }
  f.ws = 0;
  leaf_.kind = kLeafNone;
  if (r == Step::kDone || frame_step(b)) return true;
  f = saved;
  leaf_.kind = kind;
  return false;
}

// Closes the container on top; its parent has read a value.
void JsonMatcher::finish_container() {
  --depth_;
  JsonFrame& parent = frames_[depth_ - 1];
  parent.phase = kAfterValue;
  parent.ws = 0;
}

bool JsonMatcher::frame_step(uint8_t b) {
  JsonFrame& f = frames_[depth_ - 1];
  if (depth_ == 1) {
    if (f.phase == kOpen) {
      if (!start_value(g_->root, b)) return false;
      return true;
    }
    if (f.phase == kToolArgs) return start_value(g_->tool_parameters[f.count], b);
    return false;
  }
  const JsonNode& n = g_->nodes[f.node];
  const bool object = n.kind == JsonNodeKind::kObject;
  if (is_ws(b)) {
    if (f.phase == kKey || f.phase == kValue || f.ws >= kMaxJsonWhitespace) return false;
    ++f.ws;
    return true;
  }
  switch (f.phase) {
    case kOpen:
      if (object) {
        if (b == '}') {
          if (required_left(n, 0)) return false;
          finish_container();
          return true;
        }
        return start_key(f, n, b);
      }
      if (b == ']') {
        if (n.min_len > 0) return false;
        finish_container();
        return true;
      }
      [[fallthrough]];
    case kAfterComma:
      if (object) return start_key(f, n, b);
      if (!array_item_allowed(*g_, n, f.count)) return false;
      {
        const JsonFrame saved = f;
        const uint32_t item = array_item(*g_, n, f.count);
        f.count = array_count_after_item(n, f.count);
        if (start_value(item, b)) return true;
        f = saved;
        return false;
      }
    case kAfterKey:
      if (b != ':') return false;
      f.phase = kAfterColon;
      f.ws = 0;
      return true;
    case kAfterColon: {
      const uint32_t p = f.count - 1u;
      return start_value(p < n.count ? g_->properties[n.first + p].node : n.child, b);
    }
    case kAfterValue:
      if (b == ',') {
        if (object ? !key_possible(n, f.count) : !array_item_allowed(*g_, n, f.count)) return false;
        f.phase = kAfterComma;
        f.ws = 0;
        return true;
      }
      if (object ? b == '}' && !required_left(n, f.count) : b == ']' && f.count >= n.min_len) {
        finish_container();
        return true;
      }
      return false;
    default:
      return false;
  }
}

// Starts reading the value of grammar node `node` whose first byte is `b`, below the top frame (which then
// waits for it in kValue). Changes nothing when `b` cannot start it.
bool JsonMatcher::start_value(uint32_t node, uint8_t b) {
  const JsonNode* n = &g_->nodes[node];
  if (n->kind == JsonNodeKind::kAlt) {
    node = g_->alt_tables[n->alt_table][b];
    if (node == kNoJsonNode) return false;
    n = &g_->nodes[node];
  }
  JsonFrame& f = frames_[depth_ - 1];
  switch (n->kind) {
    case JsonNodeKind::kObject:
    case JsonNodeKind::kArray:
      if (b != (n->kind == JsonNodeKind::kObject ? '{' : '[')) return false;
      if (depth_ >= static_cast<uint32_t>(kMaxJsonDepth) + 1) return false;
      f.phase = kValue;
      f.ws = 0;
      frames_[depth_++] = JsonFrame{node, kOpen, 0, 0};
      return true;
    case JsonNodeKind::kString: {
      if (b != (g_->dialect == JsonDialect::kJson ? '"' : kSymQuote)) return false;
      leaf_ = JsonLeaf{};
      leaf_.kind = kLeafString;
      leaf_.node = node;
      break;
    }
    case JsonNodeKind::kNumber: {
      const JsonLeaf saved = leaf_;
      leaf_ = JsonLeaf{};
      leaf_.kind = kLeafNumber;
      leaf_.node = node;
      if (number_step(b) != Step::kAccepted) {
        leaf_ = saved;
        return false;
      }
      break;
    }
    case JsonNodeKind::kLiterals: {
      const uint32_t next = g_->trie_next(n->trie, b);
      if (next == kNoJsonNode) return false;
      leaf_ = JsonLeaf{};
      leaf_.kind = kLeafLiteral;
      leaf_.trie = next;
      break;
    }
    default:
      return false;
  }
  f.phase = kValue;
  f.ws = 0;
  return true;
}

bool JsonMatcher::start_key(JsonFrame& f, const JsonNode& n, uint8_t b) {
  if (!key_possible(n, f.count)) return false;
  const JsonLeaf saved = leaf_;
  leaf_ = JsonLeaf{};
  leaf_.kind = kLeafKey;
  leaf_.node = f.node;
  leaf_.trie = n.trie;
  leaf_.allowed = allowed_keys(n, f.count);
  leaf_.free_key = free_keys_allowed(n, f.count) ? 1 : 0;
  if (g_->dialect == JsonDialect::kJson) {
    if (b != '"') {
      leaf_ = saved;
      return false;
    }
  } else {
    uint32_t unused = 0;
    if (bare_key_step(b, unused) != Step::kAccepted) {
      leaf_ = saved;
      return false;
    }
  }
  f.phase = kKey;
  f.ws = 0;
  return true;
}

JsonMatcher::Step JsonMatcher::leaf_step(uint8_t b, uint32_t& chosen) {
  switch (leaf_.kind) {
    case kLeafString: return string_step(b, chosen);
    case kLeafKey:
      return g_->dialect == JsonDialect::kJson ? string_step(b, chosen) : bare_key_step(b, chosen);
    case kLeafNumber: return number_step(b);
    case kLeafLiteral:
    case kLeafToolName: {
      const uint32_t next = g_->trie_next(leaf_.trie, b);
      if (next != kNoJsonNode) {
        leaf_.trie = next;
        return Step::kAccepted;
      }
      const int32_t terminal = g_->trie_nodes[leaf_.trie].terminal;
      if (terminal < 0) return Step::kRejected;
      chosen = static_cast<uint32_t>(terminal);
      return Step::kEnded;
    }
    default: return Step::kRejected;
  }
}

// The key trie position after decoded key byte `b`, or false when no allowed key can follow.
bool JsonMatcher::key_feed(uint8_t b, uint32_t& trie) const {
  const uint32_t next = leaf_.trie == kNoJsonNode ? kNoJsonNode : g_->trie_next(leaf_.trie, b);
  if (leaf_.free_key) {
    trie = next;  // still followed: an undeclared key must not spell a declared name
    return true;
  }
  if (next == kNoJsonNode || (g_->trie_nodes[next].subtree_ids & leaf_.allowed) == 0) return false;
  trie = next;
  return true;
}

bool JsonMatcher::key_finish(uint32_t& chosen) const {
  if (leaf_.trie != kNoJsonNode) {
    const int32_t t = g_->trie_nodes[leaf_.trie].terminal;
    if (t >= 0) {
      if (((leaf_.allowed >> t) & 1) == 0) return false;
      chosen = static_cast<uint32_t>(t) + 1;
      return true;
    }
  }
  if (!leaf_.free_key) return false;
  chosen = g_->nodes[leaf_.node].count + 1;
  return true;
}

JsonMatcher::Step JsonMatcher::string_step(uint8_t b, uint32_t& chosen) {
  JsonLeaf& l = leaf_;
  const bool key = l.kind == kLeafKey;
  const bool json = g_->dialect == JsonDialect::kJson;
  if (l.utf8_need > 0) {
    if (b < l.utf8_lo || b > l.utf8_hi) return Step::kRejected;
    if (key && !key_feed(b, l.trie)) return Step::kRejected;
    --l.utf8_need;
    l.utf8_lo = 0x80;
    l.utf8_hi = 0xBF;
    return Step::kAccepted;
  }
  const JsonNode* n = key ? nullptr : &g_->nodes[l.node];
  switch (l.phase) {
    case kStrBody: {
      if (b == (json ? '"' : kSymQuote)) {
        if (key) return key_finish(chosen) ? Step::kDone : Step::kRejected;
        if (l.count < n->min_len) return Step::kRejected;
        if (n->format != StringFormat::kNone && !format_complete(l, n->format)) return Step::kRejected;
        return Step::kDone;
      }
      if (n != nullptr && n->format != StringFormat::kNone) {
        return format_step(l, n->format, b) ? Step::kAccepted : Step::kRejected;
      }
      // A new code point: within maxLength, and counted only as far as a bound needs.
      if (n != nullptr && n->max_len != kUnbounded && l.count >= n->max_len) return Step::kRejected;
      const uint32_t cap = n == nullptr ? 0 : (n->max_len != kUnbounded ? n->max_len : n->min_len);
      const uint32_t count = l.count < cap ? l.count + 1 : l.count;
      if (json && b == '\\') {
        if (key && !l.free_key) {
          // Only when some escape leads on to an allowed key.
          bool any = false;
          for (const uint8_t c : {'"', '\\', '/', '\b', '\f', '\n', '\r', '\t'}) {
            uint32_t t = 0;
            any = any || key_feed(c, t);
          }
          if (!any) return Step::kRejected;
        }
        l.count = count;
        l.phase = kStrEscape;
        return Step::kAccepted;
      }
      if (b < 0x20) {
        if (json || (b != '\t' && b != '\n' && b != '\r')) return Step::kRejected;
      }
      if (b < 0x80) {
        if (key && !key_feed(b, l.trie)) return Step::kRejected;
        l.count = count;
        return Step::kAccepted;
      }
      uint8_t need = 0, lo = 0, hi = 0;
      if (!utf8_lead(b, need, lo, hi)) return Step::kRejected;
      if (key && !key_feed(b, l.trie)) return Step::kRejected;
      l.count = count;
      l.utf8_need = need;
      l.utf8_lo = lo;
      l.utf8_hi = hi;
      return Step::kAccepted;
    }
    case kStrEscape: {
      uint8_t decoded = 0;
      switch (b) {
        case '"': decoded = '"'; break;
        case '\\': decoded = '\\'; break;
        case '/': decoded = '/'; break;
        case 'b': decoded = '\b'; break;
        case 'f': decoded = '\f'; break;
        case 'n': decoded = '\n'; break;
        case 'r': decoded = '\r'; break;
        case 't': decoded = '\t'; break;
        case 'u':
          if (key) return Step::kRejected;
          l.phase = kStrHex1;
          return Step::kAccepted;
        default: return Step::kRejected;
      }
      if (key && !key_feed(decoded, l.trie)) return Step::kRejected;
      l.phase = kStrBody;
      return Step::kAccepted;
    }
    case kStrHex1:
    case kStrHex2:
    case kStrHex3:
    case kStrHex4: {
      const int v = hex_value(b);
      if (v < 0) return Step::kRejected;
      if (l.phase == kStrHex2 && l.hex == 0xD && v >= 8) return Step::kRejected;  // a surrogate
      if (l.phase == kStrHex1) l.hex = static_cast<uint8_t>(v);
      l.phase = static_cast<uint8_t>(l.phase == kStrHex4 ? kStrBody : l.phase + 1);
      return Step::kAccepted;
    }
    default: return Step::kRejected;
  }
}

JsonMatcher::Step JsonMatcher::bare_key_step(uint8_t b, uint32_t& chosen) {
  JsonLeaf& l = leaf_;
  if (l.utf8_need > 0) {
    if (b < l.utf8_lo || b > l.utf8_hi) return Step::kRejected;
    if (!key_feed(b, l.trie)) return Step::kRejected;
    --l.utf8_need;
    l.utf8_lo = 0x80;
    l.utf8_hi = 0xBF;
    return Step::kAccepted;
  }
  if (b == ':' || is_ws(b)) {
    if (l.count == 0) return Step::kRejected;
    return key_finish(chosen) ? Step::kEnded : Step::kRejected;
  }
  if (!is_bare_byte(b)) return Step::kRejected;
  uint8_t need = 0, lo = 0, hi = 0;
  if (b >= 0x80 && !utf8_lead(b, need, lo, hi)) return Step::kRejected;
  if (!key_feed(b, l.trie)) return Step::kRejected;
  l.count = 1;  // only "not empty" matters
  l.utf8_need = need;
  l.utf8_lo = lo;
  l.utf8_hi = hi;
  return Step::kAccepted;
}

JsonMatcher::Step JsonMatcher::number_step(uint8_t b) {
  const JsonNode& n = g_->nodes[leaf_.node];
  JsonLeaf t = leaf_;
  const bool exponent_ok = !n.integer && !n.bounded;
  const bool digit = is_digit(b);
  const int d = b - '0';
  bool took = true;
  switch (t.phase) {
    case kNumStart:
    case kNumMinus:
      if (b == '-' && t.phase == kNumStart) {
        t.negative = 1;
        t.phase = kNumMinus;
      } else if (b == '0') {
        t.phase = kNumZero;
        t.int_digits = 1;
      } else if (digit) {
        t.phase = kNumInt;
        t.int_value = static_cast<uint64_t>(d);
        t.int_digits = 1;
      } else {
        return Step::kRejected;
      }
      break;
    case kNumZero:
    case kNumInt:
      if (digit && t.phase == kNumInt && t.int_digits < 16) {
        t.int_value = t.int_value * 10 + static_cast<uint64_t>(d);
        ++t.int_digits;
      } else if (b == '.' && !n.integer) {
        t.phase = kNumDot;
      } else if ((b == 'e' || b == 'E') && exponent_ok) {
        t.phase = kNumE;
      } else {
        took = false;
      }
      break;
    case kNumDot:
    case kNumFrac:
      if (digit && t.frac_digits < 16) {
        t.frac_value = t.frac_value * 10 + static_cast<uint64_t>(d);
        ++t.frac_digits;
        t.phase = kNumFrac;
      } else if (t.phase == kNumFrac && (b == 'e' || b == 'E') && exponent_ok) {
        t.phase = kNumE;
      } else if (t.phase == kNumDot) {
        return Step::kRejected;
      } else {
        took = false;
      }
      break;
    case kNumE:
    case kNumESign:
      if ((b == '+' || b == '-') && t.phase == kNumE) {
        t.phase = kNumESign;
      } else if (digit) {
        t.phase = kNumExp;
        t.exp_digits = 1;
        t.fmt_value = static_cast<uint16_t>(d);
      } else {
        return Step::kRejected;
      }
      break;
    case kNumExp:
      // At most 290 either way: 16 digits times 1e290 is still a finite double (and 1e-306 not yet
      // subnormal), and parsers such as nlohmann::json refuse numbers that overflow.
      if (digit && t.exp_digits < 3 && t.fmt_value * 10 + d <= kMaxExponent) {
        ++t.exp_digits;
        t.fmt_value = static_cast<uint16_t>(t.fmt_value * 10 + d);
      } else {
        took = false;
      }
      break;
    default: return Step::kRejected;
  }
  if (!took) return number_complete(leaf_, n) ? Step::kEnded : Step::kRejected;
  if (n.bounded && !number_viable(t, n)) return Step::kRejected;
  leaf_ = t;
  return Step::kAccepted;
}

bool JsonMatcher::leaf_can_end() const {
  switch (leaf_.kind) {
    case kLeafNumber: return number_complete(leaf_, g_->nodes[leaf_.node]);
    case kLeafLiteral: return g_->trie_nodes[leaf_.trie].terminal >= 0;
    default: return false;
  }
}

std::optional<uint32_t> plain_string_length(std::string_view text, JsonDialect dialect) {
  if (text.empty()) return std::nullopt;
  const bool json = dialect == JsonDialect::kJson;
  uint32_t count = 0;
  size_t i = 0;
  while (i < text.size()) {
    const uint8_t b = static_cast<uint8_t>(text[i]);
    if (b < 0x80) {
      if (b < 0x20 && (json || (b != '\t' && b != '\n' && b != '\r'))) return std::nullopt;
      if (json && (b == '"' || b == '\\')) return std::nullopt;
      ++i;
      ++count;
      continue;
    }
    uint8_t need = 0, lo = 0, hi = 0;
    if (!utf8_lead(b, need, lo, hi)) return std::nullopt;
    if (i + 1 + need > text.size()) return std::nullopt;
    for (uint8_t k = 0; k < need; ++k) {
      const uint8_t c = static_cast<uint8_t>(text[i + 1 + k]);
      if (c < lo || c > hi) return std::nullopt;
      lo = 0x80;
      hi = 0xBF;
    }
    i += 1 + need;
    ++count;
  }
  return count;
}

std::optional<uint32_t> JsonMatcher::plain_string_budget() const {
  const JsonLeaf& l = leaf_;
  if (l.kind != kLeafString || l.phase != kStrBody || l.utf8_need != 0) return std::nullopt;
  const JsonNode& n = g_->nodes[l.node];
  if (n.format != StringFormat::kNone) return std::nullopt;
  if (n.max_len == kUnbounded) return kUnbounded;
  return l.count >= n.max_len ? 0 : n.max_len - l.count;
}

bool JsonMatcher::can_end() const {
  if (depth_ != 1) return false;
  const JsonFrame& f = frames_[0];
  if (f.phase == kAfterValue) return true;
  return f.phase == kValue && leaf_can_end();
}

bool JsonMatcher::done() const {
  if (!can_end()) return false;
  if (frames_[0].phase == kAfterValue) return true;
  for (int b = 0; b < 256; ++b) {
    JsonMatcher probe(*this);
    if (probe.advance(static_cast<uint8_t>(b))) return false;
  }
  return true;
}

uint64_t JsonMatcher::state_hash() const {
  uint64_t h = mix(0x6A09E667F3BCC908ull, depth_);
  for (uint32_t i = 0; i < depth_; ++i) {
    uint64_t w = 0;
    std::memcpy(&w, &frames_[i], sizeof(w));
    h = mix(h, w);
  }
  if (leaf_.kind != kLeafNone) {
    uint64_t words[sizeof(JsonLeaf) / 8];
    std::memcpy(words, &leaf_, sizeof(words));
    for (const uint64_t w : words) h = mix(h, w);
  }
  return h;
}

bool JsonMatcher::same_state(const JsonMatcher& other) const {
  if (depth_ != other.depth_ || leaf_.kind != other.leaf_.kind) return false;
  if (std::memcmp(frames_, other.frames_, sizeof(JsonFrame) * depth_) != 0) return false;
  return leaf_.kind == kLeafNone || std::memcmp(&leaf_, &other.leaf_, sizeof(JsonLeaf)) == 0;
}

}  // namespace locus::text
