// GgufFile: opening and mapping files, typed metadata accessors and their errors, tensor lookup.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "gguf/file.h"
#include "gguf/test_bytes.h"
#include "gguf/test_helpers.h"

namespace locus::gguf {
namespace {

using testing::GgufBytes;

using testing::error_of;

std::string temp_path(const std::string& name) { return testing::temp_path("gguf_file_test", name); }

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = GgufBytes::header(2, 10);
    b.key("general.name", ValueType::STRING).str("tiny");
    b.key("k.u8", ValueType::UINT8).u8(7);
    b.key("k.i32", ValueType::INT32).i32(40);
    b.key("k.neg", ValueType::INT32).i32(-1);
    b.key("k.big", ValueType::UINT64).u64(1ull << 40);
    b.key("k.huge", ValueType::UINT64).u64(UINT64_MAX);
    b.key("k.f64", ValueType::FLOAT64).f64(0.5);
    b.key("k.bool", ValueType::BOOL).u8(1);
    b.key("k.tokens", ValueType::ARRAY).array_of(ValueType::STRING, 2).str("<s>").str("</s>");
    b.key("k.f32", ValueType::FLOAT32).f32(2.0f);
    b.tensor_info("blk.3.attn_q.weight", {4, 2}, GgmlType::F32, 0);
    b.tensor_info("output_norm.weight", {4}, GgmlType::F32, 32);
    b.pad_to(32);
    for (uint8_t i = 0; i < 32; ++i) b.u8(i);
    b.fill(16, 0xee).zeros(16);
    path_ = temp_path("model.gguf");
    testing::write_file(path_, b.bytes());
    file_ = std::make_unique<GgufFile>(GgufFile::open(path_));
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::string path_;
  std::unique_ptr<GgufFile> file_;
};

TEST_F(FileTest, MapsTheFileAndExposesItsContent) {
  EXPECT_EQ(file_->path(), path_);
  EXPECT_EQ(file_->version(), 3u);
  EXPECT_EQ(file_->file_size(), std::filesystem::file_size(path_));
  EXPECT_EQ(file_->content().metadata.size(), 10u);
  EXPECT_TRUE(file_->has("general.name"));
  EXPECT_FALSE(file_->has("general.nam"));
  EXPECT_EQ(file_->find("k.u8")->type, ValueType::UINT8);
  EXPECT_EQ(file_->find("missing"), nullptr);
  EXPECT_EQ(file_->data_section().size(), 64u);
}

TEST_F(FileTest, TensorDataPointsIntoTheMapping) {
  const TensorInfo* t = file_->find_tensor("blk.3.attn_q.weight");
  ASSERT_NE(t, nullptr);
  const auto data = file_->tensor_data(*t);
  ASSERT_EQ(data.size(), 32u);
  for (uint8_t i = 0; i < 32; ++i) EXPECT_EQ(data[i], i);
  const auto norm = file_->tensor_data(*file_->find_tensor("output_norm.weight"));
  ASSERT_EQ(norm.size(), 16u);
  EXPECT_EQ(norm[0], 0xee);
  EXPECT_EQ(file_->find_tensor("nope"), nullptr);
}

TEST_F(FileTest, IntegerGettersAcceptAnyIntegerTypeWhoseValueFits) {
  EXPECT_EQ(file_->get_u32("k.u8"), 7u);
  EXPECT_EQ(file_->get_u32("k.i32"), 40u);
  EXPECT_EQ(file_->get_u64("k.i32"), 40u);
  EXPECT_EQ(file_->get_i64("k.neg"), -1);
  EXPECT_EQ(file_->get_u64("k.big"), 1ull << 40);
  EXPECT_EQ(file_->get_i64("k.big"), int64_t{1} << 40);
  EXPECT_EQ(file_->get_u64("k.huge"), UINT64_MAX);
}

TEST_F(FileTest, IntegerGettersNameTheTypeAndValueThatDoesNotFit) {
  EXPECT_EQ(error_of([&] { file_->get_u32("k.big"); }),
            "key k.big in " + path_ + ": expected u32, found u64 1099511627776");
  EXPECT_EQ(error_of([&] { file_->get_u32("k.neg"); }), "key k.neg in " + path_ + ": expected u32, found i32 -1");
  EXPECT_EQ(error_of([&] { file_->get_u64("k.neg"); }), "key k.neg in " + path_ + ": expected u64, found i32 -1");
  EXPECT_EQ(error_of([&] { file_->get_i64("k.huge"); }),
            "key k.huge in " + path_ + ": expected i64, found u64 18446744073709551615");
}

TEST_F(FileTest, GettersNameExpectedAndFoundTypes) {
  EXPECT_EQ(error_of([&] { file_->get_u32("general.name"); }),
            "key general.name in " + path_ + ": expected u32, found string");
  EXPECT_EQ(error_of([&] { file_->get_string("k.u8"); }), "key k.u8 in " + path_ + ": expected string, found u8 7");
  EXPECT_EQ(error_of([&] { file_->get_u32("k.tokens"); }),
            "key k.tokens in " + path_ + ": expected u32, found array of string");
  EXPECT_EQ(error_of([&] { file_->get_bool("k.f32"); }), "key k.f32 in " + path_ + ": expected bool, found f32");
  EXPECT_EQ(error_of([&] { file_->get_f32("k.u8"); }), "key k.u8 in " + path_ + ": expected f32, found u8 7");
  EXPECT_EQ(error_of([&] { file_->get_array("k.bool"); }), "key k.bool in " + path_ + ": expected array, found bool");
}

TEST_F(FileTest, MissingKeysAreNamed) {
  EXPECT_EQ(error_of([&] { file_->get_u32("llama.block_count"); }), "key llama.block_count missing in " + path_);
  EXPECT_EQ(error_of([&] { file_->get_string("x"); }), "key x missing in " + path_);
}

TEST_F(FileTest, OtherGettersReturnTheirValues) {
  EXPECT_EQ(file_->get_string("general.name"), "tiny");
  EXPECT_EQ(file_->get_f32("k.f32"), 2.0f);
  EXPECT_EQ(file_->get_f32("k.f64"), 0.5f);
  EXPECT_TRUE(file_->get_bool("k.bool"));
  const Array& tokens = file_->get_array("k.tokens");
  ASSERT_EQ(tokens.items.size(), 2u);
  EXPECT_EQ(std::get<std::string>(tokens.items[1].data), "</s>");
}

TEST_F(FileTest, OptionalGettersAreEmptyOnlyWhenTheKeyIsAbsent) {
  EXPECT_EQ(file_->get_u32_or("absent"), std::nullopt);
  EXPECT_EQ(file_->get_u32_or("k.u8"), 7u);
  EXPECT_EQ(file_->get_string_or("absent"), std::nullopt);
  EXPECT_EQ(file_->get_string_or("general.name"), "tiny");
  EXPECT_EQ(error_of([&] { file_->get_u32_or("general.name"); }),
            "key general.name in " + path_ + ": expected u32, found string");
}

TEST_F(FileTest, RequireTensorChecksTheShape) {
  const uint64_t good[] = {4, 2};
  EXPECT_EQ(file_->require_tensor("blk.3.attn_q.weight", good).name, "blk.3.attn_q.weight");
  const uint64_t bad[] = {4, 4};
  EXPECT_EQ(error_of([&] { file_->require_tensor("blk.3.attn_q.weight", bad); }),
            "tensor blk.3.attn_q.weight in " + path_ + ": expected [4, 4], found [4, 2]");
  const uint64_t flat[] = {8};
  EXPECT_EQ(error_of([&] { file_->require_tensor("blk.3.attn_q.weight", flat); }),
            "tensor blk.3.attn_q.weight in " + path_ + ": expected [8], found [4, 2]");
  EXPECT_EQ(error_of([&] { file_->require_tensor("token_embd.weight", good); }),
            "tensor token_embd.weight missing in " + path_);
}

TEST_F(FileTest, MovesKeepTheMapping) {
  GgufFile moved = std::move(*file_);
  file_.reset();
  EXPECT_EQ(moved.get_string("general.name"), "tiny");
  EXPECT_EQ(moved.tensor_data(*moved.find_tensor("blk.3.attn_q.weight"))[5], 5);
  GgufFile other = GgufFile::open(path_);
  other = std::move(moved);
  EXPECT_EQ(other.get_u32("k.u8"), 7u);
}

TEST_F(FileTest, LoadResidentServesTheSameBytesFromItsOwnMemory) {
  const TensorInfo& t = *file_->find_tensor("blk.3.attn_q.weight");
  const uint8_t* mapped = file_->tensor_data(t).data();
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  file_->load_resident([&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); });
  EXPECT_TRUE(file_->resident());
  const auto data = file_->tensor_data(t);
  EXPECT_NE(data.data(), mapped);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(data.data()) % 64, 0u);
  for (uint8_t i = 0; i < 32; ++i) EXPECT_EQ(data[i], i);
  EXPECT_EQ(file_->tensor_data(*file_->find_tensor("output_norm.weight"))[15], 0xee);
  EXPECT_EQ(file_->data_section().size(), 64u);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), std::make_pair(uint64_t{64}, uint64_t{64}));
  file_->load_resident();  // a second call keeps the copy
  EXPECT_EQ(file_->tensor_data(t).data(), data.data());
  GgufFile moved = std::move(*file_);  // the copy moves with the file
  EXPECT_EQ(moved.tensor_data(t).data(), data.data());
  EXPECT_EQ(moved.tensor_data(t)[31], 31);
}

