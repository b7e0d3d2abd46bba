// TLS material for the edge: a self-signed CA made once in a directory of ours and a server
// certificate for `*.DOMAIN` and `DOMAIN` issued by it (the demo and single-machine default), or
// an operator's certificate directory, checked at startup. OpenSSL 3 API only (no `openssl` CLI).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tempa::deploy {

// What nginx needs: a PEM chain (leaf first) and its PEM private key.
struct TlsFiles {
  std::string cert_path;
  std::string key_path;
  // The CA that signed cert_path when we made it (clients trust it), empty for an operator's.
  std::string ca_cert_path;
};

// A domain or host name made of DNS labels only: 1-63 characters of [a-z0-9-] each, not starting
// or ending with '-', 253 characters at most in all, lowercase, no trailing dot. Names that reach a
// config file or a certificate pass here first. The error says which rule the name broke.
absl::Status ValidateDnsName(const std::string& name);

// Makes `dir` (0700) hold a self-signed CA (ca.key 0600, ca.crt 0644; EC P-256, 10 years), made
// once and kept, and a server certificate signed by it for `*.DOMAIN` and `DOMAIN` (server.key
// 0600, server.crt 0644 holding the leaf then the CA). The server certificate is issued again when
// it does not cover `domain`, was not signed by this CA or expires within 30 days of `now`.
absl::StatusOr<TlsFiles> EnsureSelfSignedCertificate(const std::string& dir,
                                                     const std::string& domain,
                                                     absl::Time now = absl::Now());

// An operator's certificate directory: `fullchain.pem` + `privkey.pem` (certbot) or `tls.crt` +
// `tls.key` (a Kubernetes TLS secret). Checks that the key matches the first certificate and that
// it is valid at `now`; errors name the file and the fix.
absl::StatusOr<TlsFiles> LoadOperatorCertificateDir(const std::string& dir,
                                                    absl::Time now = absl::Now());

// The edge's TLS material as the deployer's flags give it: the operator's `cert_dir` when it is
// set, else a self-signed CA and server certificate for `domain` kept in `self_signed_dir`.
absl::StatusOr<TlsFiles> ResolveEdgeTls(const std::string& cert_dir,
                                        const std::string& self_signed_dir,
                                        const std::string& domain, absl::Time now = absl::Now());

// The checks LoadOperatorCertificateDir makes, for a given pair of files.
absl::Status ValidateCertificateAndKey(const std::string& cert_path, const std::string& key_path,
                                       absl::Time now = absl::Now());

}  // namespace tempa::deploy
