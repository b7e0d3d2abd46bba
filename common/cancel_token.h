// CancelToken: how a build is told to stop. Whoever runs the build (the CLI on SIGINT, the
// worker daemon when the coordinator cancels or supersedes it) calls Cancel(); the pipeline polls
// cancelled() between steps and the sandbox while a command runs, killing it. Thread-safe;
// cancelled() is one atomic load, cheap enough for any poll loop.
#pragma once

#include <atomic>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tempa {

class CancelToken {
 public:
  CancelToken() = default;
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;

  // Sets the token (idempotent) and wakes every WaitFor.
  void Cancel();
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // Blocks until the token is set or `timeout` passes; true when it is set.
  bool WaitFor(absl::Duration timeout) const;

 private:
  std::atomic<bool> cancelled_{false};
  mutable absl::Mutex mu_;
  bool set_ ABSL_GUARDED_BY(mu_) = false;
};

// True when `token` is set; a null token is never set.
inline bool IsCancelled(const CancelToken* token) { return token != nullptr && token->cancelled(); }

}  // namespace tempa
