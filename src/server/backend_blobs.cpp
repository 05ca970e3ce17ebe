// HEAD and POST /api/blobs/<digest> on RuntimeBackend: the first half of Ollama's create-from-files (the client
// uploads each GGUF, then names the digests in /api/create "files"), and the Backend defaults (501).
#include <filesystem>

#include "runtime/blob_writer.h"
#include "runtime/model_store.h"
#include "server/backend.h"

namespace locus::server {
namespace {

namespace fs = std::filesystem;

bool drain(const BodyReader& read_body) {
  return read_body([](std::string_view) {});
}

}  // namespace

BlobReply Backend::has_blob(const std::string&) {
  BlobReply r;
  r.error = ApiError{501, "blob uploads are not available in this build", ""};
  return r;
}

BlobReply Backend::receive_blob(const std::string& digest, const BodyReader& read_body) {
  drain(read_body);
  return has_blob(digest);
}

BlobReply RuntimeBackend::has_blob(const std::string& digest) {
  BlobReply r;
  std::error_code ec;
  r.existed = fs::is_regular_file(store_.blob_path(digest), ec);
  return r;
}

BlobReply RuntimeBackend::receive_blob(const std::string& digest, const BodyReader& read_body) {
  BlobReply r;
  // One upload of a digest at a time: the second waits, then finds the blob there (or writes it itself when
  // the first failed).
  {
    std::unique_lock<std::mutex> lock(uploads_mutex_);
    uploads_done_.wait(lock, [&] { return !uploading_.contains(digest); });
    uploading_.insert(digest);
  }
  struct Release {
    RuntimeBackend* self;
    const std::string& digest;
    ~Release() {
      {
        std::lock_guard<std::mutex> lock(self->uploads_mutex_);
        self->uploading_.erase(digest);
      }
      self->uploads_done_.notify_all();
    }
  } release{this, digest};

  if (has_blob(digest).existed) {
    // Already stored (under the name of its verified bytes): not rewritten, but the body is still read.
    drain(read_body);
    r.existed = true;
    return r;
  }
  try {
    // A partial file left by an earlier upload is not resumed: the client sends the whole body again.
    runtime::BlobWriter writer(store_.blobs_dir(), digest, std::nullopt, /*resume=*/false);
    std::optional<runtime::StoreError> failure;
    const bool whole = read_body([&](std::string_view chunk) {
      if (failure) return;  // keep reading (and dropping) the rest, so the answer reaches the client
      try {
        writer.append(chunk);
      } catch (const runtime::StoreError& e) {
        failure = e;
      }
    });
    if (failure) {
      writer.discard();
      r.error = ApiError{500, std::string("cannot store blob ") + digest + ": " + failure->what(), ""};
      return r;
    }
    if (!whole) {
      writer.discard();
      r.error = ApiError{400, "blob " + digest + ": the request body ended before its end (" +
                                  std::to_string(writer.offset()) + " bytes received)", ""};
      return r;
    }
    try {
      writer.finish();  // checks the sha256; on a mismatch deletes the partial file and throws
    } catch (const runtime::StoreError& e) {
      if (e.kind() != runtime::StoreErrorKind::digest_mismatch) throw;
      // BlobWriter's message names its partial file; the client needs only the two digests.
      r.error = ApiError{400, "digest mismatch: the body's digest is " + writer.found_digest() + ", not " + digest,
                         "digest"};
    }
  } catch (const runtime::StoreError& e) {
    r.error = ApiError{500, std::string("cannot store blob ") + digest + ": " + e.what(), ""};
  }
  return r;
}

}  // namespace locus::server
