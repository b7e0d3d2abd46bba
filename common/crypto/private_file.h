// Reading a file that holds a secret (an encryption key, bearer tokens, a TLS private key) the
// way ssh reads a private key: only a regular file owned by this process's user, opened without
// following a symbolic link, and readable by nobody else. A refusal names the fix
// ("chmod 600 F").
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::crypto {

struct PrivateFileRules {
  // What the file is, for messages: "key file", "token file".
  std::string what = "secret file";
  // Refuse larger files (a secret file is small; a huge one is a mistake).
  size_t max_bytes = 64 * 1024;
  // Allow group read (not write) access, as Debian's ssl-cert group does for TLS keys. Others
  // never get any access.
  bool allow_group_read = false;
};

// The contents of `path` when it is a regular file (not a symbolic link, FIFO, device...) owned
// by the effective user and its mode gives group and others no access (with
// allow_group_read: group read only). Errors: NotFound, PermissionDenied (mode, owner, or the
// open itself), InvalidArgument (not a regular file, a symbolic link, too large).
absl::StatusOr<std::string> ReadPrivateFile(const std::string& path,
                                            const PrivateFileRules& rules = {});

}  // namespace tempa::crypto
