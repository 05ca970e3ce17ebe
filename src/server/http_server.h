// `locus serve`'s HTTP side (cpp-httplib, plain HTTP): the Ollama and OpenAI routes, bearer auth, CORS, the
// request size limit, streaming (NDJSON / SSE, chunked) with keep-alive pings, cancellation when the client goes
// away, and one JSON access-log line per request on stderr. Generation and model management go to a Backend.
#pragma once

#include <memory>
#include <string>

#include "server/backend.h"
#include "server/server_config.h"

namespace locus::server {

class HttpServer {
 public:
  HttpServer(Backend& backend, ServeOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds options.listen (port 0: any free port). False with *error set when the address cannot be had.
  bool bind(std::string* error);
  int port() const;
  // Serves until stop(); call after bind().
  void run();
  // From any thread: stop accepting, end streams still waiting (they get an error line), return from run().
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace locus::server
