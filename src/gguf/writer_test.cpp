// GgufWriter and write_gguf: files parse back, follow llama.cpp's layout, and round trips are byte exact.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "gguf/file.h"
#include "gguf/test_bytes.h"
#include "gguf/test_helpers.h"
#include "gguf/writer.h"

namespace locus::gguf {
namespace {

using testing::GgufBytes;

using testing::error_of;

std::string temp_path(const std::string& name) { return testing::temp_path("gguf_writer_test", name); }

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

// Opens `path`, writes it back with write_gguf and expects the very same bytes.
void expect_round_trip(const std::string& path) {
  const GgufFile f = GgufFile::open(path);
  const std::string copy = path + ".copy";
  write_gguf(copy, f.content(), f.data_section());
  EXPECT_EQ(testing::read_file(copy), testing::read_file(path)) << path;
  std::filesystem::remove(copy);
}

Value nested_value() {
  return Value::array(ValueType::ARRAY, {Value::i32_array({1, -2, 3}), Value::string_array({"a", "", "ccc"}),
                                         Value::array(ValueType::ARRAY, {Value::bool_array({true, false})})});
}

TEST(Writer, WrittenFileParsesBack) {
  const std::string path = temp_path("out.gguf");
  GgufWriter w;
  w.add("general.architecture", Value::string("gemma4"));
  w.add("k.u8", Value::u8(1));
  w.add("k.i8", Value::i8(-2));
  w.add("k.u16", Value::u16(3));
  w.add("k.i16", Value::i16(-4));
  w.add("k.u32", Value::u32(5));
  w.add("k.i32", Value::i32(-6));
  w.add("k.u64", Value::u64(1ull << 50));
  w.add("k.i64", Value::i64(-(1ll << 50)));
  w.add("k.f32", Value::f32(0.125f));
  w.add("k.f64", Value::f64(1e300));
  w.add("k.bool", Value::boolean(true));
  w.add("k.scores", Value::f32_array({0.5f, -1.5f}));
  w.add("k.ids", Value::u32_array({7, 8}));
  w.add("k.nested", nested_value());
  w.add_tensor("token_embd.weight", {64, 2}, GgmlType::Q8_0);  // 136 bytes
  w.add_tensor("output_norm.weight", {5}, GgmlType::F32);      // 20 bytes
  w.begin_data(path);
  const auto embd = pattern(136, 1);
  const auto norm = pattern(20, 9);
  w.write_tensor(embd);
  w.write_tensor(norm);
  w.finish();

  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.version(), 3u);
  ASSERT_EQ(f.content().metadata.size(), 15u);
  EXPECT_EQ(f.content().metadata[0].first, "general.architecture");
  EXPECT_EQ(f.get_string("general.architecture"), "gemma4");
  EXPECT_EQ(f.find("k.i8")->type, ValueType::INT8);
  EXPECT_EQ(f.get_i64("k.i8"), -2);
  EXPECT_EQ(f.get_u64("k.u64"), 1ull << 50);
  EXPECT_EQ(f.get_i64("k.i64"), -(1ll << 50));
  EXPECT_EQ(f.get_f32("k.f32"), 0.125f);
  EXPECT_EQ(std::get<double>(f.find("k.f64")->data), 1e300);
  EXPECT_TRUE(f.get_bool("k.bool"));
  EXPECT_EQ(f.get_array("k.scores").element_type, ValueType::FLOAT32);
  const Array& nested = f.get_array("k.nested");
  ASSERT_EQ(nested.items.size(), 3u);
  EXPECT_EQ(std::get<std::string>(nested.items[1].as_array()->items[2].data), "ccc");
  EXPECT_FALSE(std::get<bool>(nested.items[2].as_array()->items[0].as_array()->items[1].data));

