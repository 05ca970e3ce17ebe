// A fixed pool of worker threads for data-parallel kernels. The calling thread works too, so a pool of
// size N runs N tasks at once. parallel_for allocates nothing and takes no lock: decoding one token calls
// it a few hundred times, so waking the workers must cost well under a microsecond. Idle workers spin
// for a short while (spin_us) before sleeping on a futex (std::atomic::wait), and the caller spins
// before sleeping while it waits for the last task.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace locus::tensor {

class ThreadPool {
 public:
  static constexpr int kDefaultSpinUs = 200;

  // n_threads <= 0: one per hardware thread. spin_us: how long an idle worker polls for the next call
  // before sleeping (0: sleep at once).
  explicit ThreadPool(int n_threads = 0, int spin_us = kDefaultSpinUs);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(task, thread) for every task in [0, n_tasks), spread over the threads; returns when all
  // are done. `thread` is in [0, size()) and is stable within one call (for per-thread scratch).
  // Not reentrant: one call at a time per pool.
  template <typename F>
  void parallel_for(int64_t n_tasks, F&& fn) {
    using Fn = std::remove_reference_t<F>;
    run(n_tasks, [](void* ctx, int64_t task, int thread) { (*static_cast<Fn*>(ctx))(task, thread); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using TaskFn = void (*)(void* ctx, int64_t task, int thread);
  void run(int64_t n_tasks, TaskFn fn, void* ctx);
  void worker(int thread);
  void work(int thread);

  int n_threads_;
  int spin_us_;
  std::vector<std::thread> workers_;

  // The current call, written by the caller before it bumps generation_ (release) and read by workers
  // after they see the bump (acquire).
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_tasks_ = 0;
  bool stop_ = false;

  alignas(64) std::atomic<uint32_t> generation_{0};  // bumped once per call; workers wait on it
  std::atomic<int> sleepers_{0};                     // workers blocked in generation_.wait
  alignas(64) std::atomic<int64_t> next_{0};         // next task to hand out
  alignas(64) std::atomic<int> pending_{0};          // workers that have not finished the current call
  std::atomic<bool> caller_sleeping_{false};
};

}  // namespace locus::tensor
