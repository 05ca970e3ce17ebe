#include "cli/serve.h"

#include <CLI/CLI.hpp>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "media/media.h"
#include "runtime/model_store.h"
#include "server/backend.h"
#include "server/http_server.h"

namespace locus::cli {

CLI::App* add_serve_command(CLI::App& app, ServeCommandOptions& o) {
  auto* cmd = app.add_subcommand("serve", "serve the Ollama and OpenAI HTTP APIs (see docs/serve.md)");
  cmd->add_option("--host", o.host,
                  "address to listen on: host:port, host or :port (env LOCUS_HOST; default 127.0.0.1:11434). "
                  "Anything but loopback exposes the models to the network: set LOCUS_API_KEY then");
  cmd->add_option("--slots", o.slots,
                  "requests generating at once per model, each with its own KV cache (env LOCUS_NUM_PARALLEL; "
                  "default 4)");
  cmd->add_option("--max-queue", o.max_queue,
                  "requests waiting for a slot per model; beyond it requests get 503 with Retry-After "
                  "(env LOCUS_MAX_QUEUE; default 32)");
  cmd->add_option("--ctx", o.ctx, "context length of each slot in tokens (env LOCUS_CONTEXT_LENGTH; default 4096)");
  cmd->add_option("--keep-alive", o.keep_alive,
                  "how long an idle model stays loaded: a duration (5m, 1h) or seconds; 0 unloads after each "
                  "request, -1 keeps it forever; requests may override it (env LOCUS_KEEP_ALIVE; default 5m)");
  cmd->add_option("--threads", o.threads, "CPU threads per model (default: all cores)");
  cmd->add_option("--loop-guard", o.loop_guard,
                  "end an answer that has collapsed into repeating itself once the repetition spans this many "
                  "tokens (reported as done_reason/finish_reason \"length\"); 0 disables")
      ->capture_default_str();
  cmd->add_option("--model", o.models,
                  "serve the GGUF file PATH under the model name NAME (NAME=PATH; repeatable; env "
                  "LOCUS_MODEL_FILES, comma-separated). Requests name models only, never files: this is how a "
                  "file is served. A missing, unreadable or non-GGUF file stops the server at start. "
                  "NAME=PATH,mmproj=FILE gives the model its projector (images, audio); mmproj=none gives it "
                  "none; without either, the one mmproj*.gguf beside PATH that fits the model is used")
      ->type_name("NAME=PATH[,mmproj=FILE]")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--model-dir", o.model_dirs,
                  "serve every *.gguf directly in DIR under its file name without .gguf (mmproj* files left out; "
                  "repeatable; env LOCUS_MODEL_DIR)")
      ->type_name("DIR")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--mmproj", o.mmproj,
                  "the projector GGUF (mmproj) of the one model served with --model or --model-dir: images and "
                  "audio in. Without it a model file's projector is the mmproj*.gguf beside it that fits it "
                  "(said at start); store models use their projector layer")
      ->type_name("FILE");
  cmd->add_flag("--no-mmproj", o.no_mmproj,
                "serve model files without a projector, not even one found beside them (text only)");
  cmd->add_flag("--allow-media-urls", o.allow_media_urls,
                "fetch media that requests name by http(s) URL (public addresses only, no redirects; env "
                "LOCUS_ALLOW_MEDIA_URLS=1); off by default: such requests get a 400");
  cmd->add_option("--image-tokens", o.image_tokens,
                  "tokens per image unless a request says otherwise (Ollama options.image_tokens, OpenAI detail): "
                  "70, 140, 280 (default), 560 or 1120 under the google rule; 70..1120 under llama.cpp's (default "
                  "1120)");
  cmd->add_option("--image-size-rule", o.image_size_rule,
                  "how images are sized by default: google (Google's processor: a token ladder, no letterbox) or "
                  "llama.cpp (its smart resize with letterbox)")
      ->check(CLI::IsMember({"google", "llama.cpp"}));
  cmd->footer(
      "Environment: LOCUS_API_KEY (require 'Authorization: Bearer KEY'), LOCUS_ORIGINS (extra CORS origins, "
      "comma-separated, '*' wildcards), LOCUS_MAX_REQUEST_BYTES (request body limit, default 64 MiB; "
      "model uploads to POST /api/blobs have none), "
      "LOCUS_MODELS / OLLAMA_MODELS (model stores), "
      "LOCUS_ALLOWED_HOSTS (extra Host names accepted while listening on loopback, comma-separated, '*' "
      "wildcards; other names get 403, against DNS rebinding), LOCUS_MAX_CONNECTIONS (open connections, "
      "default 4096; 503 past it), LOCUS_MEDIA_MAX_BYTES, LOCUS_MEDIA_MAX_PIXELS, LOCUS_MEDIA_MAX_AUDIO_SECONDS, "
      "LOCUS_MEDIA_MAX_VIDEO_SECONDS, LOCUS_MEDIA_MAX_STREAMS, LOCUS_MEDIA_MAX_VIDEO_FRAMES (media limits, docs/media.md). A request's model is a name: a file given with --model or --model-dir, else a "
      "store model (locus's, then Ollama's); a file path in a request is never opened.");
  return cmd;
}

