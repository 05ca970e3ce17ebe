#include "server/json_fields.h"

#include <cmath>

namespace locus::server {

std::string describe_json(const OrderedJson* value) {
  if (value == nullptr) return "nothing";
  switch (value->type()) {
    case OrderedJson::value_t::null: return "null";
    case OrderedJson::value_t::boolean: return value->get<bool>() ? "true" : "false";
    case OrderedJson::value_t::object: return "an object";
    case OrderedJson::value_t::array: return "an array";
    case OrderedJson::value_t::string: {
      // Cut by bytes, then let dump() replace a split UTF-8 character rather than throw on it.
      constexpr size_t kMax = 40;
      const std::string& s = value->get_ref<const std::string&>();
      if (s.size() <= kMax) return "string " + value->dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
      OrderedJson cut = s.substr(0, kMax);
      std::string quoted = cut.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
      quoted.insert(quoted.size() - 1, "...");
      return "string " + quoted;
    }
    case OrderedJson::value_t::binary:
    case OrderedJson::value_t::discarded: return "an unsupported value";
    default: return "number " + value->dump();
  }
}

void fail_field(const std::string& path, std::string_view expected, const OrderedJson* found) {
  throw FieldError(path, path + ": expected " + std::string(expected) + ", found " + describe_json(found));
}

std::string field_path(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return parent + "." + std::string(key);
}

std::string index_path(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

const OrderedJson* find_field(const OrderedJson& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string> read_string(const OrderedJson& object, std::string_view key, const std::string& parent) {
  const OrderedJson* v = find_field(object, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) fail_field(field_path(parent, key), "a string", v);
  return v->get<std::string>();
}

std::optional<bool> read_bool(const OrderedJson& object, std::string_view key, const std::string& parent) {
  const OrderedJson* v = find_field(object, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) fail_field(field_path(parent, key), "true or false", v);
  return v->get<bool>();
}

std::optional<int64_t> read_int(const OrderedJson& object, std::string_view key, const std::string& parent) {
  const OrderedJson* v = find_field(object, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      fail_field(field_path(parent, key), "a 64-bit integer", v);
    }
    return v->get<int64_t>();
  }
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.0e18) return static_cast<int64_t>(d);
  }
  fail_field(field_path(parent, key), "an integer", v);
}

std::optional<double> read_number(const OrderedJson& object, std::string_view key, const std::string& parent) {
  const OrderedJson* v = find_field(object, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) fail_field(field_path(parent, key), "a number", v);
  return v->get<double>();
}

int64_t truncate_to_int(const OrderedJson& value, const std::string& path, int64_t min, int64_t max) {
  if (!value.is_number()) fail_field(path, "an integer (a JSON number)", &value);
  const std::string range = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() > static_cast<uint64_t>(max)) fail_field(path, range, &value);
    return static_cast<int64_t>(value.get<uint64_t>());
  }
  if (value.is_number_integer()) {
    const int64_t i = value.get<int64_t>();
    if (i < min || i > max) fail_field(path, range, &value);
    return i;
  }
  const double t = std::trunc(value.get<double>());
  // The bounds as doubles are exact enough: int32 bounds are exact, int64 bounds round to +-2^63.
  if (!std::isfinite(t) || t < static_cast<double>(min) || t >= static_cast<double>(max) + 1.0) {
    fail_field(path, range, &value);
  }
  return static_cast<int64_t>(t);
}

}  // namespace locus::server
