// /api/pull and /api/create on RuntimeBackend (both write the store, one at a time), and the Backend defaults
// for the routes a fake need not serve.
#include <chrono>

#include "runtime/model_create.h"
#include "runtime/model_pull.h"
#include "server/backend.h"
#include "server/backend_internal.h"

namespace locus::server {
namespace {

ApiError not_available(const std::string& what) { return ApiError{501, what + " is not available in this build", ""}; }

ApiError pull_error_to_api(const runtime::PullError& e, const std::string& model) {
  switch (e.pull_kind()) {
    case runtime::PullErrorKind::not_found:
      return ApiError{404, "pull model manifest: " + std::string(e.what()), "model"};
    case runtime::PullErrorKind::unauthorized: return ApiError{401, e.what(), "model"};
    case runtime::PullErrorKind::insecure: return ApiError{400, e.what(), "insecure"};
    // The registry (or the way to it) failed, not this server: a gateway error.
    case runtime::PullErrorKind::network:
    case runtime::PullErrorKind::bad_response:
    case runtime::PullErrorKind::digest_mismatch: return ApiError{502, e.what(), ""};
    case runtime::PullErrorKind::cancelled: return ApiError{499, "pull of \"" + model + "\" cancelled", ""};
  }
  return ApiError{500, e.what(), ""};
}

}  // namespace

EmbedResult Backend::embed(const EmbedRequest&, const std::function<bool()>&) {
  EmbedResult r;
  r.error = not_available("embedding");
  return r;
}

JsonReply Backend::pull(const std::string&, bool, const std::function<void(const nlohmann::json&)>&,
                        const std::atomic<bool>&) {
  JsonReply r;
  r.error = not_available("pull");
  return r;
}

JsonReply Backend::create(const nlohmann::json&, const std::function<void(const std::string&)>&) {
  JsonReply r;
  r.error = ApiError{501, "create is not available in this build yet", ""};
  return r;
}

bool RuntimeBackend::lock_for_write(std::unique_lock<std::timed_mutex>& lock, const std::atomic<bool>& cancel) {
  while (!lock.try_lock_for(std::chrono::milliseconds(250))) {
    if (cancel.load()) return false;
  }
  return true;
}

JsonReply RuntimeBackend::pull(const std::string& model, bool insecure,
                               const std::function<void(const nlohmann::json& line)>& on_line,
                               const std::atomic<bool>& cancel) {
  JsonReply r;
  std::unique_lock<std::timed_mutex> lock(write_mutex_, std::defer_lock);
  if (!lock_for_write(lock, cancel)) {
    r.error = ApiError{499, "pull of \"" + model + "\" cancelled", ""};
    return r;
  }
  try {
    runtime::pull_model_for_api(store_, model, insecure, on_line, &cancel);
  } catch (const runtime::PullError& e) {
    r.error = pull_error_to_api(e, model);
  } catch (const runtime::StoreError& e) {
    r.error = store_error_to_api(e, model);
    if (e.kind() != runtime::StoreErrorKind::not_found) r.error->message = e.what();
  } catch (const std::exception& e) {
    r.error = ApiError{500, std::string("pull failed: ") + e.what(), ""};
  }
  return r;
}

JsonReply RuntimeBackend::create(const nlohmann::json& body,
                                 const std::function<void(const std::string& status)>& on_status) {
  JsonReply r;
  std::lock_guard<std::timed_mutex> lock(write_mutex_);
  std::string model;
  if (auto it = body.find("model"); it != body.end() && it->is_string()) model = it->get<std::string>();
  try {
    runtime::create_model_from_api(store_, body, on_status);
  } catch (const runtime::StoreError& e) {
    r.error = store_error_to_api(e, model);
    r.error->message = e.what();
  } catch (const std::exception& e) {
    r.error = ApiError{500, std::string("create failed: ") + e.what(), ""};
  }
  return r;
}

}  // namespace locus::server
