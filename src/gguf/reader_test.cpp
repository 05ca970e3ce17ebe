// parse_gguf on well-formed input: every value type, nested arrays, the tensor directory and data placement.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "gguf/file.h"
#include "gguf/test_bytes.h"

namespace locus::gguf {
namespace {

using testing::GgufBytes;

GgufContent parse(const GgufBytes& b) { return parse_gguf(b.bytes().data(), b.size(), "model.gguf"); }

TEST(Reader, ParsesEveryValueTypeInFileOrder) {
  auto b = GgufBytes::header(0, 13);
  b.key("k.u8", ValueType::UINT8).u8(200);
  b.key("k.i8", ValueType::INT8).i8(-100);
  b.key("k.u16", ValueType::UINT16).u16(60000);
  b.key("k.i16", ValueType::INT16).i16(-30000);
  b.key("k.u32", ValueType::UINT32).u32(4000000000u);
  b.key("k.i32", ValueType::INT32).i32(-2000000000);
  b.key("k.f32", ValueType::FLOAT32).f32(1.5f);
  b.key("k.bool", ValueType::BOOL).u8(1);
  b.key("k.string", ValueType::STRING).str("gemma4");
  b.key("k.array", ValueType::ARRAY).array_of(ValueType::INT32, 3).i32(1).i32(-2).i32(3);
  b.key("k.u64", ValueType::UINT64).u64(UINT64_MAX);
  b.key("k.i64", ValueType::INT64).i64(INT64_MIN);
  b.key("k.f64", ValueType::FLOAT64).f64(-0.25);
  const GgufContent c = parse(b);

  EXPECT_EQ(c.version, 3u);
  EXPECT_EQ(c.alignment, 32u);
  EXPECT_TRUE(c.tensors.empty());
  ASSERT_EQ(c.metadata.size(), 13u);
  const char* keys[] = {"k.u8",   "k.i8",     "k.u16",   "k.i16", "k.u32", "k.i32", "k.f32",
                        "k.bool", "k.string", "k.array", "k.u64", "k.i64", "k.f64"};
  for (size_t i = 0; i < 13; ++i) EXPECT_EQ(c.metadata[i].first, keys[i]);

  auto at = [&](size_t i) -> const Value& { return c.metadata[i].second; };
  EXPECT_EQ(at(0).type, ValueType::UINT8);
  EXPECT_EQ(std::get<uint64_t>(at(0).data), 200u);
  EXPECT_EQ(at(1).type, ValueType::INT8);
  EXPECT_EQ(std::get<int64_t>(at(1).data), -100);
  EXPECT_EQ(at(2).type, ValueType::UINT16);
  EXPECT_EQ(std::get<uint64_t>(at(2).data), 60000u);
  EXPECT_EQ(at(3).type, ValueType::INT16);
  EXPECT_EQ(std::get<int64_t>(at(3).data), -30000);
  EXPECT_EQ(at(4).type, ValueType::UINT32);
  EXPECT_EQ(std::get<uint64_t>(at(4).data), 4000000000u);
  EXPECT_EQ(at(5).type, ValueType::INT32);
  EXPECT_EQ(std::get<int64_t>(at(5).data), -2000000000);
  EXPECT_EQ(at(6).type, ValueType::FLOAT32);
  EXPECT_EQ(std::get<double>(at(6).data), 1.5);
  EXPECT_EQ(at(7).type, ValueType::BOOL);
  EXPECT_TRUE(std::get<bool>(at(7).data));
  EXPECT_EQ(at(8).type, ValueType::STRING);
  EXPECT_EQ(std::get<std::string>(at(8).data), "gemma4");
  ASSERT_NE(at(9).as_array(), nullptr);
  EXPECT_EQ(at(9).as_array()->element_type, ValueType::INT32);
  ASSERT_EQ(at(9).as_array()->items.size(), 3u);
  EXPECT_EQ(std::get<int64_t>(at(9).as_array()->items[1].data), -2);
  EXPECT_EQ(at(10).type, ValueType::UINT64);
  EXPECT_EQ(std::get<uint64_t>(at(10).data), UINT64_MAX);
  EXPECT_EQ(at(11).type, ValueType::INT64);
  EXPECT_EQ(std::get<int64_t>(at(11).data), INT64_MIN);
  EXPECT_EQ(at(12).type, ValueType::FLOAT64);
  EXPECT_EQ(std::get<double>(at(12).data), -0.25);
}

TEST(Reader, ParsesArraysOfEveryElementType) {
  auto b = GgufBytes::header(0, 12);
  b.key("a.u8", ValueType::ARRAY).array_of(ValueType::UINT8, 2).u8(1).u8(255);
  b.key("a.i8", ValueType::ARRAY).array_of(ValueType::INT8, 1).i8(-1);
  b.key("a.u16", ValueType::ARRAY).array_of(ValueType::UINT16, 1).u16(7);
  b.key("a.i16", ValueType::ARRAY).array_of(ValueType::INT16, 1).i16(-7);
  b.key("a.u32", ValueType::ARRAY).array_of(ValueType::UINT32, 1).u32(9);
  b.key("a.f32", ValueType::ARRAY).array_of(ValueType::FLOAT32, 2).f32(0.5f).f32(-3.0f);
  b.key("a.bool", ValueType::ARRAY).array_of(ValueType::BOOL, 3).u8(1).u8(0).u8(1);
  b.key("a.string", ValueType::ARRAY).array_of(ValueType::STRING, 3).str("<pad>").str("").str("\xff\xfe");
  b.key("a.u64", ValueType::ARRAY).array_of(ValueType::UINT64, 1).u64(1ull << 40);
  b.key("a.i64", ValueType::ARRAY).array_of(ValueType::INT64, 1).i64(-(1ll << 40));
  b.key("a.f64", ValueType::ARRAY).array_of(ValueType::FLOAT64, 1).f64(2.5);
  b.key("a.empty", ValueType::ARRAY).array_of(ValueType::STRING, 0);
  const GgufContent c = parse(b);
  ASSERT_EQ(c.metadata.size(), 12u);
  const ValueType element_types[] = {ValueType::UINT8,  ValueType::INT8,   ValueType::UINT16, ValueType::INT16,
                                     ValueType::UINT32, ValueType::FLOAT32, ValueType::BOOL,  ValueType::STRING,
                                     ValueType::UINT64, ValueType::INT64,  ValueType::FLOAT64, ValueType::STRING};
  for (size_t i = 0; i < 12; ++i) {
    const Array* a = c.metadata[i].second.as_array();
    ASSERT_NE(a, nullptr) << c.metadata[i].first;
    EXPECT_EQ(a->element_type, element_types[i]) << c.metadata[i].first;
    for (const Value& item : a->items) EXPECT_EQ(item.type, a->element_type);
  }
  EXPECT_EQ(std::get<uint64_t>(c.metadata[0].second.as_array()->items[1].data), 255u);
  EXPECT_EQ(std::get<double>(c.metadata[5].second.as_array()->items[1].data), -3.0);
  EXPECT_FALSE(std::get<bool>(c.metadata[6].second.as_array()->items[1].data));
  const auto& strings = c.metadata[7].second.as_array()->items;
  EXPECT_EQ(std::get<std::string>(strings[0].data), "<pad>");
  EXPECT_EQ(std::get<std::string>(strings[1].data), "");
  EXPECT_EQ(std::get<std::string>(strings[2].data), "\xff\xfe");  // not UTF-8: kept as bytes
  EXPECT_TRUE(c.metadata[11].second.as_array()->items.empty());
}

TEST(Reader, ParsesNestedArraysWhoseInnerArraysHaveTheirOwnElementTypes) {
  auto b = GgufBytes::header(0, 1);
  b.key("nested", ValueType::ARRAY).array_of(ValueType::ARRAY, 3);
  b.array_of(ValueType::INT32, 2).i32(1).i32(2);
  b.array_of(ValueType::STRING, 1).str("x");
  b.array_of(ValueType::ARRAY, 1).array_of(ValueType::UINT8, 0);
  const GgufContent c = parse(b);
  const Array* outer = c.metadata[0].second.as_array();
  ASSERT_NE(outer, nullptr);
  EXPECT_EQ(outer->element_type, ValueType::ARRAY);
  ASSERT_EQ(outer->items.size(), 3u);
  ASSERT_NE(outer->items[0].as_array(), nullptr);
  EXPECT_EQ(outer->items[0].as_array()->element_type, ValueType::INT32);
  EXPECT_EQ(std::get<int64_t>(outer->items[0].as_array()->items[1].data), 2);
  EXPECT_EQ(outer->items[1].as_array()->element_type, ValueType::STRING);
  const Array* third = outer->items[2].as_array();
  ASSERT_NE(third, nullptr);
  ASSERT_EQ(third->items.size(), 1u);
  EXPECT_EQ(third->items[0].as_array()->element_type, ValueType::UINT8);
  EXPECT_TRUE(third->items[0].as_array()->items.empty());
}

TEST(Reader, AcceptsArraysNestedEightLevelsDeep) {
  auto b = GgufBytes::header(0, 1);
  b.key("deep", ValueType::ARRAY);
  for (int level = 1; level < 8; ++level) b.array_of(ValueType::ARRAY, 1);
  b.array_of(ValueType::UINT8, 1).u8(42);
  const GgufContent c = parse(b);
  const Value* v = &c.metadata[0].second;
  for (int level = 1; level < 8; ++level) v = &v->as_array()->items[0];
  EXPECT_EQ(std::get<uint64_t>(v->as_array()->items[0].data), 42u);
}

TEST(Reader, ParsesVersion2) {
  auto b = GgufBytes::header(0, 1, 2);
  b.key("general.architecture", ValueType::STRING).str("gemma4");
  const GgufContent c = parse(b);
  EXPECT_EQ(c.version, 2u);
  EXPECT_EQ(std::get<std::string>(c.metadata[0].second.data), "gemma4");
}

TEST(Reader, ReadsTensorDirectoryAndPlacesDataAtAlignedOffset) {
  auto b = GgufBytes::header(3, 1);
  b.key("general.architecture", ValueType::STRING).str("gemma4");
  b.tensor_info("token_embd.weight", {64, 3}, GgmlType::Q8_0, 0);          // 2 blocks * 34 * 3 = 204
  b.tensor_info("output_norm.weight", {64}, GgmlType::F32, 224);          // 256
  b.tensor_info("blk.0.attn_q.weight", {256, 2}, GgmlType::Q4_K, 480);    // 144 * 2 = 288
  const size_t infos_end = b.size();
  b.pad_to(32);
  const size_t data_offset = b.size();
  b.fill(204, 1).zeros(20).fill(256, 2).fill(288, 3);
  const GgufContent c = parse(b);

  EXPECT_EQ(c.data_offset, data_offset);
  EXPECT_GT(c.data_offset, infos_end);
  EXPECT_EQ(c.data_offset % 32, 0u);
  ASSERT_EQ(c.tensors.size(), 3u);
  EXPECT_EQ(c.tensors[0].name, "token_embd.weight");
  EXPECT_EQ(c.tensors[0].shape, (std::vector<uint64_t>{64, 3}));
  EXPECT_EQ(c.tensors[0].type, GgmlType::Q8_0);
  EXPECT_EQ(c.tensors[0].n_bytes, 204u);
  EXPECT_EQ(c.tensors[0].n_elements(), 192u);
  EXPECT_EQ(c.tensors[1].offset, 224u);
  EXPECT_EQ(c.tensors[1].n_bytes, 256u);
  EXPECT_EQ(c.tensors[2].type, GgmlType::Q4_K);
  EXPECT_EQ(c.tensors[2].n_bytes, 288u);
}

TEST(Reader, HonoursGeneralAlignment) {
  auto b = GgufBytes::header(2, 1);
  b.key("general.alignment", ValueType::UINT32).u32(256);
  b.tensor_info("a", {8}, GgmlType::F32, 0);
  b.tensor_info("b", {8}, GgmlType::F32, 256);
  b.pad_to(256);
  const size_t data_offset = b.size();
  b.fill(32, 1).zeros(224).fill(32, 2);
  const GgufContent c = parse(b);
  EXPECT_EQ(c.alignment, 256u);
  EXPECT_EQ(c.data_offset, data_offset);
  EXPECT_EQ(c.data_offset % 256, 0u);
}

TEST(Reader, AcceptsTensorsInAnyOrderWithGapsAndEmptyTensorsSharingAnOffset) {
  auto b = GgufBytes::header(4, 0);
  b.tensor_info("late", {4}, GgmlType::F32, 64);
  b.tensor_info("early", {4}, GgmlType::F32, 0);
  b.tensor_info("empty", {0, 7}, GgmlType::Q4_0, 0);  // no elements, no bytes
  b.tensor_info("scalar", {}, GgmlType::F32, 96);     // zero dimensions: one element
  b.pad_to(32);
  b.zeros(100);
  const GgufContent c = parse(b);
  ASSERT_EQ(c.tensors.size(), 4u);
  EXPECT_EQ(c.tensors[0].name, "late");
  EXPECT_EQ(c.tensors[2].n_bytes, 0u);
  EXPECT_EQ(c.tensors[2].n_elements(), 0u);
  EXPECT_TRUE(c.tensors[3].shape.empty());
  EXPECT_EQ(c.tensors[3].n_elements(), 1u);
  EXPECT_EQ(c.tensors[3].n_bytes, 4u);
}

TEST(Reader, FileWithoutTensorsMayEndRightAfterMetadata) {
  auto b = GgufBytes::header(0, 1);
  b.key("general.name", ValueType::STRING).str("x");  // 24 + 8 + 12 + 4 + 8 + 1 = 57 bytes
  ASSERT_NE(b.size() % 32, 0u);
  const GgufContent c = parse(b);
  EXPECT_EQ(c.data_offset, b.size());

  b.pad_to(32);
  EXPECT_EQ(parse(b).data_offset, b.size());
}

TEST(Reader, KeepsTheBitsOfNaNFloats) {
  const uint32_t signalling_nan = 0x7f800001u;
  const uint32_t negative_quiet_nan_with_payload = 0xffc01234u;
  auto b = GgufBytes::header(0, 2);
  b.key("a", ValueType::FLOAT32).u32(signalling_nan);
  b.key("b", ValueType::FLOAT32).u32(negative_quiet_nan_with_payload);
  const GgufContent c = parse(b);
  EXPECT_TRUE(std::isnan(std::get<double>(c.metadata[0].second.data)));
  EXPECT_TRUE(std::isnan(std::get<double>(c.metadata[1].second.data)));
  EXPECT_TRUE(std::signbit(std::get<double>(c.metadata[1].second.data)));
}

}  // namespace
}  // namespace locus::gguf
