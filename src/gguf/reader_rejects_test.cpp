// parse_gguf on malformed input: each kind of damage gives a one-line GgufError naming the file and saying
// what was expected and what was found, before any allocation sized by the damaged field.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string_view>

#include "gguf/file.h"
#include "gguf/test_bytes.h"

namespace locus::gguf {
namespace {

using testing::GgufBytes;

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    parse_gguf(bytes.data(), bytes.size(), "model.gguf");
  } catch (const GgufError& e) {
    return e.what();
  }
  return "(no error)";
}

// The message names the file, holds each part, and is one line.
void expect_error(const GgufBytes& b, std::initializer_list<std::string_view> parts) {
  const std::string msg = error_of(b.bytes());
  EXPECT_EQ(msg.rfind("model.gguf: ", 0), 0u) << msg;
  for (std::string_view p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "missing \"" << p << "\" in: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

// A small valid file with metadata, two tensors and their data.
GgufBytes valid_file() {
  auto b = GgufBytes::header(2, 3);
  b.key("general.architecture", ValueType::STRING).str("gemma4");
  b.key("gemma4.block_count", ValueType::UINT32).u32(2);
  b.key("tokenizer.ggml.tokens", ValueType::ARRAY).array_of(ValueType::STRING, 2).str("a").str("b");
  b.tensor_info("a", {32}, GgmlType::Q8_0, 0);
  b.tensor_info("b", {4, 2}, GgmlType::F32, 64);
  b.pad_to(32).fill(34, 1).zeros(30).fill(32, 2);
  return b;
}

TEST(ReaderRejects, NothingInTheValidFixture) { EXPECT_EQ(error_of(valid_file().bytes()), "(no error)"); }

TEST(ReaderRejects, EveryTruncation) {
  const std::vector<uint8_t> full = valid_file().bytes();
  for (size_t n = 0; n < full.size(); ++n) {
    const std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    const std::string msg = error_of(cut);
    EXPECT_NE(msg, "(no error)") << "prefix of " << n << " bytes";
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(ReaderRejects, TruncatedHeader) {
  GgufBytes b;
  b.raw("GGUF").u32(3).u32(0);
  expect_error(b, {"truncated", "tensor count", "expected 8 more bytes, found 4"});
  GgufBytes tiny;
  tiny.raw("GG");
  expect_error(tiny, {"truncated", "expected at least 24 bytes, found 2"});
  expect_error(GgufBytes(), {"truncated", "found 0"});
}

TEST(ReaderRejects, BadMagic) {
  GgufBytes b;
  b.raw("GGML").u32(3).u64(0).u64(0);
  expect_error(b, {"not a GGUF file", "expected magic \"GGUF\", found \"GGML\""});
  GgufBytes binary;
  binary.u32(0x0a000102).u32(3).u64(0).u64(0);
  expect_error(binary, {"found \"\\x02\\x01\\x00\\x0a\""});
}

TEST(ReaderRejects, Version1WithAClearMessage) {
  expect_error(GgufBytes::header(0, 0, 1), {"version 1 is no longer supported", "expected version 2 or 3, found 1"});
}

TEST(ReaderRejects, UnsupportedVersions) {
  expect_error(GgufBytes::header(0, 0, 4), {"unsupported GGUF version", "expected 2 or 3, found 4"});
  expect_error(GgufBytes::header(0, 0, 0), {"found 0"});
  expect_error(GgufBytes::header(0, 0, 0x03000000), {"found 50331648", "big-endian"});
}

TEST(ReaderRejects, MetadataCountLargerThanTheBytesLeft) {
  auto b = GgufBytes::header(0, 3);
  b.key("general.name", ValueType::STRING).str("x");  // 25 bytes: room for one minimal entry
  expect_error(b, {"metadata count too large", "expected at most 2 for the 33 bytes left", "found 3"});
  expect_error(GgufBytes::header(0, UINT64_MAX), {"metadata count too large", "found 18446744073709551615"});
}

TEST(ReaderRejects, TensorCountLargerThanTheBytesLeft) {
  auto b = GgufBytes::header(2, 0);
  b.tensor_info("a", {4}, GgmlType::F32, 0);  // 41 bytes: room for one
  expect_error(b, {"tensor count too large", "expected at most 1", "found 2"});
  expect_error(GgufBytes::header(1ull << 62, 0), {"tensor count too large"});
}

TEST(ReaderRejects, StringLengthsLargerThanTheBytesLeft) {
  auto key = GgufBytes::header(0, 1);
  key.u64(1000).raw("general.name").type(ValueType::UINT8).u8(0);
  expect_error(key, {"metadata entry 0", "a key", "expected a string of 1000 bytes, found 17 bytes left"});

  auto value = GgufBytes::header(0, 1);
  value.key("general.name", ValueType::STRING).u64(UINT64_MAX).raw("abc");
  expect_error(value, {"key general.name", "expected a string of 18446744073709551615 bytes, found 3"});

  auto name = GgufBytes::header(1, 0);
  name.u64(1ull << 40).raw("abcdefghijklmnopqrstuvwxyz");
  expect_error(name, {"tensor info 0", "a tensor name", "found 26 bytes left"});
}

TEST(ReaderRejects, ArrayLengthsLargerThanTheBytesLeft) {
  auto b = GgufBytes::header(0, 1);
  b.key("tokenizer.ggml.scores", ValueType::ARRAY).array_of(ValueType::UINT64, 3).u64(1).u64(2).u32(0);
  expect_error(b, {"key tokenizer.ggml.scores", "array length too large", "expected at most 2 u64 items", "found 3"});

  auto strings = GgufBytes::header(0, 1);
  strings.key("tokenizer.ggml.tokens", ValueType::ARRAY).array_of(ValueType::STRING, 1ull << 61).zeros(64);
  expect_error(strings, {"expected at most 8 string items for the 64 bytes left", "found 2305843009213693952"});

  auto nested = GgufBytes::header(0, 1);
  nested.key("n", ValueType::ARRAY).array_of(ValueType::ARRAY, 2).array_of(ValueType::UINT8, 0);
  expect_error(nested, {"expected at most 1 array items", "found 2"});
}

TEST(ReaderRejects, UnknownValueTypes) {
  auto b = GgufBytes::header(0, 1);
  b.str("general.name").u32(13).u32(0);
  expect_error(b, {"key general.name", "unknown value type", "expected 0 to 12, found 13"});

  auto element = GgufBytes::header(0, 1);
  element.key("a", ValueType::ARRAY).u32(0xffffffffu).u64(0);
  expect_error(element, {"key a", "unknown array element type", "found 4294967295"});
}

TEST(ReaderRejects, BoolOtherThanZeroOrOne) {
  auto b = GgufBytes::header(0, 1);
  b.key("flag", ValueType::BOOL).u8(2);
  expect_error(b, {"key flag", "expected 0 or 1, found 2"});
}

TEST(ReaderRejects, ArraysNestedDeeperThanEightLevels) {
  auto b = GgufBytes::header(0, 1);
  b.key("deep", ValueType::ARRAY);
  for (int level = 1; level < 9; ++level) b.array_of(ValueType::ARRAY, 1);
  b.array_of(ValueType::UINT8, 0);
  expect_error(b, {"key deep", "nested too deeply", "expected at most 8 levels"});

  // Deep enough to exhaust the stack if nesting were unbounded.
  auto hostile = GgufBytes::header(0, 1);
  hostile.key("deep", ValueType::ARRAY);
  for (int level = 0; level < 100000; ++level) hostile.array_of(ValueType::ARRAY, 1);
  expect_error(hostile, {"nested too deeply"});
}

TEST(ReaderRejects, DuplicateKeys) {
  auto b = GgufBytes::header(0, 2);
  b.key("general.name", ValueType::STRING).str("a");
  b.key("general.name", ValueType::UINT8).u8(1);
  expect_error(b, {"key general.name", "duplicate key", "found it again at entry 1"});
}

TEST(ReaderRejects, DuplicateTensorNames) {
  auto b = GgufBytes::header(2, 0);
  b.tensor_info("w", {4}, GgmlType::F32, 0);
  b.tensor_info("w", {4}, GgmlType::F32, 32);
  b.pad_to(32).zeros(64);
  expect_error(b, {"tensor w", "duplicate tensor name", "found it again at tensor info 1"});
}

TEST(ReaderRejects, BadAlignment) {
  auto zero = GgufBytes::header(0, 1);
  zero.key("general.alignment", ValueType::UINT32).u32(0);
  expect_error(zero, {"key general.alignment", "expected a nonzero power of two, found 0"});
  auto odd = GgufBytes::header(0, 1);
  odd.key("general.alignment", ValueType::UINT32).u32(48);
  expect_error(odd, {"expected a nonzero power of two, found 48"});
  auto wide = GgufBytes::header(0, 1);
  wide.key("general.alignment", ValueType::UINT64).u64(64);
  expect_error(wide, {"key general.alignment", "expected u32, found u64"});
}

TEST(ReaderRejects, TooManyDimensions) {
  auto b = GgufBytes::header(1, 0);
  b.tensor_info("t", {1, 1, 1, 1, 1}, GgmlType::F32, 0);
  expect_error(b, {"tensor t", "expected at most 4 dimensions, found 5"});
  auto huge = GgufBytes::header(1, 0);
  huge.str("t").u32(0xffffffffu).zeros(64);
  expect_error(huge, {"found 4294967295"});
}

TEST(ReaderRejects, UnknownTensorType) {
  auto b = GgufBytes::header(1, 0);
  b.str("t").u32(1).u64(4).u32(4).u64(0);  // type 4 (the retired q4_2) is not a known type
  b.pad_to(32).zeros(32);
  expect_error(b, {"tensor t", "unknown ggml type", "found 4"});
}

TEST(ReaderRejects, ShapesWhoseElementCountOverflows) {
  auto b = GgufBytes::header(1, 0);
  b.tensor_info("t", {1ull << 32, 1ull << 32}, GgmlType::F32, 0);
  b.pad_to(32);
  expect_error(b, {"tensor t", "expected at most 9223372036854775807 elements", "found shape [4294967296, 4294967296]"});

  auto negative = GgufBytes::header(1, 0);
  negative.tensor_info("t", {1ull << 63}, GgmlType::I8, 0);
  negative.pad_to(32);
  expect_error(negative, {"found shape [9223372036854775808]"});
}

TEST(ReaderRejects, ShapesWhoseByteSizeOverflows) {
  auto b = GgufBytes::header(1, 0);
  b.tensor_info("t", {1ull << 62}, GgmlType::F64, 0);
  b.pad_to(32);
  expect_error(b, {"tensor t", "expected a size in bytes that fits in 64 bits"});
}

TEST(ReaderRejects, RowsThatAreNotWholeBlocks) {
  auto b = GgufBytes::header(1, 0);
  b.tensor_info("blk.0.ffn_up.weight", {100, 2}, GgmlType::Q4_K, 0);
  b.pad_to(32).zeros(1024);
  expect_error(b, {"tensor blk.0.ffn_up.weight", "expected rows of whole 256-element blocks for type q4_K",
                   "found rows of 100 elements"});
}

TEST(ReaderRejects, MisalignedTensorOffset) {
  auto b = GgufBytes::header(1, 0);
  b.tensor_info("t", {4}, GgmlType::F32, 17);
  b.pad_to(32).zeros(64);
  expect_error(b, {"tensor t", "misaligned data offset", "expected a multiple of 32, found 17"});
}

TEST(ReaderRejects, OverlappingTensorData) {
  auto b = GgufBytes::header(2, 0);
  b.tensor_info("first", {16}, GgmlType::F32, 0);  // bytes [0, 64)
  b.tensor_info("second", {8}, GgmlType::F32, 32);
  b.pad_to(32).zeros(128);
  expect_error(b, {"tensor second", "overlaps tensor first", "expected an offset of at least 64, found 32"});
}

TEST(ReaderRejects, TensorPastTheEndOfTheFile) {
  auto b = GgufBytes::header(1, 0);
  b.tensor_info("t", {16}, GgmlType::F32, 0);
  b.pad_to(32).zeros(63);
  expect_error(b, {"tensor t", "past the end of the file", "expected at most 63 bytes", "found data up to 0 + 64"});

  auto far = GgufBytes::header(1, 0);
  far.tensor_info("t", {1}, GgmlType::F32, UINT64_MAX - 31);
  far.pad_to(32).zeros(64);
  expect_error(far, {"past the end of the file"});
}

TEST(ReaderRejects, DataSectionStartingPastTheEnd) {
  auto b = GgufBytes::header(1, 0);
  b.tensor_info("t", {0}, GgmlType::F32, 0);  // no bytes of data, but the data section must exist
  expect_error(b, {"truncated", "expected the data section to start at byte 64"});
}

TEST(ReaderRejects, WithOneLineMessagesForHostileNames) {
  auto b = GgufBytes::header(0, 2);
  const std::string key = "line1\nline2\r" + std::string(500, 'x');
  b.key(key, ValueType::UINT8).u8(0);
  b.key(key, ValueType::UINT8).u8(0);
  const std::string msg = error_of(b.bytes());
  EXPECT_NE(msg.find("line1\\x0aline2\\x0d"), std::string::npos) << msg;
  EXPECT_NE(msg.find("..."), std::string::npos) << msg;
  EXPECT_LT(msg.size(), 300u) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

}  // namespace
}  // namespace locus::gguf
