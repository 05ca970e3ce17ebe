// For GoogleTest tests of src/gguf only: per-test temporary paths and capturing a GgufError's message.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "gguf/file.h"

namespace locus::gguf::testing {

// A path in the test temp folder, unique to the running test (prefix names the test binary).
inline std::string temp_path(const std::string& prefix, const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return ::testing::TempDir() + prefix + "_" + info->name() + "_" + name;
}

// The message of the GgufError that f throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const GgufError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace locus::gguf::testing
