// The polling fallback's BranchResolver on worker/git's Libgit2Fetcher (an ls-remote: the
// branch head is read without fetching objects). Wired only by the daemon, so the coordinator
// libraries do not depend on worker/.
#pragma once

#include <memory>
#include <string>

#include "coordinator/poller/branch_resolver.h"

namespace tempa::worker {
class Libgit2Fetcher;
}

namespace tempa::coordinator {

class Libgit2BranchResolver final : public BranchResolver {
 public:
  // `scratch_dir`: where the fetcher may keep mirrors (reading a head keeps none).
  explicit Libgit2BranchResolver(const std::string& scratch_dir);
  ~Libgit2BranchResolver() override;

  absl::StatusOr<std::string> ResolveBranch(const std::string& repo_url, const std::string& branch,
                                            const v1::GitCredentials& credentials) override;

 private:
  std::unique_ptr<worker::Libgit2Fetcher> fetcher_;
};

}  // namespace tempa::coordinator
