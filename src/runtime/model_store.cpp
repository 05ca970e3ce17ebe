#include "runtime/model_store.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "gguf/file.h"
#include "runtime/store_files.h"

namespace locus::runtime {
namespace fs = std::filesystem;
using namespace store_files;

namespace {

// Manifests and configs are a few hundred bytes; the limits only keep a wrong file from being read whole.
constexpr uint64_t kMaxManifestBytes = 1 << 20;
constexpr uint64_t kMaxTextLayerBytes = 16 << 20;

std::string json_type_name(const nlohmann::json& j) { return j.type_name(); }

const char* env_value(const char* key) {
  const char* v = std::getenv(key);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

std::string string_field(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return {};
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A manifest path under `root`/manifests matched part by part without regard to case, as Ollama matches names.
std::optional<std::pair<fs::path, ModelName>> find_in_root(const fs::path& root, const ModelName& name) {
  const fs::path base = root / "manifests";
  std::error_code ec;
  const fs::path exact = base / name.manifest_relative_path();
  if (fs::is_regular_file(exact, ec)) return std::make_pair(exact, name);
  const std::string parts[4] = {name.host, name.name_space, name.model, name.tag};
  std::string found[4];
  fs::path dir = base;
  for (int i = 0; i < 4; ++i) {
    if (!fs::is_directory(dir, ec)) return std::nullopt;
    bool matched = false;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string n = e.path().filename().string();
      if (!iequal(n, parts[i])) continue;
      if (i < 3 ? e.is_directory(ec) : e.is_regular_file(ec)) {
        found[i] = n;
        dir /= n;
        matched = true;
        break;
      }
    }
    if (!matched) return std::nullopt;
  }
  ModelName on_disk{found[0], found[1], found[2], found[3]};
  return std::make_pair(dir, on_disk);
}

// A file exactly four levels under manifests/ (host/namespace/model/tag), with why its path is not a valid
// model name (empty when it is).
struct ManifestFile {
  fs::path path;
  ModelName name;
  std::string problem;
};

std::vector<ManifestFile> manifest_files(const fs::path& root) {
  std::vector<ManifestFile> out;
  const fs::path base = root / "manifests";
  std::error_code ec;
  if (!fs::is_directory(base, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(base, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it.depth() != 3 || !it->is_regular_file(ec)) continue;
    const fs::path rel = it->path().lexically_relative(base);
    std::vector<std::string> parts;
    for (const auto& p : rel) parts.push_back(p.string());
    if (parts.size() != 4 || parts[3].starts_with(".tmp-")) continue;  // a manifest being written
    static constexpr std::string_view kWhich[4] = {"host", "namespace", "model", "tag"};
    ManifestFile f{it->path(), ModelName{parts[0], parts[1], parts[2], parts[3]}, {}};
    for (int i = 0; i < 4 && f.problem.empty(); ++i) {
      const std::string why = model_name_part_problem(parts[i], kWhich[i]);
      if (!why.empty()) f.problem = std::string(kWhich[i]) + " \"" + parts[i] + "\" " + why;
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::string root_description(const StoreRoots& roots) {
  std::string s = roots.locus.string();
  if (roots.ollama) s += " or " + roots.ollama->string();
  return s;
}

void remove_empty_parents(fs::path dir, const fs::path& stop) {
  std::error_code ec;
  while (dir != stop && dir.string().size() > stop.string().size()) {
    if (!fs::is_empty(dir, ec) || ec) return;
    fs::remove(dir, ec);
    if (ec) return;
    dir = dir.parent_path();
  }
}

std::atomic<uint64_t> g_temp_counter{0};

}  // namespace

std::string_view root_kind_name(StoreRootKind kind) {
  switch (kind) {
    case StoreRootKind::locus: return "locus";
    case StoreRootKind::ollama: return "ollama";
    case StoreRootKind::file: return "file";
  }
  return "?";
}

StoreRoots default_store_roots() {
  StoreRoots r;
  const char* home = env_value("HOME");
  if (const char* v = env_value("LOCUS_MODELS")) {
    r.locus = v;
  } else if (home != nullptr) {
    r.locus = fs::path(home) / ".locus" / "models";
  } else {
    throw StoreError(StoreErrorKind::io, "cannot place the model store: neither LOCUS_MODELS nor HOME is set");
  }
  std::vector<fs::path> candidates;
  if (const char* v = env_value("OLLAMA_MODELS")) {
    candidates.push_back(v);
  } else {
    if (home != nullptr) candidates.push_back(fs::path(home) / ".ollama" / "models");
    candidates.push_back("/usr/share/ollama/.ollama/models");
  }
  std::error_code ec;
  for (const auto& c : candidates) {
    if (!fs::is_directory(c, ec)) continue;
    // Pointing both variables at one folder must not make Ollama's models writable through the locus root.
    if (fs::exists(r.locus, ec) && fs::equivalent(c, r.locus, ec)) break;
    r.ollama = c;
    break;
  }
  return r;
}

// ---- the store ----

ModelStore::ModelStore(StoreRoots roots) : roots_(std::move(roots)) {}

fs::path ModelStore::blob_path(std::string_view digest) const { return blobs_dir() / blob_file_name(digest); }

std::optional<fs::path> ModelStore::find_blob(std::string_view digest) const {
  const std::string file = blob_file_name(digest);
  std::error_code ec;
  if (fs::path p = blobs_dir() / file; fs::is_regular_file(p, ec)) return p;
  if (roots_.ollama) {
    if (fs::path p = *roots_.ollama / "blobs" / file; fs::is_regular_file(p, ec)) return p;
  }
  return std::nullopt;
}

std::optional<ModelStore::Found> ModelStore::find_manifest(const ModelName& name) const {
  if (auto f = find_in_root(roots_.locus, name)) return Found{StoreRootKind::locus, roots_.locus, f->first, f->second};
  if (roots_.ollama) {
    if (auto f = find_in_root(*roots_.ollama, name)) {
      return Found{StoreRootKind::ollama, *roots_.ollama, f->first, f->second};
    }
  }
  return std::nullopt;
}

ResolvedModel ModelStore::load(const Found& found) const {
  const std::string who = "model \"" + found.name.display() + "\"";
  ResolvedModel r;
  r.root = found.root;
  r.name = found.name;
  r.display_name = found.name.display();
  r.manifest_path = found.manifest_path;
  const std::string bytes = read_file_limited(found.manifest_path, kMaxManifestBytes, who);
  r.digest = sha256_hex(bytes);
  r.manifest = parse_manifest(bytes, found.manifest_path.string());
  r.size_bytes = r.manifest.total_bytes();
  r.modified_at = mtime_of(found.manifest_path);

  const fs::path blobs = found.root_path / "blobs";
  // Every blob must be there with the size the manifest states: a truncated pull or a deleted blob is
  // reported here, by name, rather than as a confusing failure inside the model loader.
  const auto blob_of = [&](const ManifestLayer& l) {
    const fs::path p = blobs / blob_file_name(l.digest);
    std::error_code ec;
    const uint64_t size = fs::file_size(p, ec);
    if (ec) {
      throw StoreError(StoreErrorKind::corrupt,
                       who + ": blob " + p.string() + " (" + l.media_type + ") is missing");
    }
    if (size != l.size) {
      throw StoreError(StoreErrorKind::corrupt, who + ": blob " + p.string() + " (" + l.media_type + "): expected " +
                                                    std::to_string(l.size) + " bytes, found " + std::to_string(size));
    }
    return p;
  };
  const auto read_text = [&](const ManifestLayer& l) {
    return read_file_limited(blob_of(l), kMaxTextLayerBytes, who);
  };
  const auto read_json = [&](const ManifestLayer& l, bool want_object) {
    const fs::path p = blob_of(l);
    nlohmann::json j = nlohmann::json::parse(read_file_limited(p, kMaxTextLayerBytes, who), nullptr, false);
    if (j.is_discarded() || (want_object ? !j.is_object() : !j.is_array())) {
      throw StoreError(StoreErrorKind::corrupt, who + ": " + l.media_type + " blob " + p.string() + ": expected a JSON " +
                                                    (want_object ? "object" : "array") + ", found " +
                                                    (j.is_discarded() ? std::string("invalid JSON") : json_type_name(j)));
    }
    return j;
  };

  if (r.manifest.config.size > 0) r.config = read_json(r.manifest.config, true);
  bool have_model = false;
  for (const auto& l : r.manifest.layers) {
    if (l.media_type == media_type::kModel) {
      const fs::path p = blob_of(l);
      if (!have_model) {
        require_gguf_magic(p, who);
        r.model_path = p;
        have_model = true;
      }
    } else if (l.media_type == media_type::kProjector) {
      const fs::path p = blob_of(l);
      if (!r.projector_path) {
        require_gguf_magic(p, who);
        r.projector_path = p;
      }
    } else if (l.media_type == media_type::kAdapter) {
      r.adapter_paths.push_back(blob_of(l));
    } else if (l.media_type == media_type::kTemplate) {
      r.template_text = read_text(l);  // a later layer overrides an earlier one
    } else if (l.media_type == media_type::kSystem) {
      r.system_text = read_text(l);
    } else if (l.media_type == media_type::kParams) {
      r.params = read_json(l, true);
    } else if (l.media_type == media_type::kMessages) {
      r.messages = read_json(l, false);
    } else if (l.media_type == media_type::kLicense) {
      r.licenses.push_back(read_text(l));
    } else {
      blob_of(l);  // a layer type we do not use must still be there
    }
  }
  if (!have_model) {
    throw StoreError(StoreErrorKind::corrupt, who + ": manifest " + found.manifest_path.string() +
                                                  " has no model layer (" + std::string(media_type::kModel) + ")");
  }
  if (r.projector_path) {
    try {
      ProjectorInfo p = inspect_projector(*r.projector_path);
      require_projector_fits(p, r.model_path, r.display_name);
      r.projector_note = "projector " + r.projector_path->string() + " (" + projector_modalities(p) +
                         "), the store entry's projector layer";
      r.projector = std::move(p);
    } catch (const StoreError& e) {
      r.projector_note = std::string("the store entry's projector layer cannot be used: ") + e.what();
    }
  } else {
    r.projector_note = "no projector: the store entry has no projector layer";
  }
  return r;
}

ResolvedModel ModelStore::resolve(const ModelName& name) const {
  const auto found = find_manifest(name);
  if (!found) {
    throw StoreError(StoreErrorKind::not_found,
                     "model \"" + name.display() + "\" not found in " + root_description(roots_));
  }
  return load(*found);
}

ResolvedModel ModelStore::resolve(std::string_view name) const { return resolve(parse_model_name(name)); }

bool ModelStore::looks_like_path(std::string_view ref) {
  if (ref.empty()) return false;
  // No model name starts with these, and a name never ends in ".gguf" in practice.
  if (ref.starts_with('/') || ref.starts_with("./") || ref.starts_with("../") || ref.starts_with('~')) return true;
  if (ref.size() > 5 && iequal(ref.substr(ref.size() - 5), ".gguf")) return true;
  std::error_code ec;
  return fs::is_regular_file(fs::path(ref), ec);
}

ResolvedModel ModelStore::resolve_model_ref(std::string_view ref) const {
  if (!looks_like_path(ref)) return resolve(ref);
  return resolve_file(fs::path{std::string(ref)}, std::string(ref));
}

ResolvedModel ModelStore::resolve_file(const fs::path& p, std::string display_name) {
  std::error_code ec;
  if (!fs::exists(p, ec)) throw StoreError(StoreErrorKind::not_found, "model file " + p.string() + " does not exist");
  if (!fs::is_regular_file(p, ec)) {
    throw StoreError(StoreErrorKind::bad_input, "model file " + p.string() + ": expected a GGUF file, found a folder or device");
  }
  require_gguf_magic(p, "model file");
  ResolvedModel r;
  r.root = StoreRootKind::file;
  r.display_name = std::move(display_name);
  r.model_path = p;
  r.size_bytes = fs::file_size(p, ec);
  r.modified_at = mtime_of(p);
  return r;
}

void set_projector(ResolvedModel& model, ProjectorChoice choice) {
  model.projector_path.reset();
  if (choice.projector) model.projector_path = choice.projector->path;
  model.projector = std::move(choice.projector);
  model.projector_note = std::move(choice.reason);
}

ModelDetails ModelStore::details(const ResolvedModel& model) const {
  ModelDetails d;
  d.family = string_field(model.config, "model_family");
  d.parameter_size = string_field(model.config, "model_type");
  d.quantization_level = string_field(model.config, "file_type");
  if (d.family.empty() || d.parameter_size.empty() || d.quantization_level.empty()) {
    return details_from_gguf(model.model_path);
  }
  if (const auto it = model.config.find("model_families"); it != model.config.end() && it->is_array()) {
    for (const auto& f : *it) {
      if (f.is_string()) d.families.push_back(f.get<std::string>());
    }
  }
  if (d.families.empty()) d.families = {d.family};
  return d;
}

std::vector<ModelEntry> ModelStore::list(std::vector<std::string>* skipped) const {
  std::vector<ModelEntry> out;
  const auto scan = [&](const fs::path& root, StoreRootKind kind) {
    for (const auto& [path, name, problem] : manifest_files(root)) {
      if (!problem.empty()) {
        if (skipped != nullptr) skipped->push_back("manifest " + path.string() + ": not a model name: " + problem);
        continue;
      }
      const ModelName& entry_name = name;  // a structured binding cannot be captured by clang 14
      const bool seen =
          std::any_of(out.begin(), out.end(), [&](const ModelEntry& e) { return e.name.same_model_as(entry_name); });
      if (seen) continue;
      try {
        const ResolvedModel r = load(Found{kind, root, path, name});
        ModelEntry e;
        e.name = name;
        e.display_name = name.display();
        e.root = kind;
        e.digest = r.digest;
        e.size_bytes = r.size_bytes;
        e.modified_at = r.modified_at;
        e.details = details(r);
        e.projector = r.projector;
        out.push_back(std::move(e));
      } catch (const StoreError& err) {
        if (skipped != nullptr) skipped->push_back(err.what());
      }
    }
  };
  scan(roots_.locus, StoreRootKind::locus);
  if (roots_.ollama) scan(*roots_.ollama, StoreRootKind::ollama);
  std::stable_sort(out.begin(), out.end(),
                   [](const ModelEntry& a, const ModelEntry& b) { return a.modified_at > b.modified_at; });
  return out;
}

std::string ModelStore::add_blob(std::string_view bytes) {
  const std::string digest = std::string(kDigestPrefix) + sha256_hex(bytes);
  const fs::path p = blob_path(digest);
  std::error_code ec;
  if (fs::is_regular_file(p, ec) && fs::file_size(p, ec) == bytes.size()) return digest;
  write_file_atomically(p, bytes);
  return digest;
}

std::string ModelStore::add_blob_file(const fs::path& path, bool allow_hard_link,
                                      const std::function<void(uint64_t, uint64_t)>& progress) {
  const fs::path dir = blobs_dir();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw StoreError(StoreErrorKind::io, "cannot create " + dir.string() + ": " + ec.message());

  fs::path temp;
  std::string hex;
  bool linked = false;
  if (allow_hard_link) {
    // Linking first and hashing the link hashes exactly the bytes the blob will hold.
    temp = dir / (".tmp-link-" + std::to_string(::getpid()) + "-" + std::to_string(g_temp_counter++));
    if (::link(path.c_str(), temp.c_str()) == 0) {
      linked = true;
      try {
        hex = sha256_file_hex(temp, progress);
      } catch (...) {
        ::unlink(temp.c_str());
        throw;
      }
    }
  }
  if (!linked) {
    std::FILE* in = std::fopen(path.c_str(), "rb");
    if (in == nullptr) io_error("cannot open " + path.string(), errno);
    const int fd = make_temp_file(dir, temp);
    const uint64_t total = fs::file_size(path, ec);
    try {
      std::vector<uint8_t> buf(1 << 20);
      Sha256 h;
      uint64_t done = 0;
      for (;;) {
        const size_t n = std::fread(buf.data(), 1, buf.size(), in);
        if (n > 0) {
          h.update(std::span(buf.data(), n));
          write_all(fd, buf.data(), n, temp);
          done += n;
          if (progress) progress(done, total);
        }
        if (n < buf.size()) break;
      }
      if (std::ferror(in) != 0) throw StoreError(StoreErrorKind::io, "cannot read " + path.string());
      if (::fsync(fd) != 0) io_error("cannot flush " + temp.string(), errno);
      hex = h.finish_hex();
    } catch (...) {
      std::fclose(in);
      ::close(fd);
      ::unlink(temp.c_str());
      throw;
    }
    std::fclose(in);
    ::close(fd);
  }
  const std::string digest = std::string(kDigestPrefix) + hex;
  const fs::path final_path = blob_path(digest);
  if (fs::is_regular_file(final_path, ec)) {
    ::unlink(temp.c_str());  // already stored (same bytes, same name)
  } else if (::rename(temp.c_str(), final_path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    io_error("cannot rename " + temp.string() + " to " + final_path.string(), err);
  }
  return digest;
}

std::string ModelStore::write_manifest_bytes(const ModelName& name, const std::string& bytes) {
  // Keep one spelling per name: replacing "Gemma4:x" when "gemma4:x" is stored writes over the stored one.
  fs::path path = roots_.locus / "manifests" / name.manifest_relative_path();
  if (auto existing = find_in_root(roots_.locus, name)) path = existing->first;
  write_file_atomically(path, bytes);
  return sha256_hex(bytes);
}

std::string ModelStore::write_manifest(const ModelName& name, const Manifest& manifest) {
  const auto check = [&](const ManifestLayer& l) {
    const fs::path p = blob_path(l.digest);
    std::error_code ec;
    const uint64_t size = fs::file_size(p, ec);
    if (ec || size != l.size) {
      throw StoreError(StoreErrorKind::bad_input,
                       "manifest for \"" + name.display() + "\": blob " + p.string() + ": expected " +
                           std::to_string(l.size) + " bytes, found " + (ec ? std::string("no file") : std::to_string(size)));
    }
  };
  check(manifest.config);
  for (const auto& l : manifest.layers) check(l);
  return write_manifest_bytes(name, manifest.to_json());
}

ResolvedModel ModelStore::import_gguf(const ModelName& name, const fs::path& gguf_path, const ImportOptions& options) {
  const std::string who = "cannot import " + gguf_path.string() + " as \"" + name.display() + "\"";
  ModelDetails details;
  try {
    details = details_from_gguf(gguf::GgufFile::open(gguf_path.string()));
  } catch (const gguf::GgufError& e) {
    throw StoreError(StoreErrorKind::bad_input, who + ": " + e.what());
  }
  if (options.projector_path) {
    try {
      require_projector_fits(inspect_projector(*options.projector_path), gguf_path, gguf_path.string());
    } catch (const StoreError& e) {
      throw StoreError(StoreErrorKind::bad_input, who + ": " + e.what());
    }
  }
  if (options.params && !options.params->is_object()) {
    throw StoreError(StoreErrorKind::bad_input,
                     who + ": parameters: expected a JSON object, found " + json_type_name(*options.params));
  }
  const bool replacing = find_in_root(roots_.locus, name).has_value();

  Manifest m;
  const auto add_file_layer = [&](std::string_view type, const fs::path& p,
                                  const std::function<void(uint64_t, uint64_t)>& progress) {
    const std::string digest = add_blob_file(p, options.allow_hard_link, progress);
    m.layers.push_back({std::string(type), digest, fs::file_size(blob_path(digest))});
  };
  const auto add_text_layer = [&](std::string_view type, const std::string& text) {
    m.layers.push_back({std::string(type), add_blob(text), text.size()});
  };
  add_file_layer(media_type::kModel, gguf_path, options.progress);
  if (options.projector_path) add_file_layer(media_type::kProjector, *options.projector_path, {});
  if (options.template_text) add_text_layer(media_type::kTemplate, *options.template_text);
  if (options.system_text) add_text_layer(media_type::kSystem, *options.system_text);
  if (options.params) add_text_layer(media_type::kParams, options.params->dump());

  const std::string config_bytes = ollama_config_blob(details, m.layers);
  m.config = {std::string(media_type::kConfig), add_blob(config_bytes), config_bytes.size()};

  write_manifest(name, m);
  if (replacing) collect_garbage();
  return resolve(name);
}

void ModelStore::copy(const ModelName& source, const ModelName& destination) {
  const auto found = find_manifest(source);
  if (!found) {
    throw StoreError(StoreErrorKind::not_found,
                     "cannot copy \"" + source.display() + "\": not found in " + root_description(roots_));
  }
  const std::string bytes = read_file_limited(found->manifest_path, kMaxManifestBytes, "model \"" + source.display() + "\"");
  const Manifest m = parse_manifest(bytes, found->manifest_path.string());
  if (found->root == StoreRootKind::locus && found->name.same_model_as(destination)) return;
  if (found->root == StoreRootKind::ollama) {
    std::vector<ManifestLayer> all = m.layers;
    all.push_back(m.config);
    for (const auto& l : all) {
      std::error_code ec;
      if (fs::is_regular_file(blob_path(l.digest), ec)) continue;
      const fs::path from = found->root_path / "blobs" / blob_file_name(l.digest);
      // Stored under the digest of the bytes actually read, so a damaged Ollama blob cannot enter under
      // the name of a good one.
      const std::string got = add_blob_file(from, true);
      if (got != l.digest) {
        throw StoreError(StoreErrorKind::digest_mismatch,
                         "cannot copy \"" + source.display() + "\": blob " + from.string() + ": expected " + l.digest +
                             ", found " + got);
      }
    }
  }
  const bool replacing = find_in_root(roots_.locus, destination).has_value();
  write_manifest_bytes(destination, bytes);
  if (replacing) collect_garbage();
}

GcReport ModelStore::remove(const ModelName& name) {
  if (auto f = find_in_root(roots_.locus, name)) {
    std::error_code ec;
    if (!fs::remove(f->first, ec) || ec) {
      throw StoreError(StoreErrorKind::io, "cannot remove \"" + name.display() + "\": " + f->first.string() + ": " + ec.message());
    }
    remove_empty_parents(f->first.parent_path(), roots_.locus / "manifests");
    return collect_garbage();
  }
  if (roots_.ollama && find_in_root(*roots_.ollama, name)) {
    throw StoreError(StoreErrorKind::read_only, "model \"" + name.display() + "\" belongs to Ollama (" +
                                                    roots_.ollama->string() +
                                                    "), which locus only reads; remove it with `ollama rm " +
                                                    name.display() + "`");
  }
  throw StoreError(StoreErrorKind::not_found, "cannot remove \"" + name.display() + "\": not found in " + roots_.locus.string());
}

GcReport ModelStore::collect_garbage() {
  GcReport report;
  std::set<std::string> referenced;  // blob file names
  for (const auto& [path, name, problem] : manifest_files(roots_.locus)) {
    try {
      const Manifest m = parse_manifest(read_file_limited(path, kMaxManifestBytes, "manifest"), path.string());
      referenced.insert(blob_file_name(m.config.digest));
      for (const auto& l : m.layers) referenced.insert(blob_file_name(l.digest));
    } catch (const StoreError& e) {
      // A stray file whose path is no model name is not a manifest; an unreadable manifest of a real name
      // might reference anything, so nothing is deleted.
      if (!problem.empty()) continue;
      report.skipped_because = e.what();
      return report;
    }
  }
  std::error_code ec;
  const fs::path dir = blobs_dir();
  if (!fs::is_directory(dir, ec)) return report;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string file = e.path().filename().string();
    // Only finished blobs: partial downloads and temporary files belong to work that may be in progress.
    if (!file.starts_with(kBlobPrefix) || !is_hex64(file.substr(kBlobPrefix.size()))) continue;
    if (referenced.contains(file) || !e.is_regular_file(ec)) continue;
    const uint64_t size = e.file_size(ec);
    if (fs::remove(e.path(), ec)) {
      report.removed_digests.push_back(std::string(kDigestPrefix) + file.substr(kBlobPrefix.size()));
      report.bytes_freed += size;
    }
  }
  return report;
}

}  // namespace locus::runtime
