#include "cli/interrupt.h"

namespace locus::cli {
namespace {

std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the SIGINT handler writes this flag");

extern "C" void on_sigint_flag(int) { g_interrupted.store(true); }

}  // namespace

SigintFlag::SigintFlag() {
  g_interrupted = false;
  struct sigaction action {};
  action.sa_handler = on_sigint_flag;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, &previous_);
}

SigintFlag::~SigintFlag() { ::sigaction(SIGINT, &previous_, nullptr); }

const std::atomic<bool>& SigintFlag::interrupted() const { return g_interrupted; }

}  // namespace locus::cli
