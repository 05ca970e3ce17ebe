#include "tensor/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <vector>

namespace locus::tensor {
namespace {

TEST(TensorThreadPool, RunsEveryTaskOnceOnAStableThreadIndex) {
  for (int threads : {1, 2, 3, 5}) {
    for (int spin_us : {0, ThreadPool::kDefaultSpinUs}) {
      ThreadPool pool(threads, spin_us);
      EXPECT_EQ(pool.size(), threads);
      for (int64_t n_tasks : {0, 1, 2, 7, 1000}) {
        std::vector<std::atomic<int>> runs(static_cast<size_t>(n_tasks));
        std::atomic<bool> bad_thread{false};
        pool.parallel_for(n_tasks, [&](int64_t task, int thread) {
          runs[static_cast<size_t>(task)].fetch_add(1);
          if (thread < 0 || thread >= threads) bad_thread = true;
        });
        for (auto& r : runs) EXPECT_EQ(r.load(), 1);
        EXPECT_FALSE(bad_thread);
      }
    }
  }
}

// Decoding calls parallel_for hundreds of times per token; many short calls in a row must neither
// lose tasks nor deadlock, whether the workers are spinning or asleep between calls.
TEST(TensorThreadPool, ManyShortCallsInARow) {
  for (int threads : {2, 3}) {
  for (int spin_us : {0, 5, ThreadPool::kDefaultSpinUs}) {
    ThreadPool pool(threads, spin_us);
    std::atomic<int64_t> total{0};
    const auto start = std::chrono::steady_clock::now();
    for (int call = 0; call < 20000; ++call) {
      pool.parallel_for(4, [&](int64_t task, int) { total.fetch_add(task + 1, std::memory_order_relaxed); });
    }
    EXPECT_EQ(total.load(), 20000 * 10);
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    std::printf("threads=%d spin_us=%d: %.2f us per call\n", threads, spin_us, us / 20000);
  }
  }
}

TEST(TensorThreadPool, SleepingWorkersWakeForTheNextCall) {
  ThreadPool pool(2, 0);
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::atomic<int> seen_threads{0};
    pool.parallel_for(64, [&](int64_t, int thread) {
      seen_threads.fetch_or(1 << thread);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    });
    EXPECT_EQ(seen_threads.load(), 3);
  }
}

}  // namespace
}  // namespace locus::tensor
