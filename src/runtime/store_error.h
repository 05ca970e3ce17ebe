// The one exception type of the model store. Its kind lets the server pick an HTTP status (not_found: 404,
// invalid_name: 400, ...) without matching message text; the message is one line naming the model or file and
// saying what was expected and what was found.
#pragma once

#include <stdexcept>
#include <string>

namespace locus::runtime {

enum class StoreErrorKind {
  invalid_name,     // a model name that does not parse
  not_found,        // no such model, file or blob
  read_only,        // a change asked of the Ollama root
  corrupt,          // a manifest, config or text layer that is not what the layout says
  bad_input,        // a file given to import that is not a readable GGUF, bad params JSON
  digest_mismatch,  // bytes whose sha256 is not the digest they were stored under
  io,               // the file system said no
};

class StoreError : public std::runtime_error {
 public:
  StoreError(StoreErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  StoreErrorKind kind() const { return kind_; }

 private:
  StoreErrorKind kind_;
};

}  // namespace locus::runtime
