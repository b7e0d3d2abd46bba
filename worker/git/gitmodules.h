// Reading a commit's .gitmodules (git-config syntax) without git's config machinery: only
// `[submodule "NAME"]` sections' `path` and `url` are read, so an `[include]` or any other key in
// an untrusted repository has no effect.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::worker {

struct SubmoduleEntry {
  std::string name;
  std::string path;
  std::string url;
};

// Parses .gitmodules text. InvalidArgument (with the line number) on a syntax error. Entries
// keep the file's order; later values of a key win, as in git.
absl::StatusOr<std::vector<SubmoduleEntry>> ParseGitmodules(absl::string_view text);

}  // namespace tempa::worker
