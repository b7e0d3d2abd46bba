#include "worker/source_info.h"

#include <git2.h>

#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tempa::worker {
namespace {

void InitLibgit2Once() {
  static std::once_flag once;
  std::call_once(once, [] { git_libgit2_init(); });
}

std::string LastGitError() {
  const git_error* e = git_error_last();
  return e != nullptr && e->message != nullptr ? e->message : "unknown libgit2 error";
}

// Owns a libgit2 object and frees it with its matching function.
template <typename T, void (*Free)(T*)>
struct GitPtr {
  T* ptr = nullptr;
  ~GitPtr() {
    if (ptr != nullptr) Free(ptr);
  }
};

}  // namespace

absl::StatusOr<SourceInfo> ReadSourceInfo(const std::string& dir,
                                          std::optional<int64_t> env_epoch) {
  InitLibgit2Once();
  SourceInfo info;
  GitPtr<git_repository, git_repository_free> repo;
  int rc = git_repository_open_ext(&repo.ptr, dir.c_str(), 0, nullptr);
  if (rc == GIT_ENOTFOUND) {
    if (env_epoch) info.source_date_epoch = *env_epoch;
    return info;
  }
  if (rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("read git repository at ", dir, ": ", LastGitError()));
  }
  GitPtr<git_object, git_object_free> head;
  rc = git_revparse_single(&head.ptr, repo.ptr, "HEAD^{commit}");
  if (rc == 0) {
    const git_commit* commit = reinterpret_cast<const git_commit*>(head.ptr);
    char hex[GIT_OID_HEXSZ + 1] = {};
    git_oid_tostr(hex, sizeof hex, git_commit_id(commit));
    info.revision = std::string(hex);
    info.source_date_epoch = static_cast<int64_t>(git_commit_time(commit));

    git_status_options opts = GIT_STATUS_OPTIONS_INIT;
    opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    GitPtr<git_status_list, git_status_list_free> status;
    if (!git_repository_is_bare(repo.ptr) &&
        git_status_list_new(&status.ptr, repo.ptr, &opts) == 0) {
      info.dirty = git_status_list_entrycount(status.ptr) > 0;
    }
  }
  // An unborn HEAD (fresh `git init`) keeps the fixed epoch.
  if (env_epoch) info.source_date_epoch = *env_epoch;
  return info;
}

}  // namespace tempa::worker
