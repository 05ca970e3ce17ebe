// What a generation sends back to the HTTP handler that waits for it: events in order, across threads. The
// scheduler's thread pushes (it must never block on a slow client, so the queue is unbounded: its size is bounded
// by what the request generates); the handler's thread pops and writes them with a ResponseWriter.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/response_writer.h"

namespace locus::server {

struct GenerationEvent {
  enum class Kind { kText, kThinking, kToolCall, kDone, kError };
  Kind kind = Kind::kText;
  std::string text;       // kText, kThinking, kError (the message)
  std::string name;       // kToolCall
  std::string arguments;  // kToolCall: a JSON object's text
  DoneEvent done;         // kDone
  // The log-probabilities of the tokens behind this event (empty unless the request asked for them); on kDone,
  // those of tokens no text event carried (held-back marker or stop-string text).
  std::vector<TokenLogprobEntry> logprobs;
};

class EventChannel {
 public:
  void push(GenerationEvent event);
  // Moves every queued event to the end of `out`, waiting up to `timeout` for the first; false when none came.
  bool pop_all(std::vector<GenerationEvent>& out, std::chrono::milliseconds timeout);
  // True once a kDone or kError event was pushed (the last event of a generation).
  bool ended() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<GenerationEvent> queue_;
  bool ended_ = false;
};

// Feeds one event into a writer; returns the bytes to send.
std::string write_event(ResponseWriter& writer, const GenerationEvent& event);

// A started generation as the HTTP side holds it: its events, and the flag that stops it (a client that went
// away sets it so the slot is freed at once).
struct Generation {
  std::shared_ptr<EventChannel> events;
  std::shared_ptr<std::atomic<bool>> cancel;
};

}  // namespace locus::server
