// GitFetcher on libgit2: a bare mirror per repository URL under mirrors_dir, fetched
// incrementally and serialized per mirror with an flock, then the exact commit's tree (and its
// submodules', recursively, each from its own mirror) checked out into a fresh directory.
#pragma once

#include <sys/types.h>

#include <string>

#include "worker/git/git_fetcher.h"
#include "worker/git/transfer.h"

namespace tempa::worker {

class Mirror;

class Libgit2Fetcher : public GitFetcher {
 public:
  struct Options {
    std::string mirrors_dir;  // created 0700 when missing; one <sha256>.git per repository
    // The mode checkout_dir is made with (what is inside gets 0755 directories and 0644/0755
    // files, less the umask). 0755 lets a build user read the source without a copy.
    mode_t checkout_dir_mode = 0700;
  };
  // Deepest submodule nesting followed, and most submodules checked out for one request.
  static constexpr int kMaxSubmoduleDepth = 8;
  static constexpr int kMaxSubmodules = 256;

  explicit Libgit2Fetcher(Options options);

  absl::StatusOr<FetchResult> Fetch(const FetchRequest& request) override;
  absl::StatusOr<std::string> ResolveBranch(const std::string& repo_url, const std::string& branch,
                                            const GitAuth& auth) override;

 private:
  struct Job;
  absl::Status CheckoutRepository(Job& job, const std::string& url, const std::string& branch,
                                  const std::string& commit, const std::string& target_dir,
                                  const std::string& relative, int depth);
  absl::StatusOr<git_oid> Resolve(Job& job, Mirror& mirror, const std::string& branch,
                                  const std::string& commit);

  Options options_;
};

}  // namespace tempa::worker
