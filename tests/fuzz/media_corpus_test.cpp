// The media fuzz seeds and regressions, replayed with the main build's compiler through the same checks as the
// fuzz target (media_check.h), so they stay meaningful without clang. Seeds are named for what they hold:
// image_* decode as pictures, audio_* as audio, video_* as video; bad_* are refused with a MediaError.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "corpus_files.h"
#include "media_check.h"

namespace locus::fuzz {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(MediaCorpus, SeedsBehaveAsTheirNamesSay) {
  const auto seeds = files_in(fs::path(LOCUS_FUZZ_DIR) / "corpus" / "media");
  ASSERT_GE(seeds.size(), 16u);
  const media::Limits l = fuzz_limits();
  for (const auto& p : seeds) {
    const std::string name = p.filename().string();
    EXPECT_LT(fs::file_size(p), 16384u) << name;  // FLAC's muxer alone pads its header to 8 KB
    const std::string bytes = read(p);
    EXPECT_EQ(check_media(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), "") << name;
    if (name.rfind("image_", 0) == 0) {
      EXPECT_EQ(media::probe(bytes, l), media::Kind::kImage) << name;
      EXPECT_NO_THROW(media::decode_image(bytes, l)) << name;
    } else if (name.rfind("audio_", 0) == 0) {
      EXPECT_EQ(media::probe(bytes, l), media::Kind::kAudio) << name;
      EXPECT_NO_THROW(media::decode_audio(bytes, l)) << name;
    } else if (name.rfind("video_", 0) == 0) {
      EXPECT_EQ(media::probe(bytes, l), media::Kind::kVideo) << name;
      EXPECT_NO_THROW(media::decode_video(bytes, media::VideoOptions{.max_frames = 3}, l)) << name;
    } else if (name.rfind("bad_", 0) == 0) {
      EXPECT_THROW(media::decode_image(bytes, l), media::MediaError) << name;
      EXPECT_THROW(media::decode_audio(bytes, l), media::MediaError) << name;
      EXPECT_THROW(media::decode_video(bytes, media::VideoOptions{.max_frames = 3}, l), media::MediaError) << name;
    } else {
      ADD_FAILURE() << name << ": a seed's name starts with image_, audio_, video_ or bad_";
    }
  }
}

TEST(MediaCorpus, RegressionsKeepTheInvariants) {
  for (const auto& p : files_in(fs::path(LOCUS_FUZZ_DIR) / "regressions" / "media")) {
    const std::string bytes = read(p);
    EXPECT_EQ(check_media(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), "") << p.filename();
  }
}

}  // namespace
}  // namespace locus::fuzz
