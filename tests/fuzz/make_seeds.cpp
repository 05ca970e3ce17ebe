// Writes the GGUF fuzz seed corpus: small valid files covering each feature of the format, and small
// invalid ones for each kind of damage the reader rejects. Names say which: valid_* parse, bad_* do not
// (gguf_corpus_test checks this).   Usage: gguf_make_seeds tests/fuzz/corpus/gguf
#include <cstdio>
#include <string>

#include "gguf/test_bytes.h"
#include "gguf/writer.h"

using locus::gguf::GgmlType;
using locus::gguf::GgufWriter;
using locus::gguf::Value;
using locus::gguf::ValueType;
using locus::gguf::testing::GgufBytes;

namespace {

std::string g_dir;

void save(const std::string& name, const GgufBytes& b) { locus::gguf::testing::write_file(g_dir + "/" + name, b.bytes()); }

GgufBytes all_value_types() {
  auto b = GgufBytes::header(0, 13);
  b.key("u8", ValueType::UINT8).u8(1);
  b.key("i8", ValueType::INT8).i8(-1);
  b.key("u16", ValueType::UINT16).u16(2);
  b.key("i16", ValueType::INT16).i16(-2);
  b.key("u32", ValueType::UINT32).u32(3);
  b.key("i32", ValueType::INT32).i32(-3);
  b.key("f32", ValueType::FLOAT32).f32(0.5f);
  b.key("bool", ValueType::BOOL).u8(1);
  b.key("str", ValueType::STRING).str("gemma4");
  b.key("arr", ValueType::ARRAY).array_of(ValueType::STRING, 2).str("a").str("bc");
  b.key("u64", ValueType::UINT64).u64(4);
  b.key("i64", ValueType::INT64).i64(-4);
  b.key("f64", ValueType::FLOAT64).f64(0.25);
  return b;
}

GgufBytes with_tensors() {
  auto b = GgufBytes::header(3, 2);
  b.key("general.architecture", ValueType::STRING).str("gemma4");
  b.key("gemma4.block_count", ValueType::UINT32).u32(1);
  b.tensor_info("token_embd.weight", {32, 2}, GgmlType::Q8_0, 0);
  b.tensor_info("output_norm.weight", {4}, GgmlType::F32, 96);
  b.tensor_info("blk.0.attn_q.weight", {2, 2}, GgmlType::F16, 128);
  b.pad_to(32).fill(68, 1).zeros(28).fill(16, 2).zeros(16).fill(8, 3).zeros(24);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  g_dir = argv[1];

  save("valid_empty", GgufBytes::header(0, 0));
  save("valid_v2", [] {
    auto b = GgufBytes::header(0, 1, 2);
    b.key("general.name", ValueType::STRING).str("v2");
    return b;
  }());
  save("valid_all_value_types", all_value_types());
  save("valid_nested_arrays", [] {
    auto b = GgufBytes::header(0, 2);
    b.key("nested", ValueType::ARRAY).array_of(ValueType::ARRAY, 2);
    b.array_of(ValueType::INT32, 2).i32(1).i32(2);
    b.array_of(ValueType::ARRAY, 1).array_of(ValueType::BOOL, 1).u8(0);
    b.key("arrays", ValueType::ARRAY).array_of(ValueType::FLOAT64, 2).f64(1).f64(2);
    return b;
  }());
  save("valid_tensors", with_tensors());
  save("valid_alignment_64", [] {
    auto b = GgufBytes::header(2, 1);
    b.key("general.alignment", ValueType::UINT32).u32(64);
    b.tensor_info("b", {8}, GgmlType::I8, 192);
    b.tensor_info("a", {256}, GgmlType::Q4_K, 0);
    b.pad_to(64).fill(144, 1).zeros(48).fill(8, 2).zeros(56);
    return b;
  }());
  save("valid_zero_dims_and_empty_tensor", [] {
    auto b = GgufBytes::header(2, 0);
    b.tensor_info("scalar", {}, GgmlType::F32, 0);
    b.tensor_info("empty", {0, 3}, GgmlType::Q4_0, 32);
    b.pad_to(32).fill(4, 1).zeros(28);
    return b;
  }());
  {
    // Written by the writer, the way a converted model is.
    const std::string path = g_dir + "/valid_writer";
    GgufWriter w;
    w.add("general.architecture", Value::string("gemma4"));
    w.add("tokenizer.ggml.tokens", Value::string_array({"<pad>", "<eos>", "<bos>", "a"}));
    w.add("tokenizer.ggml.scores", Value::f32_array({0, 0, 0, -1}));
    w.add_tensor("token_embd.weight", {4, 4}, GgmlType::F32);
    w.begin_data(path);
    const std::vector<uint8_t> data(64, 0x3f);
    w.write_tensor(data);
    w.finish();
  }

  save("bad_magic", [] {
    GgufBytes b;
    b.raw("GGML").u32(3).u64(0).u64(0);
    return b;
  }());
  save("bad_version_1", GgufBytes::header(0, 0, 1));
  save("bad_truncated", [] {
    auto b = with_tensors();
    b.bytes().resize(b.size() - 40);
    return b;
  }());
  save("bad_duplicate_key", [] {
    auto b = GgufBytes::header(0, 2);
    b.key("k", ValueType::UINT8).u8(1);
    b.key("k", ValueType::UINT8).u8(2);
    return b;
  }());
  save("bad_huge_array", [] {
    auto b = GgufBytes::header(0, 1);
    b.key("tokenizer.ggml.tokens", ValueType::ARRAY).array_of(ValueType::STRING, 1ull << 60).str("a");
    return b;
  }());
  save("bad_nested_too_deep", [] {
    auto b = GgufBytes::header(0, 1);
    b.key("deep", ValueType::ARRAY);
    for (int i = 0; i < 9; ++i) b.array_of(ValueType::ARRAY, 1);
    b.array_of(ValueType::UINT8, 0);
    return b;
  }());
  save("bad_overlap", [] {
    auto b = GgufBytes::header(2, 0);
    b.tensor_info("a", {16}, GgmlType::F32, 0);
    b.tensor_info("b", {16}, GgmlType::F32, 32);
    b.pad_to(32).zeros(96);
    return b;
  }());
  save("bad_misaligned", [] {
    auto b = GgufBytes::header(1, 0);
    b.tensor_info("a", {4}, GgmlType::F32, 8);
    b.pad_to(32).zeros(32);
    return b;
  }());
  save("bad_block_size", [] {
    auto b = GgufBytes::header(1, 0);
    b.tensor_info("a", {100}, GgmlType::Q4_K, 0);
    b.pad_to(32).zeros(160);
    return b;
  }());
  save("bad_shape_overflow", [] {
    auto b = GgufBytes::header(1, 0);
    b.tensor_info("a", {1ull << 40, 1ull << 40}, GgmlType::F32, 0);
    b.pad_to(32);
    return b;
  }());
  save("bad_alignment", [] {
    auto b = GgufBytes::header(0, 1);
    b.key("general.alignment", ValueType::UINT32).u32(24);
    return b;
  }());
  std::printf("wrote seeds to %s\n", g_dir.c_str());
  return 0;
}
