// The OCI image config and image manifest as plain structs, with deterministic JSON
// serialization (sorted keys, no whitespace, empty fields omitted: the same struct always gives
// the same bytes, hence the same digest) and strict parsing of pulled images (OCI and Docker
// schema 2), which are untrusted input.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/digest.h"
#include "common/oci/descriptor.h"

namespace tempa::oci {

struct HistoryEntry {
  std::optional<int64_t> created_epoch;
  std::string created_by;
  std::string comment;
  bool empty_layer = false;

  friend bool operator==(const HistoryEntry&, const HistoryEntry&) = default;
};

// application/vnd.oci.image.config.v1+json. Only the fields Tempa writes or reads are kept;
// unknown fields of pulled configs are ignored.
struct ImageConfig {
  std::string architecture = "amd64";
  std::string os = "linux";
  std::string variant;  // e.g. "v8" for arm64; omitted when empty
  // Seconds since the epoch, written as RFC 3339 UTC ("2024-01-02T03:04:05Z"): the same epoch
  // as the layers' mtimes. Parsing keeps whole seconds only.
  std::optional<int64_t> created_epoch;
  // config.*
  std::string user;
  std::vector<std::string> env;  // "KEY=value"
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::vector<std::string> exposed_ports;  // "8080/tcp"; written as a JSON object, sorted
  std::map<std::string, std::string> labels;
  // rootfs: type "layers", one diff_id per layer, bottom first.
  std::vector<Digest> diff_ids;
  std::vector<HistoryEntry> history;

  friend bool operator==(const ImageConfig&, const ImageConfig&) = default;
};

// application/vnd.oci.image.manifest.v1+json (or the Docker schema 2 equivalent when parsed).
struct Manifest {
  std::string media_type = kMediaTypeManifest;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;

  friend bool operator==(const Manifest&, const Manifest&) = default;
};

// Compact, key-sorted JSON; the same struct always serializes to the same bytes.
std::string SerializeConfig(const ImageConfig& config);
std::string SerializeManifest(const Manifest& manifest);
// One descriptor object, as used in manifests and index.json.
std::string SerializeDescriptor(const Descriptor& descriptor);

// Parse untrusted JSON; InvalidArgument naming the offending field ("manifest.layers[2].digest:
// ..."). ParseManifest accepts OCI and Docker schema 2 image manifests and refuses indexes and
// manifest lists (parse those and pick a platform elsewhere).
absl::StatusOr<ImageConfig> ParseConfig(absl::string_view json);
absl::StatusOr<Manifest> ParseManifest(absl::string_view json);

// RFC 3339 UTC with whole seconds for an epoch, e.g. 0 → "1970-01-01T00:00:00Z".
std::string FormatRfc3339(int64_t epoch_seconds);

}  // namespace tempa::oci
