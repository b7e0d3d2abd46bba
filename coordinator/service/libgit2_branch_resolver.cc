#include "coordinator/service/libgit2_branch_resolver.h"

#include "worker/git/libgit2_fetcher.h"

namespace tempa::coordinator {

Libgit2BranchResolver::Libgit2BranchResolver(const std::string& scratch_dir)
    : fetcher_(std::make_unique<worker::Libgit2Fetcher>(
          worker::Libgit2Fetcher::Options{scratch_dir, 0700})) {}

Libgit2BranchResolver::~Libgit2BranchResolver() = default;

absl::StatusOr<std::string> Libgit2BranchResolver::ResolveBranch(
    const std::string& repo_url, const std::string& branch, const v1::GitCredentials& credentials) {
  worker::GitAuth auth;
  auth.https_username = credentials.https_username();
  auth.https_token = credentials.https_token();
  auth.ssh_private_key = credentials.ssh_private_key();
  auth.ssh_known_hosts = credentials.ssh_known_hosts();
  return fetcher_->ResolveBranch(repo_url, branch, auth);
}

}  // namespace tempa::coordinator
