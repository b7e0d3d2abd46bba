// One fetch request's transfer state as libgit2's remote callbacks see it: the byte budget
// (max_fetch_bytes over every fetch of the request), cancellation, credentials handed only to the
// request's own host and only once per connection, SSH host keys checked against the request's
// known_hosts, and the errors those produce, with every secret scrubbed from messages.
#pragma once

#include <git2.h>

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "worker/git/git_fetcher.h"
#include "worker/git/git_url.h"

namespace tempa::worker {

class TransferSession {
 public:
  // `request_url` is the top-level repository URL: credentials go to its host only.
  TransferSession(const GitUrl& request_url, const GitAuth& auth, uint64_t max_bytes,
                  std::function<bool()> cancelled);

  // Callbacks for a connection to `url` (the repository being fetched now: the request's or a
  // submodule's). Resets the per-connection state (credentials asked, errors seen).
  git_remote_callbacks Callbacks(const GitUrl& url);

  // The Status for libgit2's result `rc` of an operation described by `what` ("fetch URL"):
  // cancellation, an exceeded budget, refused credentials or host key first, then libgit2's own
  // error; secrets never appear in it.
  absl::Status StatusFor(int rc, absl::string_view what);

  // `text` with the token, password and private key replaced by "***".
  std::string Scrub(absl::string_view text) const;

  bool Cancelled() const;
  // Adds a finished download's counts to the request's totals.
  void AddReceived(uint64_t bytes, uint64_t objects);
  uint64_t received_bytes() const { return received_bytes_; }
  uint64_t received_objects() const { return received_objects_; }

 private:
  static int OnCredentials(git_credential** out, const char* url, const char* username_from_url,
                           unsigned int allowed_types, void* payload);
  static int OnCertificate(git_cert* cert, int valid, const char* host, void* payload);
  static int OnTransfer(const git_indexer_progress* stats, void* payload);
  static int OnSideband(const char* str, int len, void* payload);

  GitUrl request_url_;
  GitAuth auth_;
  uint64_t max_bytes_;
  std::function<bool()> cancelled_;
  uint64_t received_bytes_ = 0;
  uint64_t received_objects_ = 0;

  // Per connection.
  GitUrl current_;
  int secret_asks_ = 0;
  int username_asks_ = 0;
  bool cancel_seen_ = false;
  bool over_budget_ = false;
  absl::Status callback_error_;
};

// Unimplemented unless this libgit2 was built with SSH; FailedPrecondition without known_hosts.
absl::Status CheckSshUsable(const GitAuth& auth);

}  // namespace tempa::worker