  const auto t0 = f.tensor_data(*f.find_tensor("token_embd.weight"));
  EXPECT_EQ(std::vector<uint8_t>(t0.begin(), t0.end()), embd);
  const auto t1 = f.tensor_data(*f.find_tensor("output_norm.weight"));
  EXPECT_EQ(std::vector<uint8_t>(t1.begin(), t1.end()), norm);
  std::filesystem::remove(path);
}

TEST(Writer, LaysOutDataAsLlamaCppDoes) {
  const std::string path = temp_path("layout.gguf");
  GgufWriter w;
  w.add("general.name", Value::string("x"));
  w.add_tensor("a", {3}, GgmlType::F32);  // 12 bytes, padded to 32
  w.add_tensor("b", {0}, GgmlType::F32);  // empty
  w.add_tensor("c", {33}, GgmlType::F16);  // 66 bytes, padded to 96
  w.begin_data(path);
  w.write_tensor(pattern(12, 1));
  w.write_tensor({});
  w.write_tensor(pattern(66, 2));
  w.finish();
  EXPECT_EQ(w.tensors()[0].offset, 0u);
  EXPECT_EQ(w.tensors()[1].offset, 32u);
  EXPECT_EQ(w.tensors()[2].offset, 32u);

  const auto bytes = testing::read_file(path);
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.content().data_offset, w.data_offset());
  EXPECT_EQ(f.content().data_offset % 32, 0u);
  EXPECT_EQ(bytes.size(), f.content().data_offset + 32 + 96);  // the last tensor is padded too
  for (size_t i = f.content().data_offset + 12; i < f.content().data_offset + 32; ++i) EXPECT_EQ(bytes[i], 0);
  for (size_t i = bytes.size() - 30; i < bytes.size(); ++i) EXPECT_EQ(bytes[i], 0);
  // Zero padding between the tensor infos and the data section.
  EXPECT_EQ(bytes[f.content().data_offset - 1], 0);
  std::filesystem::remove(path);
}

TEST(Writer, NonDefaultAlignmentIsWrittenAndHonoured) {
  const std::string path = temp_path("aligned.gguf");
  GgufWriter w;
  w.add("general.name", Value::string("x"));
  w.set_alignment(128);
  w.add_tensor("a", {5}, GgmlType::F32);
  w.add_tensor("b", {5}, GgmlType::F32);
  w.begin_data(path);
  w.write_tensor(pattern(20, 1));
  w.write_tensor(pattern(20, 2));
  w.finish();
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.content().alignment, 128u);
  EXPECT_EQ(f.find("general.alignment")->type, ValueType::UINT32);
  EXPECT_EQ(f.get_u32("general.alignment"), 128u);
  EXPECT_EQ(f.content().data_offset % 128, 0u);
  EXPECT_EQ(f.find_tensor("b")->offset, 128u);
  EXPECT_EQ(f.file_size(), f.content().data_offset + 256);
  expect_round_trip(path);
  std::filesystem::remove(path);
}

TEST(Writer, SetAlignmentUpdatesAnExistingKeyAndRejectsNonPowersOfTwo) {
  GgufWriter w;
  w.add("general.alignment", Value::u32(64));
  w.set_alignment(32);
  const std::string path = temp_path("realigned.gguf");
  w.begin_data(path);
  w.finish();
  EXPECT_EQ(GgufFile::open(path).get_u32("general.alignment"), 32u);
  std::filesystem::remove(path);

  GgufWriter bad;
  EXPECT_NE(error_of([&] { bad.set_alignment(48); }).find("expected an alignment that is a power of two"),
            std::string::npos);
  EXPECT_NE(error_of([&] { bad.add("general.alignment", Value::u64(64)); }).find("expected u32, found u64"),
            std::string::npos);
}

TEST(Writer, StreamsTensorDataInChunks) {
  const std::string path = temp_path("chunks.gguf");
  const auto data = pattern(1000, 3);
  GgufWriter w;
  w.add_tensor("big", {250}, GgmlType::F32);
  w.begin_data(path);
  for (size_t at = 0; at < data.size(); at += 300) {
    w.write_tensor_chunk(std::span(data).subspan(at, std::min<size_t>(300, data.size() - at)));
  }
  w.end_tensor();
  w.finish();
  const GgufFile f = GgufFile::open(path);
  const auto got = f.tensor_data(*f.find_tensor("big"));
  EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.end()), data);
  std::filesystem::remove(path);
}

