#include "server/event_channel.h"

namespace locus::server {

void EventChannel::push(GenerationEvent event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (event.kind == GenerationEvent::Kind::kDone || event.kind == GenerationEvent::Kind::kError) ended_ = true;
    queue_.push_back(std::move(event));
  }
  ready_.notify_one();
}

bool EventChannel::pop_all(std::vector<GenerationEvent>& out, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [&] { return !queue_.empty(); })) return false;
  while (!queue_.empty()) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return true;
}

bool EventChannel::ended() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ended_;
}

std::string write_event(ResponseWriter& writer, const GenerationEvent& e) {
  if (!e.logprobs.empty()) writer.logprobs(e.logprobs);
  switch (e.kind) {
    case GenerationEvent::Kind::kText: return writer.text(e.text);
    case GenerationEvent::Kind::kThinking: return writer.thinking(e.text);
    case GenerationEvent::Kind::kToolCall: return writer.tool_call(e.name, e.arguments);
    case GenerationEvent::Kind::kDone: return writer.done(e.done);
    case GenerationEvent::Kind::kError: return writer.error(e.text);
  }
  return {};
}

}  // namespace locus::server
