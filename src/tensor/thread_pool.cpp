#include "tensor/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace locus::tensor {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls until pred() holds or spin_us pass; true if it held. After the first microseconds each poll
// also yields the CPU, so that with more threads than cores (or other busy processes) a spinning thread
// does not keep the one it waits for from running.
template <typename Pred>
bool spin_until(Pred pred, int spin_us) {
  if (pred()) return true;
  if (spin_us <= 0) return false;
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto yield_after = start + std::chrono::microseconds(std::min(spin_us, 5));
  const auto deadline = start + std::chrono::microseconds(spin_us);
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      if (pred()) return true;
      cpu_relax();
    }
    const auto now = Clock::now();
    if (now >= deadline) return pred();
    if (now >= yield_after) std::this_thread::yield();
  }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads, int spin_us) : spin_us_(spin_us) {
  if (n_threads <= 0) {
    const unsigned hc = std::thread::hardware_concurrency();
    n_threads = hc == 0 ? 1 : static_cast<int>(hc);
  }
  n_threads_ = n_threads;
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int t = 1; t < n_threads_; ++t) workers_.emplace_back([this, t] { worker(t); });
}

ThreadPool::~ThreadPool() {
  stop_ = true;
  generation_.fetch_add(1, std::memory_order_seq_cst);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::work(int thread) {
  const int64_t n = n_tasks_;
  for (int64_t task; (task = next_.fetch_add(1, std::memory_order_relaxed)) < n;) fn_(ctx_, task, thread);
}

void ThreadPool::worker(int thread) {
  uint32_t seen = 0;
  for (;;) {
    if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }, spin_us_)) {
      // seq_cst on both sides (here and in run) means either the caller sees this sleeper and
      // notifies, or this thread sees the new generation before blocking.
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      while (generation_.load(std::memory_order_seq_cst) == seen) generation_.wait(seen, std::memory_order_seq_cst);
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_) return;
    work(thread);
    if (pending_.fetch_sub(1, std::memory_order_seq_cst) == 1 && caller_sleeping_.load(std::memory_order_seq_cst)) {
      pending_.notify_one();
    }
  }
}

void ThreadPool::run(int64_t n_tasks, TaskFn fn, void* ctx) {
  if (n_tasks <= 0) return;
  if (n_threads_ == 1 || n_tasks == 1) {
    for (int64_t t = 0; t < n_tasks; ++t) fn(ctx, t, 0);
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  n_tasks_ = n_tasks;
  next_.store(0, std::memory_order_relaxed);
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();
  work(0);
  if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; }, 2000)) {
    caller_sleeping_.store(true, std::memory_order_seq_cst);
    for (int p; (p = pending_.load(std::memory_order_seq_cst)) != 0;) pending_.wait(p, std::memory_order_seq_cst);
    caller_sleeping_.store(false, std::memory_order_relaxed);
  }
  std::atomic_thread_fence(std::memory_order_acquire);
}

}  // namespace locus::tensor
