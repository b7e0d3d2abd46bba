// Small pieces every libgit2 caller in the fetcher shares: one thread-safe git_libgit2_init, an
// owning pointer per libgit2 object type, and the last libgit2 error as text.
#pragma once

#include <git2.h>

#include <memory>
#include <string>

namespace tempa::worker {

// Calls git_libgit2_init exactly once per process (thread-safe); never shut down.
void InitLibgit2Once();

// The message of libgit2's last error on this thread, or "unknown libgit2 error".
std::string LastGitError();

// An owning pointer for a libgit2 object: GitPtr<git_repository, git_repository_free>.
template <typename T, void (*Free)(T*)>
struct GitDeleter {
  void operator()(T* p) const {
    if (p != nullptr) Free(p);
  }
};
template <typename T, void (*Free)(T*)>
using GitPtr = std::unique_ptr<T, GitDeleter<T, Free>>;

using RepositoryPtr = GitPtr<git_repository, git_repository_free>;
using RemotePtr = GitPtr<git_remote, git_remote_free>;
using CommitPtr = GitPtr<git_commit, git_commit_free>;
using TreePtr = GitPtr<git_tree, git_tree_free>;
using ObjectPtr = GitPtr<git_object, git_object_free>;
using BlobPtr = GitPtr<git_blob, git_blob_free>;
using ReferencePtr = GitPtr<git_reference, git_reference_free>;

// The 40-hex form of `oid`.
std::string OidHex(const git_oid& oid);

}  // namespace tempa::worker
