#include "server/served_models.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <system_error>

#include "runtime/model_store.h"
#include "runtime/sha256.h"
#include "runtime/store_error.h"

namespace locus::server {
namespace {

namespace fs = std::filesystem;

// A name as it appears in an error: control bytes spelled \xNN (a NUL would otherwise cut the line in a log),
// and a very long one shortened so that a megabyte of name is not echoed back.
std::string shown(std::string_view model, size_t limit = 64) {
  std::string out;
  for (const char c : model.substr(0, std::min(model.size(), limit))) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  if (model.size() > limit) out += "... (" + std::to_string(model.size()) + " characters)";
  return out;
}

bool ends_with_gguf(std::string_view s) {
  if (s.size() < 5) return false;
  std::string tail(s.substr(s.size() - 5));
  for (char& c : tail) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return tail == ".gguf";
}

// Whether a client probably meant a file: the answer then says how files are served instead. Only the text is
// looked at; whether such a file exists is exactly what must not be revealed.
bool looks_like_a_file(std::string_view m) {
  return m.starts_with('/') || m.starts_with('.') || m.starts_with('~') || m.find('\\') != std::string_view::npos ||
         m.find("..") != std::string_view::npos || m.find('%') != std::string_view::npos || ends_with_gguf(m) ||
         m.find('\0') != std::string_view::npos || (m.size() >= 2 && m[1] == ':');
}

constexpr std::string_view kFilesHint =
    "; the API takes model names (name[:tag]) and never opens a file path: to serve a GGUF file, start the "
    "server with --model NAME=PATH (see `locus serve --help`)";

bool same_name(const runtime::ModelName& a, const runtime::ModelName& b) { return a.same_model_as(b); }

}  // namespace

ApiError model_not_found(std::string_view model) {
  std::string msg = "model \"" + shown(model) + "\" not found, try pulling it first";
  if (looks_like_a_file(model)) msg += kFilesHint;
  return ApiError{404, std::move(msg), "model"};
}

RequestedModel check_requested_model(std::string_view model) {
  RequestedModel r;
  if (model.empty()) {
    r.error = ApiError{400, "model is required: expected a model name such as gemma4:e2b, found an empty string",
                       "model"};
    return r;
  }
  std::string why;
  if (model.size() > kMaxModelNameChars) {
    why = "a model name has at most " + std::to_string(kMaxModelNameChars) + " characters";
  } else {
    try {
      r.name = runtime::parse_model_name(model);
      return r;
    } catch (const runtime::StoreError& e) {
      // The parser's message repeats the whole name; only its reason is kept, after the shown name.
      const std::string text = e.what();
      const std::string prefix = "invalid model name \"" + std::string(model) + "\": ";
      why = text.starts_with(prefix) ? text.substr(prefix.size()) : text;
    }
  }
  std::string msg = "model \"" + shown(model) + "\" not found: not a valid model name (" + shown(why, 1000) + ")";
  if (looks_like_a_file(model)) msg += kFilesHint;
  r.error = ApiError{404, std::move(msg), "model"};
  return r;
}

runtime::ResolvedModel resolve_served_file(const ServedFile& file) {
  runtime::ResolvedModel m = runtime::ModelStore::resolve_file(file.path, file.name.display());
  m.name = file.name;
  if (file.projector) m.projector_path = file.projector->path;
  m.projector = file.projector;
  m.projector_note = file.projector_note;
  const auto mtime_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(m.modified_at.time_since_epoch()).count();
  std::string identity = "locus served file\n" + m.model_path.string() + "\n" + std::to_string(m.size_bytes) +
                         "\n" + std::to_string(mtime_ns);
  if (m.projector_path) identity += "\nprojector " + m.projector_path->string();
  m.digest = runtime::sha256_hex(identity);
  return m;
}

std::optional<std::string> parse_served_file(std::string_view spec, std::vector<ServedFile>& out) {
  const size_t eq = spec.find('=');
  const std::string origin = "--model " + std::string(spec);
  if (eq == std::string_view::npos) {
    return origin + ": expected NAME=PATH (a model name, '=', a GGUF file), found no '='";
  }
  const std::string_view name = spec.substr(0, eq);
  std::string_view path = spec.substr(eq + 1);
  ServedFile f;
  constexpr std::string_view kMmproj = ",mmproj=";
  if (const size_t at = path.rfind(kMmproj); at != std::string_view::npos) {
    const std::string_view projector = path.substr(at + kMmproj.size());
    path = path.substr(0, at);
    if (projector.empty()) {
      return origin + ": expected NAME=PATH,mmproj=FILE (a projector GGUF, or none), found nothing after mmproj=";
    }
    if (projector == "none") {
      f.no_mmproj = true;
    } else {
      f.mmproj = fs::path(std::string(projector));
      f.mmproj_origin = origin;
    }
  }
  if (path.empty()) return origin + ": expected NAME=PATH, found no path after '='";
  try {
    f.name = runtime::parse_model_name(name);
  } catch (const runtime::StoreError& e) {
    return origin + ": " + e.what();
  }
  f.path = fs::path(std::string(path));
  f.origin = origin;
  out.push_back(std::move(f));
  return std::nullopt;
}

std::optional<std::string> add_served_dir(const fs::path& dir, std::vector<ServedFile>& out) {
  const std::string origin = "--model-dir " + dir.string();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return origin + ": expected a folder of GGUF files, found " +
           (fs::exists(dir, ec) ? std::string("something else (a file?)") : std::string("nothing (no such folder)"));
  }
  std::vector<fs::path> ggufs;
  fs::directory_iterator it(dir, ec);
  if (ec) return origin + ": cannot list the folder: " + ec.message();
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path& p = it->path();
    if (!ends_with_gguf(p.filename().string())) continue;
    std::string stem = p.stem().string();
    std::string lower = stem;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.starts_with("mmproj")) continue;
    ggufs.push_back(p);
  }
  if (ec) return origin + ": cannot list the folder: " + ec.message();
  if (ggufs.empty()) return origin + ": expected at least one *.gguf file in the folder, found none";
  std::sort(ggufs.begin(), ggufs.end());  // a stable order for errors and listings
  for (const fs::path& p : ggufs) {
    ServedFile f;
    try {
      f.name = runtime::parse_model_name(p.stem().string());
    } catch (const runtime::StoreError& e) {
      return origin + ": " + p.filename().string() + " cannot be served under its file name: " + e.what() +
             "; rename it or serve it with --model NAME=PATH";
    }
    f.path = p;
    f.origin = origin;
    out.push_back(std::move(f));
  }
  return std::nullopt;
}

