// RuntimeBackend's model-management answers: /api/tags, /api/show, /api/ps, delete, copy and /v1/models
// (api-compat.md §2.6), from the model store and the loaded models.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "runtime/model_show.h"
#include "server/backend.h"
#include "server/backend_internal.h"

namespace locus::server {
namespace {

using OrderedJson = nlohmann::ordered_json;

int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string owner_of(const runtime::ModelName& n) { return n.name_space; }

void log_line(const OrderedJson& j) {
  const std::string s = j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
  std::fwrite(s.data(), 1, s.size(), stderr);
}

// What /api/tags and /v1/models list: the served files first, then the stores' models but those a served
// file's name hides (a request for that name gets the file).
std::vector<runtime::ModelEntry> listed_models(const std::vector<ServedFile>& files, const runtime::ModelStore& store) {
  std::vector<runtime::ModelEntry> out;
  for (const ServedFile& f : files) {
    try {
      const runtime::ResolvedModel m = resolve_served_file(f);
      runtime::ModelEntry e;
      e.name = f.name;
      e.display_name = m.display_name;
      e.root = runtime::StoreRootKind::file;
      e.digest = m.digest;
      e.size_bytes = m.size_bytes;
      e.modified_at = m.modified_at;
      e.details = store.details(m);
      e.projector = m.projector;
      out.push_back(std::move(e));
    } catch (const std::exception& ex) {
      // Checked at start-up; a file changed since is left out of the list and said so in the log.
      log_line({{"event", "served file unavailable"}, {"model", f.name.display()}, {"error", ex.what()}});
    }
  }
  for (runtime::ModelEntry& e : store.list()) {
    const bool hidden =
        std::any_of(files.begin(), files.end(), [&](const ServedFile& f) { return f.name.same_model_as(e.name); });
    if (!hidden) out.push_back(std::move(e));
  }
  return out;
}

OrderedJson capabilities_of(const runtime::ModelEntry& e) {
  return runtime::model_capabilities(e.projector ? &*e.projector : nullptr);
}

}  // namespace

JsonReply RuntimeBackend::tags() {
  JsonReply r;
  OrderedJson models = OrderedJson::array();
  for (const runtime::ModelEntry& e : listed_models(options_.files, store_)) {
    models.push_back(OrderedJson{{"name", e.display_name},
                                 {"model", e.display_name},
                                 {"modified_at", format_time(e.modified_at)},
                                 {"size", e.size_bytes},
                                 {"digest", e.digest},
                                 {"details", runtime::details_json(e.details)},
                                 {"capabilities", capabilities_of(e)}});
  }
  r.body = OrderedJson{{"models", std::move(models)}};
  return r;
}

JsonReply RuntimeBackend::show(const std::string& model, bool verbose) {
  JsonReply r;
  runtime::ResolvedModel resolved;
  if (auto error = lookup(model, resolved)) {
    r.error = std::move(error);
    return r;
  }
  try {
    runtime::ShownModel shown = runtime::show_resolved_model(store_, std::move(resolved), verbose);
    r.body = std::move(shown.body);
    r.body["modified_at"] = format_time(shown.resolved.modified_at);
  } catch (const runtime::StoreError& e) {
    r.error = store_error_to_api(e, model);
  } catch (const std::exception& e) {
    r.error = ApiError{500, "model \"" + model + "\": " + e.what(), "model"};
  }
  return r;
}

JsonReply RuntimeBackend::ps() {
  JsonReply r;
  OrderedJson models = OrderedJson::array();
  std::lock_guard<std::mutex> lock(mutex_);
  const auto sys_now = std::chrono::system_clock::now();
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [key, m] : models_) {
    std::string expires;
    if (m->keep_alive.forever) {
      // Ollama shows a far-future time for "forever"; clients parse it as a date.
      expires = format_time(sys_now + std::chrono::hours(24 * 365 * 100));
    } else {
      const auto st = m->scheduler->stats();
      const bool busy = m->pending > 0 || st.active > 0 || st.queued > 0;
      const auto last = busy ? now : std::max(st.last_activity, m->last_used);
      const auto at = last + std::chrono::milliseconds(m->keep_alive.duration_ms);
      expires = format_time(sys_now + std::chrono::duration_cast<std::chrono::system_clock::duration>(at - now));
    }
    models.push_back(OrderedJson{{"name", m->name},
                                 {"model", m->name},
                                 {"size", m->size_bytes},
                                 {"digest", m->resolved.digest},
                                 {"details", runtime::details_json(m->details)},
                                 {"expires_at", expires},
                                 {"size_vram", 0},
                                 {"context_length", options_.slot_ctx}});
  }
  r.body = OrderedJson{{"models", std::move(models)}};
  return r;
}

