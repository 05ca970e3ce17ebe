#include "cli/progress.h"

#include <sys/mman.h>

#include <cstdio>

#include "common/human.h"

namespace locus::cli {

void prefetch_weights(const gguf::GgufFile& file, bool show) {
  const auto data = file.data_section();
  constexpr size_t kChunk = size_t{64} << 20;
  constexpr size_t kPage = 4096;
  volatile uint8_t sink = 0;
  int last = -1;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    const size_t n = std::min(kChunk, data.size() - off);
    for (size_t p = 0; p < n; p += kPage) sink = sink + data[off + p];
    if (show) {
      const int pct = static_cast<int>((off + n) * 100 / data.size());
      if (pct != last) {
        last = pct;
        const int filled = pct * 30 / 100;
        std::fprintf(stderr, "\rloading model [%.*s%*s] %3d%% %s", filled, "##############################",
                     30 - filled, "", pct, human_bytes(double(off + n)).c_str());
        std::fflush(stderr);
      }
    }
  }
  if (show && last >= 0) std::fprintf(stderr, "\r%*s\r", 60, "");
  (void)sink;
}

}  // namespace locus::cli
