// Repository URLs as the fetcher meets them: parsed (https, http, git, ssh, scp-like, file, an
// absolute path), keyed for the mirror directory, redacted for messages, and for submodules
// resolved against their parent and screened for the URL forms that run commands or reach the
// worker's own files.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::worker {

struct GitUrl {
  std::string scheme;    // "https", "http", "git", "ssh" or "file"
  std::string user;      // from user[:password]@; may be empty
  std::string password;  // from user:password@; never put in a message
  std::string host;      // lowercased; empty for file
  std::string port;      // may be empty
  std::string path;      // "/org/repo.git" (scp-like "org/repo" keeps no leading '/')
  bool scp_like = false;

  bool local() const { return scheme == "file"; }
};

// Parses `url`; InvalidArgument (with the URL redacted) for a relative path, an unknown scheme,
// a transport-helper form ("ext::..."), control characters, or a host or path starting with '-'.
absl::StatusOr<GitUrl> ParseGitUrl(absl::string_view url);

// The URL that names the same repository whatever the spelling: scheme and host lowercased, no
// credentials or user, scp-like as ssh://, default ports dropped, and for network schemes no
// trailing '/' or ".git". The mirror of a repository is named by its SHA-256.
std::string NormalizedUrl(const GitUrl& url);

// `url` with any password (and an https token given as the user) replaced by "***".
std::string RedactUrl(absl::string_view url);

// The URL a submodule's `submodule_url` (from .gitmodules) names: "./x" and "../x" are resolved
// against `parent_url` as git does. Refused (InvalidArgument naming the submodule URL):
// transport helpers (ext::, fd::), a leading '-', control characters, and a local path or file://
// unless the parent itself is local.
absl::StatusOr<std::string> ResolveSubmoduleUrl(absl::string_view parent_url,
                                                absl::string_view submodule_url);

}  // namespace tempa::worker
