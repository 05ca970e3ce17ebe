// The files of one corpus or regressions folder, for the replay tests: regular files, hidden ones skipped,
// sorted by path so failures name the same input on every run. A missing folder gives none.
#pragma once

#include <algorithm>
#include <filesystem>
#include <vector>

namespace locus::fuzz {

inline std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  if (!std::filesystem::exists(dir)) return files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace locus::fuzz
