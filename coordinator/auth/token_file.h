// The coordinator's token file: who may call it. One token per line, `ROLE TOKEN [NAME]`
// (ROLE: admin, read-only or worker; TOKEN: at least 16 printable characters, no spaces; NAME:
// who holds it, for logs), blank lines and whole-line `#` comments allowed. The file must be
// private (owned by the coordinator's user, no group/other access). Errors name the line,
// never a token.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "coordinator/auth/role.h"

namespace tempa::coordinator::auth {

inline constexpr size_t kMinTokenLength = 16;

struct TokenEntry {
  Role role = Role::kReadOnly;
  std::string token;
  std::string name;  // empty when the line names nobody
  int line = 0;      // 1-based, in the file it came from
};

// Parses a token file's contents; `path` only names the file in errors. Refuses a malformed
// line, a short token, a token listed twice, and a file that lists no token at all.
absl::StatusOr<std::vector<TokenEntry>> ParseTokenFile(absl::string_view contents,
                                                       absl::string_view path);

// Reads (as a private file: O_NOFOLLOW, owner and mode checked) and parses `path`.
absl::StatusOr<std::vector<TokenEntry>> LoadTokenFile(const std::string& path);

}  // namespace tempa::coordinator::auth