std::optional<std::string> check_served_files(const std::vector<ServedFile>& files) {
  for (size_t i = 0; i < files.size(); ++i) {
    const ServedFile& f = files[i];
    for (size_t j = 0; j < i; ++j) {
      if (same_name(files[j].name, f.name)) {
        return "model name \"" + f.name.display() + "\" is given twice: by " + files[j].origin + " and by " + f.origin;
      }
    }
    try {
      resolve_served_file(f);
    } catch (const runtime::StoreError& e) {
      return f.origin + ": " + e.what();
    }
  }
  return std::nullopt;
}

ServedFilesResult served_files_from(const std::vector<std::string>& specs, const std::vector<std::string>& dirs,
                                    const ServedProjectorOptions& projectors) {
  ServedFilesResult r;
  for (const std::string& s : specs) {
    if ((r.error = parse_served_file(s, r.files))) return r;
  }
  for (const std::string& d : dirs) {
    if ((r.error = add_served_dir(fs::path(d), r.files))) return r;
  }
  if ((r.error = check_served_files(r.files))) return r;

  if (projectors.mmproj && projectors.no_mmproj) {
    r.error = "--mmproj and --no-mmproj contradict each other: give one";
    return r;
  }
  if (projectors.mmproj) {
    const std::string given = "--mmproj " + projectors.mmproj->string();
    if (r.files.size() != 1) {
      r.error = given + ": applies when one model is served, found " + std::to_string(r.files.size()) +
                "; give each model its projector with --model NAME=PATH,mmproj=FILE";
      return r;
    }
    ServedFile& f = r.files.front();
    if (f.mmproj || f.no_mmproj) {
      r.error = given + ": " + f.origin + " already says which projector it has; give it once";
      return r;
    }
    f.mmproj = projectors.mmproj;
    f.mmproj_origin = given;
  }
  for (ServedFile& f : r.files) {
    runtime::ProjectorRequest req;
    req.file = f.mmproj;
    req.origin = f.mmproj_origin;
    req.search_beside = !f.no_mmproj && !projectors.no_mmproj;
    req.choose_hint =
        "choose one with --model NAME=PATH,mmproj=FILE (or --mmproj FILE when one model is served), or serve it "
        "without a projector with mmproj=none / --no-mmproj";
    try {
      runtime::ProjectorChoice choice = runtime::find_projector(f.path, req);
      f.projector = std::move(choice.projector);
      f.projector_note = std::move(choice.reason);
    } catch (const runtime::StoreError& e) {
      r.error = f.mmproj ? std::string(e.what()) : f.origin + ": " + e.what();
      return r;
    }
  }
  return r;
}

}  // namespace locus::server
