// From a mirror to files: resolving a full or abbreviated SHA to a commit, checking a commit's
// tree out into a directory with no .git (libgit2 writes symlinks as symlinks and refuses
// .git, .GIT, NTFS and HFS aliases of it), and finding the gitlinks and .gitmodules a commit's
// submodules come from.
#pragma once

#include <git2.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::worker {

// The commit `spec` (4 to 40 lowercase hex digits) names in `repo`; nullopt when the mirror has
// no such commit; InvalidArgument when an abbreviation matches several objects or names
// something that is not a commit.
absl::StatusOr<std::optional<git_oid>> FindCommit(git_repository* repo, const std::string& spec,
                                                  absl::string_view shown_url);

// Writes the tree of commit `oid` into the existing, empty directory `target_dir`. With
// `has_gitlinks` the gitlinks are left out (check submodules out into their directories after).
absl::Status CheckoutCommit(git_repository* repo, const git_oid& oid, const std::string& target_dir,
                            bool has_gitlinks);

// Committer time of commit `oid` (unix seconds).
absl::StatusOr<int64_t> CommitTime(git_repository* repo, const git_oid& oid);

struct Gitlink {
  std::string path;  // relative to the repository's root
  git_oid commit;
};

// The gitlink (submodule) entries of commit `oid`'s tree, and its root .gitmodules blob's text
// ("" when there is none).
absl::Status ReadSubmoduleSources(git_repository* repo, const git_oid& oid,
                                  std::vector<Gitlink>* gitlinks, std::string* gitmodules);

// Opens the directory `relative` beneath the directory `root_fd` (making missing parts 0755),
// following no symlink, and returns its real path: where a submodule is checked out.
absl::StatusOr<std::string> DirectoryBeneath(int root_fd, const std::string& root_path,
                                             const std::string& relative);

}  // namespace tempa::worker
