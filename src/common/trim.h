// Leading and trailing white space (isspace in the C locale) cut from a view.
#pragma once

#include <cctype>
#include <string_view>

namespace locus::common {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace locus::common
