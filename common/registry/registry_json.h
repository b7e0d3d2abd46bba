// Reading what registries answer: distribution error bodies, token answers, image manifests and
// indexes. Registries are untrusted, so these are pure functions over bytes that never throw,
// never abort and check the type of every JSON value before reading it; a libFuzzer target calls
// them directly.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/oci/descriptor.h"

namespace tempa::registry {

// Longest text RegistryErrorText returns.
inline constexpr size_t kMaxErrorTextBytes = 1024;
// Most layers (or index entries) a manifest may list.
inline constexpr size_t kMaxManifestEntries = 1000;

// A distribution error body, {"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}, as
// "BLOB_UNKNOWN: blob unknown" (several joined by "; "; entries or fields of the wrong type are
// skipped). Any other body (a proxy's HTML page, JSON of another shape) gives a single-line
// excerpt of it. Never longer than kMaxErrorTextBytes; control characters become '?', so a
// registry cannot write escape sequences into our logs. "" for an empty body.
std::string RegistryErrorText(absl::string_view body);

// At most `max` bytes of `text` on one line, control characters and non-ASCII bytes as '?': for
// quoting anything a registry sent (a header, a URL) in an error message.
std::string PrintableExcerpt(absl::string_view text, size_t max = 200);

// The bearer token of a token endpoint's answer: "token", else OAuth2's "access_token".
// InvalidArgument when the answer is not a JSON object with a non-empty string token.
absl::StatusOr<std::string> ParseTokenAnswer(absl::string_view body);

// An image manifest or an index (manifest list), as far as pulling needs it.
struct ParsedManifest {
  std::string media_type;  // its "mediaType" field, "" when absent
  bool is_index = false;   // it has "manifests": an OCI index or a Docker manifest list
  oci::Descriptor config;  // image manifests only
  std::vector<oci::Descriptor> layers;
  std::vector<oci::Descriptor> manifests;  // indexes only
};

// Parses a manifest or index body. InvalidArgument naming what is wrong when the body is not a
// JSON object, a descriptor lacks a string "digest" (sha256) or a non-negative integer "size", or
// it lists more than kMaxManifestEntries entries.
absl::StatusOr<ParsedManifest> ParseManifest(absl::string_view body);

// The "mediaType" string of a manifest, or `fallback` when it has none (or is not JSON).
std::string ManifestMediaType(absl::string_view body, absl::string_view fallback);

}  // namespace tempa::registry
