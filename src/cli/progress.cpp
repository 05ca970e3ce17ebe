#include "cli/progress.h"

#include <cstdio>
#include <memory>

#include "common/human.h"

namespace locus::cli {

std::function<void(uint64_t, uint64_t)> load_progress_bar(bool show) {
  if (!show) return {};
  auto last = std::make_shared<int>(-1);
  return [last](uint64_t done, uint64_t total) {
    if (total == 0) return;
    const int pct = static_cast<int>(done * 100 / total);
    if (pct != *last) {
      *last = pct;
      const int filled = pct * 30 / 100;
      std::fprintf(stderr, "\rloading model [%.*s%*s] %3d%% %s", filled, "##############################",
                   30 - filled, "", pct, human_bytes(double(done)).c_str());
    }
    if (done >= total) std::fprintf(stderr, "\r%*s\r", 60, "");
    std::fflush(stderr);
  };
}

void prefetch_weights(const gguf::GgufFile& file, bool show) {
  const auto data = file.data_section();
  const auto bar = load_progress_bar(show);
  constexpr size_t kChunk = size_t{64} << 20;
  constexpr size_t kPage = 4096;
  volatile uint8_t sink = 0;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    const size_t n = std::min(kChunk, data.size() - off);
    for (size_t p = 0; p < n; p += kPage) sink = sink + data[off + p];
    if (bar) bar(off + n, data.size());
  }
  (void)sink;
}

void BlobProgressDisplay::show(const std::string& status, const std::string& digest, uint64_t total,
                               uint64_t completed) {
  if (digest.empty()) {
    end_bar();
    std::fprintf(stderr, "%s\n", status.c_str());
    std::fflush(stderr);
    return;
  }
  const bool same_blob = digest == digest_;
  if (!same_blob) {
    end_bar();
    digest_ = digest;
    last_pct_ = -1;
  }
  const int pct = total == 0 ? 100 : static_cast<int>(completed * 100 / total);
  const std::string sizes = human_bytes(double(completed)) + "/" + human_bytes(double(total));
  if (!terminal_) {
    // A line when the blob starts and one when it is done.
    if (!same_blob || (completed == total && last_pct_ != 100)) {
      std::fprintf(stderr, "%s: %3d%% %s\n", status.c_str(), pct, sizes.c_str());
    }
    last_pct_ = pct;
    return;
  }
  constexpr int kWidth = 30;
  const int filled = pct * kWidth / 100;
  std::fprintf(stderr, "\r%s: %3d%% [%.*s%*s] %s   ", status.c_str(), pct, filled, "##############################",
               kWidth - filled, "", sizes.c_str());
  std::fflush(stderr);
  bar_open_ = true;
  last_pct_ = pct;
}

void BlobProgressDisplay::end_bar() {
  if (bar_open_) std::fprintf(stderr, "\n");
  bar_open_ = false;
}

}  // namespace locus::cli
