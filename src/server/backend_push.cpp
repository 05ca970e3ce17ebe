// /api/push on RuntimeBackend, and the Backend default for fakes.
#include "runtime/model_push.h"
#include "server/backend.h"
#include "server/backend_internal.h"

namespace locus::server {
namespace {

// Statuses: 404 the store has no such model; 401 the registry wants credentials (as /api/pull answers; it is
// the registry that refused, not this server, and the message says so); 400 plain http refused; 500 a damaged
// blob in our own store; 502 the registry or the way to it failed; 499 the client left.
ApiError push_error_to_api(const runtime::PullError& e, const std::string& model) {
  switch (e.pull_kind()) {
    case runtime::PullErrorKind::not_found: return ApiError{404, e.what(), "model"};
    case runtime::PullErrorKind::unauthorized: return ApiError{401, e.what(), "model"};
    case runtime::PullErrorKind::insecure: return ApiError{400, e.what(), "insecure"};
    case runtime::PullErrorKind::digest_mismatch: return ApiError{500, e.what(), ""};
    case runtime::PullErrorKind::network:
    case runtime::PullErrorKind::bad_response: return ApiError{502, e.what(), ""};
    case runtime::PullErrorKind::cancelled: return ApiError{499, "push of \"" + model + "\" cancelled", ""};
  }
  return ApiError{500, e.what(), ""};
}

}  // namespace

JsonReply Backend::push(const std::string&, bool, const std::function<void(const nlohmann::json&)>&,
                        const std::atomic<bool>&) {
  JsonReply r;
  r.error = ApiError{501, "push is not available in this build", ""};
  return r;
}

JsonReply RuntimeBackend::push(const std::string& model, bool insecure,
                               const std::function<void(const nlohmann::json& line)>& on_line,
                               const std::atomic<bool>& cancel) {
  JsonReply r;
  // The write lock keeps remove() from collecting blobs while they are read.
  std::unique_lock<std::timed_mutex> lock(write_mutex_, std::defer_lock);
  if (!lock_for_write(lock, cancel)) {
    r.error = ApiError{499, "push of \"" + model + "\" cancelled", ""};
    return r;
  }
  try {
    runtime::push_model_for_api(store_, model, insecure, on_line, &cancel);
  } catch (const runtime::PullError& e) {
    r.error = push_error_to_api(e, model);
  } catch (const runtime::StoreError& e) {
    r.error = store_error_to_api(e, model);
    r.error->message = e.what();
  } catch (const std::exception& e) {
    r.error = ApiError{500, std::string("push failed: ") + e.what(), ""};
  }
  return r;
}

}  // namespace locus::server
