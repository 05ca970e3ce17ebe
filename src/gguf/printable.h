// Internal to src/gguf: names and strings from a file, made safe to put in a one-line error message.
#pragma once

#include <string>
#include <string_view>

namespace locus::gguf {

// Control bytes become \xNN and long text is cut to about 100 bytes with "...", so a hostile key or
// tensor name cannot break the message over lines or flood a log.
std::string printable(std::string_view text);

}  // namespace locus::gguf
