#include "common/grpc/retry.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace tempa::rpc {
namespace {

bool Cancelled(const RetryOptions& options) {
  return options.cancelled != nullptr && options.cancelled->load(std::memory_order_acquire);
}

void SleepWatchingCancel(absl::Duration wait, const std::atomic<bool>* cancelled) {
  absl::Time end = absl::Now() + wait;
  for (absl::Duration left = wait; left > absl::ZeroDuration(); left = end - absl::Now()) {
    if (cancelled != nullptr && cancelled->load(std::memory_order_acquire)) return;
    absl::SleepFor(std::min(left, absl::Milliseconds(20)));
  }
}

absl::Duration Backoff(const RetryOptions& options, int wait_index, absl::BitGen& gen) {
  double scale = std::pow(std::max(options.multiplier, 1.0), wait_index);
  absl::Duration base = options.initial_backoff * scale;
  if (!(base < options.max_backoff) || scale > 1e9) base = options.max_backoff;
  double jitter = std::clamp(options.jitter, 0.0, 1.0);
  double factor = jitter == 0 ? 1.0 : absl::Uniform(gen, 1.0 - jitter, 1.0 + jitter);
  return base * factor;
}

grpc::Status WithAttempts(const grpc::Status& status, int attempts, absl::string_view why) {
  if (attempts <= 1) return status;
  return grpc::Status(status.error_code(), absl::StrCat(status.error_message(), " (", attempts,
                                                        " attempts; ", why, ")"));
}

}  // namespace

bool IsRetryable(const grpc::Status& status, const RetryOptions& options) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return true;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return options.retry_resource_exhausted &&
             !absl::StrContains(status.error_message(), "larger than max");
    default:
      return false;
  }
}

grpc::Status CallWithRetry(const RetryOptions& options,
                           absl::FunctionRef<grpc::Status(absl::Time deadline)> attempt) {
  auto now = [&] { return options.now ? options.now() : absl::Now(); };
  absl::BitGen gen;
  grpc::Status last;
  for (int attempts = 1;; ++attempts) {
    if (Cancelled(options)) {
      return grpc::Status(grpc::StatusCode::CANCELLED,
                          attempts == 1
                              ? std::string("cancelled")
                              : absl::StrCat("cancelled after ", attempts - 1,
                                             " attempts; the last: ", last.error_message()));
    }
    last = attempt(options.deadline);
    if (last.ok() || !IsRetryable(last, options)) return last;
    if (options.max_attempts > 0 && attempts >= options.max_attempts) {
      return WithAttempts(last, attempts, "no attempts left");
    }
    absl::Duration wait = Backoff(options, attempts - 1, gen);
    if (now() + wait >= options.deadline) {
      return WithAttempts(last, attempts, "the deadline came");
    }
    if (options.sleep) {
      options.sleep(wait);
    } else {
      SleepWatchingCancel(wait, options.cancelled);
    }
  }
}

}  // namespace tempa::rpc