int serve(const ServeCommandOptions& c, const std::string& version) {
  server::ServeOptions o;
  o.version = version;
  if (auto err = server::apply_environment(o, [](const char* n) { return std::getenv(n); })) {
    std::fprintf(stderr, "locus: %s\n", err->c_str());
    return 2;
  }
  // Flags win over the environment.
  if (!c.host.empty()) {
    std::string err;
    auto hp = server::parse_host(c.host, &err);
    if (!hp) {
      std::fprintf(stderr, "locus: --host: %s\n", err.c_str());
      return 2;
    }
    o.listen = *hp;
  }
  auto positive = [](const char* flag, int v, auto& out) {
    if (v < 0) {
      std::fprintf(stderr, "locus: %s must be at least 1, got %d\n", flag, v);
      return false;
    }
    if (v > 0) out = static_cast<std::remove_reference_t<decltype(out)>>(v);
    return true;
  };
  if (!positive("--slots", c.slots, o.n_slots) || !positive("--max-queue", c.max_queue, o.max_queue) ||
      !positive("--ctx", c.ctx, o.ctx)) {
    return 2;
  }
  if (!c.keep_alive.empty()) {
    auto ka = server::parse_keep_alive_text(c.keep_alive);
    if (!ka) {
      std::fprintf(stderr, "locus: --keep-alive takes a duration (5m, 1h30m) or seconds, got '%s'\n",
                   c.keep_alive.c_str());
      return 2;
    }
    o.keep_alive = *ka;
  }
  o.n_threads = c.threads;
  // Each connection is a descriptor: take the hard limit, and keep the connection bound below it (with room
  // for model files, the store and the log) so that the bound, not a failed accept, is what a client meets.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    if (nofile.rlim_cur < nofile.rlim_max) {
      nofile.rlim_cur = nofile.rlim_max;
      setrlimit(RLIMIT_NOFILE, &nofile);
      getrlimit(RLIMIT_NOFILE, &nofile);
    }
    const size_t usable = nofile.rlim_cur > 128 ? static_cast<size_t>(nofile.rlim_cur - 128) : 16;
    if (o.max_connections > usable) {
      std::fprintf(stderr, "locus: the process may open %llu files; serving at most %zu connections, not %zu\n",
                   static_cast<unsigned long long>(nofile.rlim_cur), usable, o.max_connections);
      o.max_connections = usable;
    }
  }
  o.model_files.insert(o.model_files.end(), c.models.begin(), c.models.end());
  o.model_dirs.insert(o.model_dirs.end(), c.model_dirs.begin(), c.model_dirs.end());
  // Checked before anything listens: a typo in a path is found now, not by the first client.
  server::ServedProjectorOptions projectors;
  if (!c.mmproj.empty()) projectors.mmproj = c.mmproj;
  projectors.no_mmproj = c.no_mmproj;
  server::ServedFilesResult served = server::served_files_from(o.model_files, o.model_dirs, projectors);
  if (served.error) {
    std::fprintf(stderr, "locus: %s\n", served.error->c_str());
    return 2;
  }

  // Signals go to one thread that waits for them (sigwait), so that shutting down is ordinary code rather than
  // a handler: block them before any other thread starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  runtime::ModelStore store = runtime::ModelStore::from_environment();
  server::BackendOptions bo;
  bo.n_slots = o.n_slots;
  bo.max_queue = o.max_queue;
  bo.slot_ctx = o.ctx;
  bo.keep_alive = o.keep_alive;
  bo.n_threads = o.n_threads;
  bo.loop_guard_tokens = c.loop_guard;
  bo.files = served.files;
  try {
    bo.media.limits = media::Limits::from_env();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "locus: %s\n", e.what());
    return 2;
  }
  if (c.image_size_rule == "llama.cpp") {
    bo.media.size_rule = media::SizeRule::kLlamaCpp;
    bo.media.image_tokens = 1120;
  }
  if (c.image_tokens != 0) {
    if (auto problem = runtime::check_image_tokens(bo.media.size_rule, c.image_tokens, "--image-tokens")) {
      std::fprintf(stderr, "locus: %s\n", problem->c_str());
      return 2;
    }
    bo.media.image_tokens = c.image_tokens;
  }
  if (c.allow_media_urls) o.allow_media_urls = true;
  server::RuntimeBackend backend(store, bo);
  server::HttpServer http(backend, o);
  std::string err;
  if (!http.bind(&err)) {
    std::fprintf(stderr, "locus: %s\n", err.c_str());
    return 1;
  }
  if (!server::is_loopback_host(o.listen.host)) {
    std::fprintf(stderr,
                 "locus: WARNING: listening on %s:%d, which is reachable from other machines; %s\n",
                 o.listen.host.c_str(), http.port(),
                 o.api_key.empty() ? "anyone who can reach it can use the models (set LOCUS_API_KEY)"
                                   : "requests need the API key");
  }
  std::fprintf(stderr, "locus: listening on %s:%d (slots %d, queue %d, ctx %u, models in %s)\n",
               o.listen.host.c_str(), http.port(), o.n_slots, o.max_queue, o.ctx, store.roots().locus.c_str());
  for (const server::ServedFile& f : served.files) {
    std::fprintf(stderr, "locus: serving %s from %s\n", f.name.display().c_str(), f.path.c_str());
    std::fprintf(stderr, "locus: %s: %s\n", f.name.display().c_str(), f.projector_note.c_str());
  }

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::fprintf(stderr, "locus: %s: stopping\n", sig == SIGINT ? "interrupt" : "terminated");
    backend.cancel_all();
    http.stop();
  });
  http.run();
  // run() may also return on its own (a listen failure): wake the waiter so it can be joined.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return 0;
}

}  // namespace locus::cli
