// Reading the PEM files TLS needs: certificates (public; any readable regular file) and private
// keys (private files: owned by us, no access for others, group read allowed as Debian's
// ssl-cert group has it). Both checked to look like PEM, so a swapped flag fails here, clearly.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::rpc {

// `what` names the file in errors: "TLS CA file", "TLS certificate file".
absl::StatusOr<std::string> ReadCertificatePem(const std::string& path, absl::string_view what);
absl::StatusOr<std::string> ReadPrivateKeyPem(const std::string& path, absl::string_view what);

}  // namespace tempa::rpc