TEST(Writer, RejectsMisuseWithClearErrors) {
  GgufWriter w;
  w.add("general.name", Value::string("x"));
  EXPECT_NE(error_of([&] { w.add("general.name", Value::string("y")); }).find("found it added twice"),
            std::string::npos);
  w.add_tensor("t", {4}, GgmlType::F32);
  EXPECT_NE(error_of([&] { w.add_tensor("t", {4}, GgmlType::F32); }).find("found it added twice"), std::string::npos);
  EXPECT_NE(error_of([&] { w.add_tensor("q", {100}, GgmlType::Q4_K); }).find("found rows of 100 elements"),
            std::string::npos);
  EXPECT_NE(error_of([&] { w.add_tensor("q", {1, 1, 1, 1, 1}, GgmlType::F32); }).find("found 5"), std::string::npos);

  const std::string path = temp_path("misuse.gguf");
  w.begin_data(path);
  EXPECT_EQ(error_of([&] { w.write_tensor(pattern(15, 0)); }), path + ": tensor t: expected 16 bytes, found 15");
  GgufWriter short_writer;
  short_writer.add_tensor("t", {4}, GgmlType::F32);
  short_writer.begin_data(path + ".2");
  EXPECT_EQ(error_of([&] { short_writer.write_tensor(pattern(17, 0)); }),
            path + ".2: tensor t: expected 16 bytes, found at least 17");
  EXPECT_EQ(error_of([&] { short_writer.finish(); }), path + ".2: expected data for 1 tensors, found 0");
}

