// Ctrl-C as a flag for long transfers (pull, push): while a SigintFlag lives, SIGINT sets interrupted()
// instead of killing the process, so the work stops cleanly (a pull keeps its partial blobs, a push or a
// request to the server is abandoned) and the command exits 130.
#pragma once

#include <atomic>
#include <csignal>

namespace locus::cli {

class SigintFlag {
 public:
  SigintFlag();   // clears the flag and installs the handler
  ~SigintFlag();  // puts the previous handler back
  SigintFlag(const SigintFlag&) = delete;
  SigintFlag& operator=(const SigintFlag&) = delete;

  // The flag SIGINT sets; pass it as a cancel flag.
  const std::atomic<bool>& interrupted() const;

 private:
  struct sigaction previous_ {};
};

}  // namespace locus::cli
