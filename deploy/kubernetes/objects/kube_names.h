// Names and values for Kubernetes objects: DNS-1123/1035 labels bounded to 63 characters (cut,
// with a hash of the whole appended), label values, quantities, base64. Used by kube_objects.cc.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace tempa::deploy::kube {

inline constexpr size_t kMaxLabel = 63;

// First 8 hex digits of sha256(text).
std::string Hash8(absl::string_view text);

// [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool IsDnsLabel(absl::string_view text);
// A DNS label that starts with a letter (Service names).
bool IsDns1035Label(absl::string_view text);
// Lowercase DNS labels joined by dots, at most 253 characters (a host name; no wildcard).
bool IsDnsSubdomain(absl::string_view text);

// `text` made into a DNS-1035 label: lowercased, anything outside [a-z0-9-] becomes '-',
// prefixed "w-" unless it starts with a letter, cut to `max` with trailing '-' dropped.
std::string SanitizeLabel(absl::string_view text, size_t max = kMaxLabel);

// "BASE-SUFFIX" when it fits in 63 characters, else BASE cut short + "-" + Hash8(BASE) +
// "-SUFFIX". `base` must be a DNS label; `suffix` short ("env-1a2b3c4d", "tls") or empty.
std::string BoundedName(absl::string_view base, absl::string_view suffix);

// A label value (at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends): `text`
// itself when it is one, else its sanitized form cut short with Hash8(text) appended.
std::string LabelValue(absl::string_view text);

// Kubernetes quantities: memory in bytes as "256Mi"/"1Gi"/"1500Ki"/"1234", CPU as "500m".
std::string MemoryQuantity(int64_t bytes);
std::string CpuQuantity(int millis);

// Standard base64 with padding (OpenSSL EVP_EncodeBlock), as Secret data wants.
std::string Base64(absl::string_view bytes);

}  // namespace tempa::deploy::kube
