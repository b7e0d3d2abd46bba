#include "common/oci/image_model.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace tempa::oci {
namespace {

using json = nlohmann::json;

// nlohmann::json objects are std::maps, so keys come out sorted; dump() without indent has no
// whitespace. Invalid UTF-8 (say, in a label) is replaced rather than thrown: serialization
// must not throw, and our own inputs are UTF-8 already.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json DescriptorJson(const Descriptor& d) {
  json j = {{"mediaType", d.media_type}, {"digest", d.digest.ToString()}, {"size", d.size}};
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  return j;
}

absl::Status Bad(absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

// Returns the member `key` of `obj`, or nullptr when absent or null (Docker writes nulls).
const json* Member(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status GetString(const json& obj, const char* key, absl::string_view path,
                       std::string* out, bool required = false) {
  const json* v = Member(obj, key);
  std::string field = absl::StrCat(path, ".", key);
  if (v == nullptr) return required ? Bad(field, "missing") : absl::OkStatus();
  if (!v->is_string()) return Bad(field, "must be a string");
  *out = v->get<std::string>();
  return absl::OkStatus();
}

absl::Status GetStringList(const json& obj, const char* key, absl::string_view path,
                           std::vector<std::string>* out) {
  const json* v = Member(obj, key);
  if (v == nullptr) return absl::OkStatus();
  std::string field = absl::StrCat(path, ".", key);
  if (!v->is_array()) return Bad(field, "must be an array of strings");
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) return Bad(absl::StrCat(field, "[", i, "]"), "must be a string");
    out->push_back((*v)[i].get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status GetStringMap(const json& obj, const char* key, absl::string_view path,
                          std::map<std::string, std::string>* out) {
  const json* v = Member(obj, key);
  if (v == nullptr) return absl::OkStatus();
  std::string field = absl::StrCat(path, ".", key);
  if (!v->is_object()) return Bad(field, "must be an object of strings");
  for (const auto& [k, value] : v->items()) {
    if (!value.is_string()) return Bad(absl::StrCat(field, "[\"", k, "\"]"), "must be a string");
    (*out)[k] = value.get<std::string>();
  }
  return absl::OkStatus();
}

absl::Status GetTime(const json& obj, const char* key, absl::string_view path,
                     std::optional<int64_t>* out) {
  std::string text;
  RETURN_IF_ERROR(GetString(obj, key, path, &text));
  if (text.empty()) return absl::OkStatus();
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return Bad(absl::StrCat(path, ".", key), absl::StrCat("not an RFC 3339 time: ", err));
  }
  *out = absl::ToUnixSeconds(t);
  return absl::OkStatus();
}

absl::StatusOr<Digest> ParseDigestAt(const json& v, const std::string& path) {
  if (!v.is_string()) return Bad(path, "must be a string");
  absl::StatusOr<Digest> digest = Digest::Parse(v.get<std::string>());
  if (!digest.ok()) return Bad(path, digest.status().message());
  return *digest;
}

absl::StatusOr<Descriptor> ParseDescriptorAt(const json& j, const std::string& path) {
  if (!j.is_object()) return Bad(path, "must be an object");
  Descriptor d;
  RETURN_IF_ERROR(GetString(j, "mediaType", path, &d.media_type, /*required=*/true));
  const json* digest = Member(j, "digest");
  if (digest == nullptr) return Bad(absl::StrCat(path, ".digest"), "missing");
  ASSIGN_OR_RETURN(d.digest, ParseDigestAt(*digest, absl::StrCat(path, ".digest")));
  const json* size = Member(j, "size");
  if (size == nullptr) return Bad(absl::StrCat(path, ".size"), "missing");
  if (!size->is_number_integer() || size->get<int64_t>() < 0) {
    return Bad(absl::StrCat(path, ".size"), "must be a non-negative integer");
  }
  d.size = size->get<int64_t>();
  RETURN_IF_ERROR(GetStringMap(j, "annotations", path, &d.annotations));
  return d;
}

absl::StatusOr<json> ParseObject(absl::string_view text, absl::string_view what) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad(what, "not valid JSON");
  if (!j.is_object()) return Bad(what, "must be a JSON object");
  return j;
}

}  // namespace

