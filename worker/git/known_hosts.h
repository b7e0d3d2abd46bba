// Verifying an SSH server's host key against known_hosts text handed with the request (OpenSSH
// format: plain, wildcard, negated, [host]:port and hashed |1|salt|hash patterns; @revoked
// lines). There is no trust on first use: no matching line, no connection.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tempa::worker {

// OK when a line of `known_hosts` names `host` (with `port`, empty or "22" for the default) and
// carries exactly `key_blob` (the server's public key in SSH wire format, as known_hosts holds it
// base64-encoded). Unauthenticated naming the host otherwise (a revoked key, another key, or no
// line for the host), telling the operator to add the host's key.
absl::Status CheckKnownHost(absl::string_view known_hosts, absl::string_view host,
                            absl::string_view port, absl::string_view key_blob);

}  // namespace tempa::worker
