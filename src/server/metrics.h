// Running totals for `GET /metrics` (Prometheus text format) and for the server-overhead figure of
// bench/serve_parallel.sh: where the time of every generated token goes. All counters are relaxed atomics,
// added to once per scheduler round or per written chunk: no lock and no allocation on the token path.
//
// Per token, server overhead = what the server adds to what the engine does anyway:
//   scheduler bookkeeping (round - model - token stepping, wall time), plus the server's sinks on the scheduler
//   thread (output parsing into events) and the HTTP threads' formatting and writing of the chunks (CPU time).
// Sampling and detokenizing are the engine's own work (`locus run` does them too) and are not counted.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>
#include <string>

#include "runtime/scheduler.h"

namespace locus::server {

struct ServerMetrics {
  runtime::SchedulerCounters scheduler;  // every loaded model's scheduler adds here
  std::atomic<uint64_t> sink_ns{0};      // CPU time in the server's GenerateSinks (scheduler thread)
  std::atomic<uint64_t> write_ns{0};     // HTTP threads' CPU time turning events into chunks and writing them
  std::atomic<uint64_t> chunks_written{0};
  std::atomic<uint64_t> requests{0};     // generation requests started (chat, generate, completions)
};

// This thread's CPU time in ns (never 0). Times are taken in CPU time: on a machine whose cores the model keeps
// busy, wall time would also count the waits for a core.
inline uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec) + 1;
}

// Gauges read when the page is made.
struct MetricsGauges {
  int open_streams = 0;   // streamed responses in progress
  int models_loaded = 0;
  int active = 0;         // requests in slots, every model
  int queued = 0;         // requests waiting for a slot
  // The HTTP core's connections (http_core.h).
  size_t open_connections = 0;
  size_t refused_connections = 0;    // since start: past LOCUS_MAX_CONNECTIONS
  size_t timed_out_connections = 0;  // since start: header, idle or body deadline passed
};

// The Prometheus text exposition (version 0.0.4) of the counters and gauges, names prefixed `locus_`.
std::string prometheus_text(const ServerMetrics& m, const MetricsGauges& g);

}  // namespace locus::server
