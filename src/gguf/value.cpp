#include "gguf/value.h"

namespace locus::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "u8";
    case ValueType::INT8: return "i8";
    case ValueType::UINT16: return "u16";
    case ValueType::INT16: return "i16";
    case ValueType::UINT32: return "u32";
    case ValueType::INT32: return "i32";
    case ValueType::FLOAT32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "u64";
    case ValueType::INT64: return "i64";
    case ValueType::FLOAT64: return "f64";
  }
  return "unknown";
}

Value Value::array(ValueType element_type, std::vector<Value> items) {
  auto a = std::make_shared<Array>();
  a->element_type = element_type;
  a->items = std::move(items);
  return {ValueType::ARRAY, std::move(a)};
}

Value Value::string_array(const std::vector<std::string>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (const auto& s : v) items.push_back(string(s));
  return array(ValueType::STRING, std::move(items));
}

Value Value::i32_array(const std::vector<int32_t>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (int32_t x : v) items.push_back(i32(x));
  return array(ValueType::INT32, std::move(items));
}

Value Value::u32_array(const std::vector<uint32_t>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (uint32_t x : v) items.push_back(u32(x));
  return array(ValueType::UINT32, std::move(items));
}

Value Value::f32_array(const std::vector<float>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (float x : v) items.push_back(f32(x));
  return array(ValueType::FLOAT32, std::move(items));
}

Value Value::bool_array(const std::vector<bool>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (bool x : v) items.push_back(boolean(x));
  return array(ValueType::BOOL, std::move(items));
}

bool Value::is_integer() const {
  switch (type) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::UINT16:
    case ValueType::INT16:
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::UINT64:
    case ValueType::INT64: return true;
    default: return false;
  }
}

bool Value::is_float() const { return type == ValueType::FLOAT32 || type == ValueType::FLOAT64; }

const Array* Value::as_array() const {
  if (type != ValueType::ARRAY) return nullptr;
  const auto* p = std::get_if<std::shared_ptr<Array>>(&data);
  return p != nullptr ? p->get() : nullptr;
}

}  // namespace locus::gguf
