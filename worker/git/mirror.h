// The worker's bare mirror of one repository: mirrors_dir/<sha256 of the normalized URL>.git,
// made 0700 through descriptors, locked with an flock on <hash>.lock for as long as a Mirror
// lives (two slots building one repository take turns), and fetched into incrementally.
#pragma once

#include <git2.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/posix_status.h"
#include "worker/git/git_url.h"
#include "worker/git/libgit2_util.h"
#include "worker/git/transfer.h"

namespace tempa::worker {

using LogFn = std::function<void(absl::string_view)>;

class Mirror {
 public:
  // Opens (creating when missing) the mirror for `url` under the directory `mirrors_fd`
  // (`mirrors_dir` names it), waiting for the lock (logged; Cancelled when `cancelled` says so
  // while waiting); a mirror left half-made is made again.
  static absl::StatusOr<Mirror> Open(int mirrors_fd, const std::string& mirrors_dir,
                                     const std::string& url, const TransferSession& session,
                                     const LogFn& log);

  git_repository* repo() const { return repo_.get(); }
  const std::string& url() const { return url_; }
  const GitUrl& parsed_url() const { return parsed_; }

  // Connects, reads the advertised refs and returns what refs/heads/<branch> points at;
  // NotFound when the remote has no such branch. With `fetch` the branch's objects are
  // downloaded (only what the mirror lacks) and refs/heads/<branch> updated.
  absl::StatusOr<git_oid> FetchBranch(const std::string& branch, bool fetch,
                                      TransferSession& session, const LogFn& log);

  // Downloads `refspecs` ("+SRC:DST") and updates their destination refs.
  absl::Status FetchRefspecs(const std::vector<std::string>& refspecs, TransferSession& session,
                             const LogFn& log);

  // Releases the lock early (objects, once fetched, never go away, so a checkout needs none).
  void Unlock() { lock_.Reset(); }

 private:
  Mirror(std::string url, GitUrl parsed, UniqueFd lock, RepositoryPtr repo)
      : url_(std::move(url)),
        parsed_(std::move(parsed)),
        lock_(std::move(lock)),
        repo_(std::move(repo)) {}

  absl::Status Download(git_remote* remote, const std::vector<std::string>& refspecs,
                        git_remote_callbacks& callbacks, TransferSession& session,
                        const LogFn& log);

  std::string url_;
  GitUrl parsed_;
  UniqueFd lock_;
  RepositoryPtr repo_;
};

// A one-time connection listing `url`'s advertised refs: the target of refs/heads/<branch>.
absl::StatusOr<git_oid> RemoteBranchHead(const std::string& url, const std::string& branch,
                                         TransferSession& session);

// The directory `path` (created 0700 with its parents when missing), opened O_DIRECTORY.
absl::StatusOr<UniqueFd> OpenMirrorsDir(const std::string& path);

}  // namespace tempa::worker