TEST(Writer, DeletesAnUnfinishedFile) {
  const std::string path = temp_path("unfinished.gguf");
  {
    GgufWriter w;
    w.add_tensor("t", {4}, GgmlType::F32);
    w.begin_data(path);
    EXPECT_TRUE(std::filesystem::exists(path));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Writer, RejectsValuesWhoseTypeAndContentDisagree) {
  const std::string path = temp_path("bad_value.gguf");
  GgufWriter w;
  w.add("k", Value{ValueType::UINT8, uint64_t{300}});
  EXPECT_EQ(error_of([&] { w.begin_data(path); }), path + ": key k: expected a u8 value, found 300");
  GgufWriter w2;
  w2.add("k", Value{ValueType::STRING, uint64_t{1}});
  EXPECT_EQ(error_of([&] { w2.begin_data(path); }), path + ": key k: a string value holds content of another type");
  GgufWriter w_float;
  w_float.add("k", Value{ValueType::FLOAT32, 1e300});
  EXPECT_NE(error_of([&] { w_float.begin_data(path); }).find("key k: expected an f32 value, found 1"), std::string::npos);
  GgufWriter w3;
  w3.add("k", Value::array(ValueType::UINT32, {Value::u32(1), Value::i32(2)}));
  EXPECT_EQ(error_of([&] { w3.begin_data(path); }), path + ": key k: expected array items of type u32, found i32");
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(WriteGguf, RoundTripsItsOwnFilesByteForByte) {
  const std::string path = temp_path("own.gguf");
  GgufWriter w;
  w.set_alignment(64);
  w.add("general.architecture", Value::string("gemma4"));
  w.add("k.nested", nested_value());
  w.add("k.f32", Value::f32(-0.0f));
  w.add_tensor("a", {32, 2}, GgmlType::Q4_0);
  w.add_tensor("b", {3}, GgmlType::I8);
  w.begin_data(path);
  w.write_tensor(pattern(36, 5));
  w.write_tensor(pattern(3, 6));
  w.finish();
  expect_round_trip(path);
  std::filesystem::remove(path);
}

TEST(WriteGguf, RoundTripsHandBuiltFilesByteForByte) {
  // Version 2, alignment 64, every value type, nested arrays, NaN payloads, tensors out of order with a gap,
  // and data bytes in the padding (the data section is copied verbatim).
  auto b = GgufBytes::header(3, 17, 2);
  b.key("general.alignment", ValueType::UINT32).u32(64);
  b.key("k.u8", ValueType::UINT8).u8(255);
  b.key("k.i8", ValueType::INT8).i8(-128);
  b.key("k.u16", ValueType::UINT16).u16(65535);
  b.key("k.i16", ValueType::INT16).i16(-32768);
  b.key("k.u32", ValueType::UINT32).u32(UINT32_MAX);
  b.key("k.i32", ValueType::INT32).i32(INT32_MIN);
  b.key("k.u64", ValueType::UINT64).u64(UINT64_MAX);
  b.key("k.i64", ValueType::INT64).i64(INT64_MIN);
  b.key("k.f32.snan", ValueType::FLOAT32).u32(0x7f800001u);
  b.key("k.f32.qnan", ValueType::FLOAT32).u32(0xffc01234u);
  b.key("k.f32.denormal", ValueType::FLOAT32).u32(0x00000001u);
  b.key("k.f64", ValueType::FLOAT64).u64(0x7ff0000000000001ull);
  b.key("k.bool", ValueType::BOOL).u8(0);
  b.key("k.string", ValueType::STRING).str(std::string("a\0b\xff", 4));
  b.key("k.nested", ValueType::ARRAY).array_of(ValueType::ARRAY, 2);
  b.array_of(ValueType::FLOAT32, 2).u32(0x7fa00000u).f32(1.0f);
  b.array_of(ValueType::ARRAY, 1).array_of(ValueType::STRING, 1).str("deep");
  b.key("k.empty", ValueType::ARRAY).array_of(ValueType::INT64, 0);
  b.tensor_info("second", {16}, GgmlType::F32, 128);
  b.tensor_info("first", {32, 2}, GgmlType::Q8_0, 0);
  b.tensor_info("scalar", {}, GgmlType::F32, 256);
  b.pad_to(64);
  b.fill(68, 1).fill(60, 0xab).fill(64, 2).fill(64, 0xcd).fill(4, 3).fill(60, 0);
  const std::string path = temp_path("hand.gguf");
  testing::write_file(path, b.bytes());
  expect_round_trip(path);
  std::filesystem::remove(path);
}

TEST(WriteGguf, RoundTripsFilesWithoutTensors) {
  auto b = GgufBytes::header(0, 1);
  b.key("general.name", ValueType::STRING).str("metadata only");
  const std::string bare = temp_path("bare.gguf");
  testing::write_file(bare, b.bytes());  // ends right after the metadata
  expect_round_trip(bare);
  b.zeros(3);  // a few padding bytes, short of the alignment
  testing::write_file(bare, b.bytes());
  expect_round_trip(bare);
  b.pad_to(32).zeros(40);  // padded, then bytes in the data section
  testing::write_file(bare, b.bytes());
  expect_round_trip(bare);
  std::filesystem::remove(bare);
}

TEST(WriteGguf, RejectsContentThatWouldNotReadBack) {
  const std::string path = temp_path("inconsistent.gguf");
  GgufContent c;
  c.alignment = 64;  // but no general.alignment key
  EXPECT_EQ(error_of([&] { write_gguf(path, c, {}); }),
            path + ": expected general.alignment to match the alignment 64, found 32");
  c.alignment = 32;
  TensorInfo t;
  t.name = "t";
  t.shape = {8};
  t.type = GgmlType::F32;
  t.offset = 0;
  c.tensors.push_back(t);
  const std::vector<uint8_t> data(16);
  EXPECT_EQ(error_of([&] { write_gguf(path, c, data); }),
            path + ": tensor t: expected aligned data inside the 16-byte data section, found offset 0 and 32 bytes");
  c.data_offset = 7;
  EXPECT_NE(error_of([&] { write_gguf(path, c, data); }).find("expected the data section at byte"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(WriteGguf, EncodesHeadersThatParseToTheSameContent) {
  auto b = GgufBytes::header(1, 2);
  b.key("general.name", ValueType::STRING).str("x");
  b.key("k.nested", ValueType::ARRAY).array_of(ValueType::ARRAY, 1).array_of(ValueType::UINT16, 1).u16(9);
  b.tensor_info("t", {2, 2}, GgmlType::F16, 0);
  b.pad_to(32).fill(8, 1).zeros(24);
  const GgufContent c = parse_gguf(b.bytes().data(), b.size(), "in.gguf");
  const std::vector<uint8_t> header = encode_gguf_header(c);
  EXPECT_EQ(header, std::vector<uint8_t>(b.bytes().begin(), b.bytes().begin() + static_cast<ptrdiff_t>(c.data_offset)));
}

}  // namespace
}  // namespace locus::gguf
