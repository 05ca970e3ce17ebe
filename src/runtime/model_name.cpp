#include "runtime/model_name.h"

#include <cctype>
#include <vector>

#include "runtime/store_error.h"

namespace locus::runtime {
namespace {

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

std::string quoted_char(char c) {
  if (std::isprint(static_cast<unsigned char>(c)) != 0) return std::string("'") + c + "'";
  static constexpr char kDigits[] = "0123456789abcdef";
  const auto u = static_cast<unsigned char>(c);
  return std::string("byte 0x") + kDigits[u >> 4] + kDigits[u & 15];
}

}  // namespace

std::string model_name_part_problem(std::string_view part, std::string_view which) {
  const bool host = which == "host";
  const size_t limit = host ? kMaxHostChars : kMaxPartChars;
  if (part.empty()) return "is empty";
  if (part.size() > limit) {
    return "is " + std::to_string(part.size()) + " characters long, at most " + std::to_string(limit) + " allowed";
  }
  if (!is_word_char(part[0])) return "must start with a letter, digit or '_', found " + quoted_char(part[0]);
  for (char c : part.substr(1)) {
    if (is_word_char(c) || c == '-') continue;
    if (c == '.' && which != "namespace") continue;
    if (c == ':' && host) continue;
    std::string allowed = "letters, digits, '_', '-'";
    if (which != "namespace") allowed += ", '.'";
    if (host) allowed += ", ':'";
    return "may only hold " + allowed + "; found " + quoted_char(c);
  }
  return {};
}

ModelName parse_model_name(std::string_view text) {
  const auto fail = [&](const std::string& why) -> void {
    throw StoreError(StoreErrorKind::invalid_name, "invalid model name \"" + std::string(text) + "\": " + why);
  };
  if (text.empty()) fail("expected [host/][namespace/]model[:tag], found an empty string");
  if (text.find('@') != std::string_view::npos) fail("digest references (name@sha256:...) are not supported");

  ModelName n;
  std::string_view rest = text;
  // The tag follows the last ':' after the last '/'; a ':' before a '/' belongs to a host's port.
  const size_t slash = rest.rfind('/');
  const size_t colon = rest.rfind(':');
  bool has_tag = false;
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    n.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    has_tag = true;
  }

  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t end = rest.find('/', start);
    parts.push_back(rest.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (parts.size() > 3) {
    fail("expected [host/][namespace/]model[:tag], found " + std::to_string(parts.size()) + " parts separated by '/'");
  }
  n.model = std::string(parts.back());
  if (parts.size() >= 2) n.name_space = std::string(parts[parts.size() - 2]);
  if (parts.size() == 3) n.host = std::string(parts[0]);

  const auto check = [&](std::string_view part, std::string_view which) {
    std::string problem = model_name_part_problem(part, which);
    if (problem.empty()) return;
    std::string msg = std::string(which) + " \"" + std::string(part) + "\" " + problem;
    if (which == "namespace" && parts.size() == 2 && part.find('.') != std::string_view::npos) {
      msg += " (a registry host needs host/namespace/model)";
    }
    fail(msg);
  };
  if (parts.size() == 3) check(n.host, "host");
  if (parts.size() >= 2) check(n.name_space, "namespace");
  check(n.model, "model");
  if (has_tag) check(n.tag, "tag");
  return n;
}

std::string ModelName::display() const {
  std::string s;
  if (!iequal(host, kDefaultHost)) {
    s = host + "/" + name_space + "/";
  } else if (!iequal(name_space, kDefaultNamespace)) {
    s = name_space + "/";
  }
  return s + model + ":" + tag;
}

std::string ModelName::full() const { return host + "/" + name_space + "/" + model + ":" + tag; }

std::filesystem::path ModelName::manifest_relative_path() const {
  return std::filesystem::path(host) / name_space / model / tag;
}

bool ModelName::same_model_as(const ModelName& o) const {
  return iequal(host, o.host) && iequal(name_space, o.name_space) && iequal(model, o.model) && iequal(tag, o.tag);
}

}  // namespace locus::runtime
