// GGUF metadata values: the thirteen scalar/string/array value types of the format, arrays nested to any depth.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace locus::gguf {

// Numbering as in the GGUF specification.
enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

std::string_view value_type_name(ValueType t);  // "u32", "string", "array", ...

struct Value;

// A homogeneous array; element_type may itself be ARRAY (nested arrays).
struct Array {
  ValueType element_type = ValueType::UINT8;
  std::vector<Value> items;
};

struct Value {
  ValueType type = ValueType::UINT8;
  // Integers are held widened; `type` keeps the exact on-disk type for round trips.
  std::variant<uint64_t, int64_t, double, bool, std::string, std::shared_ptr<Array>> data;

  static Value u8(uint8_t v) { return {ValueType::UINT8, uint64_t{v}}; }
  static Value i8(int8_t v) { return {ValueType::INT8, int64_t{v}}; }
  static Value u16(uint16_t v) { return {ValueType::UINT16, uint64_t{v}}; }
  static Value i16(int16_t v) { return {ValueType::INT16, int64_t{v}}; }
  static Value u32(uint32_t v) { return {ValueType::UINT32, uint64_t{v}}; }
  static Value i32(int32_t v) { return {ValueType::INT32, int64_t{v}}; }
  static Value u64(uint64_t v) { return {ValueType::UINT64, v}; }
  static Value i64(int64_t v) { return {ValueType::INT64, v}; }
  static Value f32(float v) { return {ValueType::FLOAT32, double{v}}; }
  static Value f64(double v) { return {ValueType::FLOAT64, v}; }
  static Value boolean(bool v) { return {ValueType::BOOL, v}; }
  static Value string(std::string v) { return {ValueType::STRING, std::move(v)}; }
  static Value array(ValueType element_type, std::vector<Value> items);

  // Convenience builders for common homogeneous arrays.
  static Value string_array(const std::vector<std::string>& v);
  static Value i32_array(const std::vector<int32_t>& v);
  static Value u32_array(const std::vector<uint32_t>& v);
  static Value f32_array(const std::vector<float>& v);
  static Value bool_array(const std::vector<bool>& v);

  bool is_integer() const;  // any of the 8 integer types
  bool is_float() const;    // FLOAT32 or FLOAT64
  const Array* as_array() const;  // nullptr unless ARRAY
};

}  // namespace locus::gguf
