#include "runtime/stop_strings.h"

#include <algorithm>

namespace locus::runtime {

void StopMatcher::set_stops(std::span<const std::string> stops) {
  stops_.clear();
  stop_index_of_.clear();
  max_len_ = 0;
  for (size_t i = 0; i < stops.size(); ++i) {
    if (stops[i].empty()) continue;  // would match everywhere; Ollama's clients never mean that
    stops_.push_back(stops[i]);
    stop_index_of_.push_back(static_cast<int32_t>(i));
    max_len_ = std::max(max_len_, stops[i].size());
  }
  buffer_.reserve(2 * max_len_ + 256);
  reset();
}

void StopMatcher::reset() {
  buffer_.clear();
  emitted_ = 0;
  stop_index_ = -1;
}

void StopMatcher::drop_emitted() {
  buffer_.erase(0, emitted_);
  emitted_ = 0;
}

StopMatcher::Result StopMatcher::feed(std::string_view piece) {
  if (stopped()) return {{}, true, stop_index_};
  drop_emitted();
  const size_t held = buffer_.size();
  buffer_.append(piece);
  const std::string_view text = buffer_;

  // A match must end inside the new piece: the held text alone was already checked. The stop that ends
  // first wins, as if the text had arrived one byte at a time, so the result does not depend on how the
  // text was split into pieces; of two ending on the same byte, the longer one (starting first) wins.
  size_t best_end = std::string_view::npos;
  size_t best_pos = std::string_view::npos;
  size_t best_stop = 0;
  for (size_t s = 0; s < stops_.size(); ++s) {
    const std::string& stop = stops_[s];
    const size_t from = held >= stop.size() ? held - stop.size() + 1 : 0;
    const size_t pos = text.find(stop, from);
    if (pos == std::string_view::npos) continue;
    const size_t end = pos + stop.size();
    if (end < best_end || (end == best_end && pos < best_pos)) {
      best_end = end;
      best_pos = pos;
      best_stop = s;
    }
  }
  if (best_end != std::string_view::npos) {
    stop_index_ = stop_index_of_[best_stop];
    emitted_ = buffer_.size();
    return {text.substr(0, best_pos), true, stop_index_};
  }

  // Hold back the longest tail that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& stop : stops_) {
    for (size_t k = std::min(stop.size() - 1, text.size()); k > hold; --k) {
      if (text.substr(text.size() - k) == std::string_view(stop).substr(0, k)) {
        hold = k;
        break;
      }
    }
  }
  emitted_ = text.size() - hold;
  return {text.substr(0, emitted_), false, -1};
}

std::string_view StopMatcher::flush() {
  if (stopped()) return {};
  const std::string_view rest = std::string_view(buffer_).substr(emitted_);
  emitted_ = buffer_.size();
  return rest;
}

}  // namespace locus::runtime
