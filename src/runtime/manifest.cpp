#include "runtime/manifest.h"

#include <nlohmann/json.hpp>

#include "runtime/store_error.h"
#include "runtime/store_files.h"

namespace locus::runtime {
namespace {

using store_files::is_hex64;
using store_files::kBlobPrefix;
using store_files::kDigestPrefix;

std::string json_type_name(const nlohmann::json& j) { return j.type_name(); }

ManifestLayer parse_layer(const nlohmann::json& j, const std::string& where, const std::string& field) {
  const auto fail = [&](const std::string& what) {
    throw StoreError(StoreErrorKind::corrupt, "manifest " + where + ": " + field + what);
  };
  if (!j.is_object()) fail(": expected an object, found " + json_type_name(j));
  ManifestLayer l;
  const auto media = j.find("mediaType");
  if (media == j.end() || !media->is_string()) fail(".mediaType: expected a string");
  l.media_type = media->get<std::string>();
  const auto digest = j.find("digest");
  if (digest == j.end() || !digest->is_string()) fail(".digest: expected a string");
  l.digest = digest->get<std::string>();
  if (!is_valid_digest(l.digest)) fail(".digest: expected sha256:<64 hex digits>, found \"" + l.digest + "\"");
  const auto size = j.find("size");
  if (size == j.end() || !size->is_number_unsigned()) {
    fail(".size: expected a non-negative integer, found " + (size == j.end() ? std::string("nothing") : size->dump()));
  }
  l.size = size->get<uint64_t>();
  return l;
}

nlohmann::ordered_json layer_json(const ManifestLayer& l) {
  return {{"mediaType", l.media_type}, {"digest", l.digest}, {"size", l.size}};
}

}  // namespace

bool is_valid_digest(std::string_view digest) {
  return digest.starts_with(kDigestPrefix) && is_hex64(digest.substr(kDigestPrefix.size()));
}

std::string blob_file_name(std::string_view digest) {
  if ((digest.starts_with(kDigestPrefix) || digest.starts_with(kBlobPrefix)) && is_hex64(digest.substr(7))) {
    return std::string(kBlobPrefix) + std::string(digest.substr(7));
  }
  throw StoreError(StoreErrorKind::bad_input,
                   "invalid digest: expected sha256:<64 lower-case hex digits>, found \"" + std::string(digest) + "\"");
}

// ---- manifests ----

std::string Manifest::to_json() const {
  nlohmann::ordered_json j;
  j["schemaVersion"] = schema_version;
  j["mediaType"] = media_type;
  j["config"] = layer_json(config);
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& l : layers) j["layers"].push_back(layer_json(l));
  return j.dump();
}

const ManifestLayer* Manifest::find_layer(std::string_view type) const {
  for (const auto& l : layers) {
    if (l.media_type == type) return &l;
  }
  return nullptr;
}

uint64_t Manifest::total_bytes() const {
  uint64_t n = config.size;
  for (const auto& l : layers) n += l.size;
  return n;
}

Manifest parse_manifest(std::string_view text, const std::string& where) {
  const auto fail = [&](const std::string& what) {
    throw StoreError(StoreErrorKind::corrupt, "manifest " + where + ": " + what);
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    std::string msg = e.what();
    if (const size_t p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);
    fail("expected JSON, found bytes that do not parse (" + msg + ")");
  }
  if (!j.is_object()) fail("expected a JSON object, found " + json_type_name(j));
  Manifest m;
  const auto version = j.find("schemaVersion");
  if (version == j.end() || !version->is_number_integer() || version->get<int64_t>() != 2) {
    fail("schemaVersion: expected 2, found " + (version == j.end() ? std::string("nothing") : version->dump()));
  }
  if (const auto media = j.find("mediaType"); media != j.end() && media->is_string()) {
    m.media_type = media->get<std::string>();
  }
  const auto config = j.find("config");
  if (config == j.end()) fail("config: expected an object, found nothing");
  m.config = parse_layer(*config, where, "config");
  const auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array()) {
    fail("layers: expected an array, found " + (layers == j.end() ? std::string("nothing") : json_type_name(*layers)));
  }
  for (size_t i = 0; i < layers->size(); ++i) {
    m.layers.push_back(parse_layer((*layers)[i], where, "layers[" + std::to_string(i) + "]"));
  }
  return m;
}

}  // namespace locus::runtime
