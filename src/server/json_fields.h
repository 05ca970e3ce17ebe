// Reading typed fields out of a request body with errors that name the field, what was expected and what was
// found. Internal to the server's parsers.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace locus::server {

using OrderedJson = nlohmann::ordered_json;

// Thrown by the parsers' helpers and turned into an ApiError at the parser's boundary; the parsers are not on
// a hot path and every helper would otherwise have to forward an error.
class FieldError : public std::runtime_error {
 public:
  FieldError(std::string param, const std::string& message, int http_status = 400)
      : std::runtime_error(message), param_(std::move(param)), http_status_(http_status) {}
  const std::string& param() const { return param_; }
  int http_status() const { return http_status_; }

 private:
  std::string param_;
  int http_status_;
};

// A short description of a JSON value for error messages: `string "abc"`, `number 1.5`, `an object`, ...;
// `nothing` for a missing field. Long strings are cut.
std::string describe_json(const OrderedJson* value);

// Throws "PATH: expected EXPECTED, found DESCRIPTION".
[[noreturn]] void fail_field(const std::string& path, std::string_view expected, const OrderedJson* found);

// "a.b" / "a[3]" paths.
std::string field_path(const std::string& parent, std::string_view key);
std::string index_path(const std::string& parent, size_t index);

// The member or nullptr when it is missing or null (Go's decoder treats null as "not sent" for these fields).
const OrderedJson* find_field(const OrderedJson& object, std::string_view key);

// Typed reads; nullopt when missing or null, a FieldError for the wrong type. Integers accept integral numbers
// written as floats (2.0) but not fractions.
std::optional<std::string> read_string(const OrderedJson& object, std::string_view key, const std::string& parent);
std::optional<bool> read_bool(const OrderedJson& object, std::string_view key, const std::string& parent);
std::optional<int64_t> read_int(const OrderedJson& object, std::string_view key, const std::string& parent);
std::optional<double> read_number(const OrderedJson& object, std::string_view key, const std::string& parent);

// Go's int64(float64) conversion: the value truncated toward zero, range-checked (Ollama options ints).
int64_t truncate_to_int(const OrderedJson& value, const std::string& path, int64_t min, int64_t max);

}  // namespace locus::server
