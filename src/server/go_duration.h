// Go's duration syntax ("300ms", "1.5h", "1h30m", "-1m"), which Ollama's `keep_alive` takes (Go's
// time.ParseDuration), and keep_alive's number form (seconds).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/api_request.h"
#include "server/json_fields.h"

namespace locus::server {

// Nanoseconds, or nothing when `text` is not a Go duration: an optional sign, then one or more decimal numbers
// (with an optional fraction) each followed by a unit ns, us, µs, μs, ms, s, m, h; "0" alone needs no unit.
// Values past int64 nanoseconds (about 292 years) are refused, as Go does.
std::optional<int64_t> parse_go_duration_ns(std::string_view text);

// Ollama's keep_alive: a number is seconds, a string is a Go duration; a negative value of either keeps the
// model loaded forever and zero unloads it after the reply. A string holding a plain number ("-1", "300") is
// read as seconds too, as Ollama reads OLLAMA_KEEP_ALIVE. Throws FieldError naming `path` for anything else.
KeepAlive parse_keep_alive(const OrderedJson& value, const std::string& path);

}  // namespace locus::server