JsonReply RuntimeBackend::remove(const std::string& model) {
  JsonReply r;
  // After any pull or create in progress: removing collects unreferenced blobs, theirs included.
  std::lock_guard<std::timed_mutex> write_lock(write_mutex_);
  std::lock_guard<std::mutex> store_lock(store_mutex_);
  const RequestedModel requested = check_requested_model(model);
  if (requested.error) {
    r.error = requested.error;
    return r;
  }
  if (served_file(*requested.name) != nullptr) {
    r.error = ApiError{403, "model \"" + requested.name->display() + "\" is served from a file given to `locus serve` "
                       "(--model / --model-dir), not from the store; the API cannot delete it (restart the server "
                       "without it)", "model"};
    return r;
  }
  try {
    const runtime::ModelName& name = *requested.name;
    std::string loaded_key;  // the GGUF the model names, by which a loaded model is found
    try {
      loaded_key = server::loaded_key(store_.resolve(name));
    } catch (const runtime::StoreError&) {
      // remove() gives the error
    }
    store_.remove(name);
    // A deleted model does not stay loaded (as with Ollama): it is unloaded once its requests are done.
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = models_.find(loaded_key); it != models_.end()) {
      it->second->keep_alive = KeepAlive{false, 0};
      reap_wake_.notify_all();
    }
  } catch (const runtime::StoreError& e) {
    r.error = store_error_to_api(e, model);
    if (e.kind() == runtime::StoreErrorKind::read_only) {
      r.error->message = "model \"" + model + "\" belongs to Ollama's model store, which locus never changes; "
                         "remove it with `ollama rm " + model + "`";
    }
  }
  return r;
}

JsonReply RuntimeBackend::copy(const std::string& source, const std::string& destination) {
  JsonReply r;
  const RequestedModel requested = check_requested_model(source);
  if (requested.error) {
    r.error = requested.error;
    return r;
  }
  if (served_file(*requested.name) != nullptr) {
    r.error = ApiError{400, "model \"" + requested.name->display() + "\" is served from a file given to `locus serve`, "
                       "not from the store; only store models can be copied", "source"};
    return r;
  }
  std::lock_guard<std::mutex> store_lock(store_mutex_);
  try {
    const runtime::ModelName to = runtime::parse_model_name(destination);
    if (served_file(to) != nullptr) {
      r.error = ApiError{400, "destination \"" + to.display() + "\" is the name of a model served from a file given "
                         "to `locus serve`, which would hide the copy; choose another name", "destination"};
      return r;
    }
    store_.copy(*requested.name, to);
  } catch (const runtime::StoreError& e) {
    r.error = store_error_to_api(e, source);
  }
  return r;
}

JsonReply RuntimeBackend::openai_models() {
  JsonReply r;
  OrderedJson data = OrderedJson::array();
  for (const runtime::ModelEntry& e : listed_models(options_.files, store_)) {
    // OpenAI's four fields, and the capabilities as /api/tags lists them (an extra field, which OpenAI's
    // clients keep as they find it), so a client can see which models take images or audio.
    data.push_back(OrderedJson{{"id", e.display_name},
                               {"object", "model"},
                               {"created", unix_seconds(e.modified_at)},
                               {"owned_by", owner_of(e.name)},
                               {"capabilities", capabilities_of(e)}});
  }
  r.body = OrderedJson{{"object", "list"}, {"data", std::move(data)}};
  return r;
}

JsonReply RuntimeBackend::openai_model(const std::string& model) {
  JsonReply r;
  runtime::ResolvedModel m;
  if (auto error = lookup(model, m)) {
    r.error = std::move(error);
    return r;
  }
  r.body = OrderedJson{{"id", m.display_name},
                       {"object", "model"},
                       {"created", unix_seconds(m.modified_at)},
                       {"owned_by", m.name ? owner_of(*m.name) : std::string("library")},
                       {"capabilities", runtime::model_capabilities(m.projector ? &*m.projector : nullptr)}};
  return r;
}

}  // namespace locus::server
