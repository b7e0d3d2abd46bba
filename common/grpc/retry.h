// The one retrier for idempotent client calls (Get*, List*, Heartbeat, LeaseJob...): retries
// only what a later attempt can fix (UNAVAILABLE: server down or restarting; RESOURCE_EXHAUSTED:
// server overloaded), with capped exponential backoff and jitter, within an overall deadline and
// until a cancel flag is raised. Never retries INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED...
// A non-idempotent call (CreateApp, TriggerBuild) must not go through it.
#pragma once

#include <grpcpp/support/status.h>

#include <atomic>
#include <functional>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"

namespace tempa::rpc {

struct RetryOptions {
  // The whole call, every attempt and wait included, ends by then. Each attempt gets it as its
  // deadline.
  absl::Time deadline = absl::InfiniteFuture();
  // Raised (by another thread): no further attempt; a wait in progress ends within ~20 ms.
  const std::atomic<bool>* cancelled = nullptr;
  // Wait n (from 0) is min(max_backoff, initial_backoff * multiplier^n), scaled by a random
  // factor in [1 - jitter, 1 + jitter] (never past max_backoff * (1 + jitter)).
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  double multiplier = 2.0;
  double jitter = 0.2;
  int max_attempts = 0;  // 0: no limit but the deadline
  // RESOURCE_EXHAUSTED is retried (the server shedding load), except gRPC's "message larger
  // than max", which no retry changes.
  bool retry_resource_exhausted = true;

  // Injected for tests; null: absl::Now and a real sleep that watches `cancelled`.
  std::function<absl::Time()> now;
  std::function<void(absl::Duration)> sleep;
};

// Whether `status` is worth another attempt under `options`.
bool IsRetryable(const grpc::Status& status, const RetryOptions& options);

// Calls `attempt(deadline)` (which makes a fresh ClientContext, PrepareContext(ctx, opts,
// deadline), and calls) until it returns OK or a status that is not retryable, the attempts run
// out, the next wait would end past the deadline, or `cancelled` is raised. Returns the last
// attempt's status (its message saying how many attempts were made when more than one was), or
// CANCELLED when cancelled before an attempt succeeded.
grpc::Status CallWithRetry(const RetryOptions& options,
                           absl::FunctionRef<grpc::Status(absl::Time deadline)> attempt);

}  // namespace tempa::rpc
