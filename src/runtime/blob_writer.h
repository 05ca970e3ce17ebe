// Writing a blob as it streams in (pull), and checking a stored blob against its digest.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "runtime/sha256.h"

namespace locus::runtime {

// Writes one blob as it streams in (a pull, an upload), into blobs/sha256-<hex>-partial, resuming from what an
// earlier attempt left there (`resume`; an upload starts over, as its client sends the whole body again).
// finish() checks the sha256 and renames the file into place, or deletes the partial file and throws. A writer
// destroyed without finish() keeps the partial file for the next attempt.
class BlobWriter {
 public:
  BlobWriter(const std::filesystem::path& blobs_dir, std::string_view digest,
             std::optional<uint64_t> expected_size = std::nullopt, bool resume = true);
  BlobWriter(BlobWriter&&) noexcept;
  BlobWriter& operator=(BlobWriter&&) = delete;
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;
  ~BlobWriter();

  // True when the blob was already complete in the store: nothing to write, finish() returns its path.
  bool complete() const { return complete_; }
  // Bytes already written (resume a download with an HTTP Range request from here).
  uint64_t offset() const { return offset_; }
  // Throws StoreError (digest_mismatch) once more bytes arrive than the expected size.
  void append(std::span<const uint8_t> bytes);
  void append(std::string_view bytes);
  std::filesystem::path finish();
  // After finish() threw for a digest mismatch: "sha256:<hex>" of the bytes written (else empty).
  const std::string& found_digest() const { return found_digest_; }
  // Deletes the partial file (a cancelled pull that should not resume).
  void discard();

 private:
  void close_file();
  std::filesystem::path final_path_;
  std::filesystem::path partial_path_;
  std::string digest_;
  std::string found_digest_;
  std::optional<uint64_t> expected_size_;
  Sha256 hash_;
  int fd_ = -1;
  uint64_t offset_ = 0;
  bool complete_ = false;
  bool finished_ = false;
};

// Checks that the file holds exactly the bytes `digest` names. Throws StoreError: not_found when it is
// missing, digest_mismatch ("blob PATH: expected sha256:X, found sha256:Y") when it differs.
void verify_blob(std::string_view digest, const std::filesystem::path& path);

}  // namespace locus::runtime