TEST_F(FileTest, LoadResidentOfAFileCutShortAfterOpeningFailsClearly) {
  std::filesystem::resize_file(path_, file_->file_size() - 40);
  const std::string msg = error_of([&] { file_->load_resident(); });
  EXPECT_NE(msg.find(path_), std::string::npos) << msg;
  EXPECT_NE(msg.find("shorter than when it was opened"), std::string::npos) << msg;
  EXPECT_FALSE(file_->resident());
}

TEST(FileLoadResident, RefusesUpFrontWhenTheWeightsCannotFitInMemory) {
  // A 1 TiB tensor in a sparse file: more than any test machine has, so the copy must be refused before
  // anything is allocated, with the numbers and the way out.
  auto b = GgufBytes::header(1, 0);
  b.tensor_info("huge.weight", {uint64_t{1} << 20, uint64_t{1} << 18}, GgmlType::F32, 0);
  b.pad_to(32);
  const std::string path = temp_path("huge.gguf");
  testing::write_file(path, b.bytes());
  std::filesystem::resize_file(path, b.bytes().size() + (uint64_t{1} << 40));
  GgufFile f = GgufFile::open(path);
  const std::string msg = error_of([&] { f.load_resident(); });
  EXPECT_NE(msg.find("1024.00 GiB of memory"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--mmap"), std::string::npos) << msg;
  EXPECT_FALSE(f.resident());
  std::filesystem::remove(path);
}

TEST(FileOpen, FormatsShapes) {
  const uint64_t shape[] = {3840, 4096};
  EXPECT_EQ(format_shape(shape), "[3840, 4096]");
  EXPECT_EQ(format_shape(std::span<const uint64_t>()), "[]");
}

TEST(FileOpen, NamesAMissingFile) {
  const std::string path = temp_path("does_not_exist.gguf");
  const std::string msg = error_of([&] { GgufFile::open(path); });
  EXPECT_EQ(msg.rfind(path + ": cannot open: ", 0), 0u) << msg;
}

TEST(FileOpen, RejectsADirectory) {
  const std::string msg = error_of([&] { GgufFile::open(::testing::TempDir()); });
  EXPECT_NE(msg.find("expected a regular file"), std::string::npos) << msg;
}

TEST(FileOpen, RejectsEmptyAndDamagedFilesNamingThePath) {
  const std::string empty = temp_path("empty.gguf");
  testing::write_file(empty, {});
  EXPECT_EQ(error_of([&] { GgufFile::open(empty); }),
            empty + ": file truncated: expected at least 24 bytes, found 0");
  std::filesystem::remove(empty);

  const std::string v1 = temp_path("v1.gguf");
  testing::write_file(v1, GgufBytes::header(0, 0, 1).bytes());
  EXPECT_EQ(error_of([&] { GgufFile::open(v1); }),
            v1 + ": GGUF version 1 is no longer supported: expected version 2 or 3, found 1");
  std::filesystem::remove(v1);
}

}  // namespace
}  // namespace locus::gguf
