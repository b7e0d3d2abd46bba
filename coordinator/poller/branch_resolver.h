// What the polling fallback asks a remote: the commit a branch points at. The daemon adapts
// worker/git's Libgit2Fetcher to it; tests use a scripted fake. The coordinator library never
// depends on worker/ itself.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "tempa/v1/farm.pb.h"

namespace tempa::coordinator {

class BranchResolver {
 public:
  virtual ~BranchResolver() = default;

  // The full hex SHA `branch` points at in the repository at `repo_url`, read without fetching
  // objects. `credentials` may be empty (a public repository). May block for as long as the
  // remote does (callers isolate it); must be safe to call from several threads at once.
  // Errors name the problem without credentials: NotFound (no such branch), Unauthenticated,
  // Unavailable (network), InvalidArgument (bad URL or branch).
  virtual absl::StatusOr<std::string> ResolveBranch(const std::string& repo_url,
                                                    const std::string& branch,
                                                    const v1::GitCredentials& credentials) = 0;
};

}  // namespace tempa::coordinator