std::string FormatRfc3339(int64_t epoch_seconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(epoch_seconds),
                          absl::UTCTimeZone());
}

std::string SerializeDescriptor(const Descriptor& descriptor) {
  return Dump(DescriptorJson(descriptor));
}

std::string SerializeConfig(const ImageConfig& c) {
  json inner = json::object();
  if (!c.user.empty()) inner["User"] = c.user;
  if (!c.env.empty()) inner["Env"] = c.env;
  if (!c.entrypoint.empty()) inner["Entrypoint"] = c.entrypoint;
  if (!c.cmd.empty()) inner["Cmd"] = c.cmd;
  if (!c.working_dir.empty()) inner["WorkingDir"] = c.working_dir;
  if (!c.exposed_ports.empty()) {
    json ports = json::object();
    for (const std::string& port : c.exposed_ports) ports[port] = json::object();
    inner["ExposedPorts"] = ports;
  }
  if (!c.labels.empty()) inner["Labels"] = c.labels;

  json diff_ids = json::array();
  for (const Digest& d : c.diff_ids) diff_ids.push_back(d.ToString());
  json j = {{"architecture", c.architecture},
            {"os", c.os},
            {"config", inner},
            {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  if (!c.variant.empty()) j["variant"] = c.variant;
  if (c.created_epoch) j["created"] = FormatRfc3339(*c.created_epoch);
  if (!c.history.empty()) {
    json history = json::array();
    for (const HistoryEntry& h : c.history) {
      json e = json::object();
      if (h.created_epoch) e["created"] = FormatRfc3339(*h.created_epoch);
      if (!h.created_by.empty()) e["created_by"] = h.created_by;
      if (!h.comment.empty()) e["comment"] = h.comment;
      if (h.empty_layer) e["empty_layer"] = true;
      history.push_back(e);
    }
    j["history"] = history;
  }
  return Dump(j);
}

std::string SerializeManifest(const Manifest& m) {
  json layers = json::array();
  for (const Descriptor& d : m.layers) layers.push_back(DescriptorJson(d));
  json j = {{"schemaVersion", 2},
            {"mediaType", m.media_type},
            {"config", DescriptorJson(m.config)},
            {"layers", layers}};
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  return Dump(j);
}

absl::StatusOr<ImageConfig> ParseConfig(absl::string_view text) {
  ASSIGN_OR_RETURN(json j, ParseObject(text, "config"));
  ImageConfig c;
  c.architecture.clear();
  c.os.clear();
  RETURN_IF_ERROR(GetString(j, "architecture", "config", &c.architecture, /*required=*/true));
  RETURN_IF_ERROR(GetString(j, "os", "config", &c.os, /*required=*/true));
  RETURN_IF_ERROR(GetString(j, "variant", "config", &c.variant));
  RETURN_IF_ERROR(GetTime(j, "created", "config", &c.created_epoch));

  if (const json* inner = Member(j, "config")) {
    if (!inner->is_object()) return Bad("config.config", "must be an object");
    const char* p = "config.config";
    RETURN_IF_ERROR(GetString(*inner, "User", p, &c.user));
    RETURN_IF_ERROR(GetStringList(*inner, "Env", p, &c.env));
    RETURN_IF_ERROR(GetStringList(*inner, "Entrypoint", p, &c.entrypoint));
    RETURN_IF_ERROR(GetStringList(*inner, "Cmd", p, &c.cmd));
    RETURN_IF_ERROR(GetString(*inner, "WorkingDir", p, &c.working_dir));
    RETURN_IF_ERROR(GetStringMap(*inner, "Labels", p, &c.labels));
    if (const json* ports = Member(*inner, "ExposedPorts")) {
      if (!ports->is_object()) return Bad("config.config.ExposedPorts", "must be an object");
      for (const auto& [port, unused] : ports->items()) c.exposed_ports.push_back(port);
    }
  }

  const json* rootfs = Member(j, "rootfs");
  if (rootfs == nullptr) return Bad("config.rootfs", "missing");
  if (!rootfs->is_object()) return Bad("config.rootfs", "must be an object");
  std::string type;
  RETURN_IF_ERROR(GetString(*rootfs, "type", "config.rootfs", &type, /*required=*/true));
  if (type != "layers") return Bad("config.rootfs.type", "must be \"layers\"");
  const json* diff_ids = Member(*rootfs, "diff_ids");
  if (diff_ids == nullptr) return Bad("config.rootfs.diff_ids", "missing");
  if (!diff_ids->is_array()) return Bad("config.rootfs.diff_ids", "must be an array");
  for (size_t i = 0; i < diff_ids->size(); ++i) {
    ASSIGN_OR_RETURN(Digest d,
                     ParseDigestAt((*diff_ids)[i], absl::StrCat("config.rootfs.diff_ids[", i, "]")));
    c.diff_ids.push_back(d);
  }

  if (const json* history = Member(j, "history")) {
    if (!history->is_array()) return Bad("config.history", "must be an array");
    for (size_t i = 0; i < history->size(); ++i) {
      const json& e = (*history)[i];
      std::string p = absl::StrCat("config.history[", i, "]");
      if (!e.is_object()) return Bad(p, "must be an object");
      HistoryEntry h;
      RETURN_IF_ERROR(GetTime(e, "created", p, &h.created_epoch));
      RETURN_IF_ERROR(GetString(e, "created_by", p, &h.created_by));
      RETURN_IF_ERROR(GetString(e, "comment", p, &h.comment));
      if (const json* empty = Member(e, "empty_layer")) {
        if (!empty->is_boolean()) return Bad(absl::StrCat(p, ".empty_layer"), "must be a boolean");
        h.empty_layer = empty->get<bool>();
      }
      c.history.push_back(std::move(h));
    }
  }
  return c;
}

absl::StatusOr<Manifest> ParseManifest(absl::string_view text) {
  ASSIGN_OR_RETURN(json j, ParseObject(text, "manifest"));
  const json* version = Member(j, "schemaVersion");
  if (version == nullptr) return Bad("manifest.schemaVersion", "missing");
  if (!version->is_number_integer() || version->get<int64_t>() != 2) {
    return Bad("manifest.schemaVersion", "must be 2");
  }
  Manifest m;
  m.media_type.clear();
  RETURN_IF_ERROR(GetString(j, "mediaType", "manifest", &m.media_type));
  if (m.media_type == kMediaTypeIndex || m.media_type == kMediaTypeDockerManifestList ||
      (m.media_type.empty() && j.contains("manifests"))) {
    return Bad("manifest.mediaType",
               "this is an image index (a list of per-platform manifests), not an image manifest");
  }
  if (m.media_type.empty()) m.media_type = kMediaTypeManifest;  // optional in OCI
  if (m.media_type != kMediaTypeManifest && m.media_type != kMediaTypeDockerManifest) {
    return Bad("manifest.mediaType", absl::StrCat("unsupported media type \"", m.media_type, "\""));
  }
  const json* config = Member(j, "config");
  if (config == nullptr) return Bad("manifest.config", "missing");
  ASSIGN_OR_RETURN(m.config, ParseDescriptorAt(*config, "manifest.config"));
  const json* layers = Member(j, "layers");
  if (layers == nullptr) return Bad("manifest.layers", "missing");
  if (!layers->is_array()) return Bad("manifest.layers", "must be an array");
  for (size_t i = 0; i < layers->size(); ++i) {
    ASSIGN_OR_RETURN(Descriptor d,
                     ParseDescriptorAt((*layers)[i], absl::StrCat("manifest.layers[", i, "]")));
    m.layers.push_back(std::move(d));
  }
  RETURN_IF_ERROR(GetStringMap(j, "annotations", "manifest", &m.annotations));
  return m;
}

}  // namespace tempa::oci
