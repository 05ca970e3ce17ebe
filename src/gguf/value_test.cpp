// Metadata values: type names, builders and classification.
#include <gtest/gtest.h>

#include "gguf/value.h"

namespace locus::gguf {
namespace {

TEST(Value, NamesEveryType) {
  const std::pair<ValueType, const char*> names[] = {
      {ValueType::UINT8, "u8"},     {ValueType::INT8, "i8"},     {ValueType::UINT16, "u16"},
      {ValueType::INT16, "i16"},    {ValueType::UINT32, "u32"},  {ValueType::INT32, "i32"},
      {ValueType::FLOAT32, "f32"},  {ValueType::BOOL, "bool"},   {ValueType::STRING, "string"},
      {ValueType::ARRAY, "array"},  {ValueType::UINT64, "u64"},  {ValueType::INT64, "i64"},
      {ValueType::FLOAT64, "f64"}};
  for (const auto& [type, name] : names) EXPECT_EQ(value_type_name(type), name);
  EXPECT_EQ(value_type_name(static_cast<ValueType>(99)), "unknown");
}

TEST(Value, BuildersKeepTheExactType) {
  EXPECT_EQ(Value::u8(1).type, ValueType::UINT8);
  EXPECT_EQ(Value::i16(-1).type, ValueType::INT16);
  EXPECT_EQ(std::get<int64_t>(Value::i16(-1).data), -1);
  EXPECT_EQ(std::get<double>(Value::f32(0.5f).data), 0.5);
  EXPECT_EQ(Value::f64(0.5).type, ValueType::FLOAT64);
  EXPECT_TRUE(std::get<bool>(Value::boolean(true).data));
  EXPECT_EQ(std::get<std::string>(Value::string("s").data), "s");
}

TEST(Value, ArrayBuildersMakeHomogeneousArrays) {
  const Value s = Value::string_array({"a", "b"});
  ASSERT_NE(s.as_array(), nullptr);
  EXPECT_EQ(s.as_array()->element_type, ValueType::STRING);
  EXPECT_EQ(std::get<std::string>(s.as_array()->items[1].data), "b");
  EXPECT_EQ(Value::i32_array({1}).as_array()->items[0].type, ValueType::INT32);
  EXPECT_EQ(Value::u32_array({1}).as_array()->element_type, ValueType::UINT32);
  EXPECT_EQ(Value::f32_array({1}).as_array()->element_type, ValueType::FLOAT32);
  EXPECT_EQ(Value::bool_array({true, false}).as_array()->items.size(), 2u);
  const Value nested = Value::array(ValueType::ARRAY, {Value::i32_array({})});
  EXPECT_EQ(nested.as_array()->items[0].as_array()->element_type, ValueType::INT32);
}

TEST(Value, ClassifiesIntegersFloatsAndArrays) {
  for (const Value& v : {Value::u8(0), Value::i8(0), Value::u16(0), Value::i16(0), Value::u32(0), Value::i32(0),
                         Value::u64(0), Value::i64(0)}) {
    EXPECT_TRUE(v.is_integer());
    EXPECT_FALSE(v.is_float());
  }
  EXPECT_TRUE(Value::f32(0).is_float());
  EXPECT_TRUE(Value::f64(0).is_float());
  EXPECT_FALSE(Value::boolean(true).is_integer());
  EXPECT_EQ(Value::string("x").as_array(), nullptr);
}

}  // namespace
}  // namespace locus::gguf
