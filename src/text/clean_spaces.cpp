#include "text/clean_spaces.h"

namespace locus::text {

namespace {

void drop_space_before_punctuation(std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char next = i + 1 < s.size() ? s[i + 1] : '\0';
    if (s[i] == ' ' && (next == '?' || next == '!' || next == '.' || next == ',')) continue;
    out.push_back(s[i]);
  }
  s.swap(out);
}

void join_lone_apostrophes(std::string& s) {
  if (s.empty()) return;
  std::string out(1, s[0]);
  out.reserve(s.size());
  char prev = s[0];  // the byte before s[i], or '\0' after a space that a join used up
  for (size_t i = 1; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\'' && i + 1 < s.size() && prev == ' ' && s[i + 1] == ' ') {
      out.pop_back();  // the space before
      out.push_back(c);
      ++i;  // the space after is used up and not looked at as anyone's neighbour
      prev = '\0';
      continue;
    }
    out.push_back(c);
    prev = c;
  }
  s.swap(out);
}

void join_contractions(std::string& s) {
  if (s.empty()) return;
  std::string out(1, s[0]);
  out.reserve(s.size());
  for (size_t i = 1; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\'' && s[i - 1] == ' ' && i + 1 < s.size()) {
      const char c1 = s[i + 1];
      const char c2 = i + 2 < s.size() ? s[i + 2] : '\0';
      const bool join = c1 == 's' || c1 == 'm' || (c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e');
      if (join) out.pop_back();
    }
    out.push_back(c);
  }
  s.swap(out);
}

}  // namespace

void clean_spaces(std::string& text) {
  drop_space_before_punctuation(text);
  join_lone_apostrophes(text);
  join_contractions(text);
}

}  // namespace locus::text
