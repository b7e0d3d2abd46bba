// How a worker gets an app's source: the exact commit of a repository, submodules included,
// checked out into a fresh directory. Repositories, their URLs and everything in them are
// untrusted; credentials arrive per request and never leave it (no log line, no error message).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::worker {

// Credentials for one app's repository; all optional. Handed only to the repository's own host.
struct GitAuth {
  std::string https_username;  // default "x-access-token" when a token is given
  std::string https_token;
  std::string ssh_private_key;  // PEM/OpenSSH private key text (unencrypted)
  std::string ssh_known_hosts;  // known_hosts lines; an SSH fetch without a match is refused
};

struct FetchRequest {
  // https://, http://, git://, ssh://, scp-like user@host:path, file:// or an absolute path.
  std::string repo_url;
  // Fetched when commit is empty, and to find the commit.
  std::string branch;
  // Full or abbreviated SHA; empty: the branch head.
  std::string commit;
  GitAuth auth;
  // Made by the fetcher (its parent must exist, it must not); the exact commit's tree goes here,
  // submodules included, with no .git directory.
  std::string checkout_dir;
  // A bigger transfer (all fetches of the request together, submodules included) is refused
  // with ResourceExhausted.
  uint64_t max_fetch_bytes = 2ull << 30;
  // Polled during transfer and between steps; true aborts with CANCELLED.
  std::function<bool()> cancelled;
  // Progress lines ("fetched 1234 objects (5.6 MiB) in 0.4s"); never credentials.
  std::function<void(absl::string_view)> log;
};

struct FetchResult {
  std::string commit;                   // the full SHA checked out
  int64_t commit_time = 0;              // unix seconds, committer
  uint64_t received_bytes = 0;          // over all fetches of the request
  uint64_t received_objects = 0;        // over all fetches of the request
  std::vector<std::string> submodules;  // paths checked out as submodules, nested ones included
};

class GitFetcher {
 public:
  virtual ~GitFetcher() = default;

  // Fetches `request.commit` (or the head of `request.branch`) and checks it out into
  // `request.checkout_dir`. Errors: InvalidArgument (bad URL, branch, SHA or submodule),
  // NotFound ("commit X is not in REPO (branch B)", unknown branch), ResourceExhausted
  // (max_fetch_bytes), Cancelled, Unauthenticated (credentials or host key refused),
  // FailedPrecondition (SSH without ssh_known_hosts, a gitlink with no .gitmodules url),
  // AlreadyExists (checkout_dir), Unimplemented (SSH without libgit2 SSH support), Unavailable
  // (network). On error checkout_dir is removed (unless it existed before).
  virtual absl::StatusOr<FetchResult> Fetch(const FetchRequest& request) = 0;

  // The SHA a branch points at on the remote, without fetching objects (the coordinator's
  // polling fallback). NotFound when the remote has no such branch.
  virtual absl::StatusOr<std::string> ResolveBranch(const std::string& repo_url,
                                                    const std::string& branch,
                                                    const GitAuth& auth) = 0;
};

}  // namespace tempa::worker
