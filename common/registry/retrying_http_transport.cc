#include "common/registry/retrying_http_transport.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tempa::registry {

bool RetryableStatus(int status) { return status >= 500 || status == 429; }

absl::Duration BackoffFor(const RetryPolicy& policy, int attempt) {
  absl::Duration delay = policy.initial_backoff;
  for (int i = 1; i < attempt && delay < policy.max_backoff; ++i) delay *= 2;
  return std::min(delay, policy.max_backoff);
}

RetryingHttpTransport::RetryingHttpTransport(HttpTransport* inner, RetryPolicy policy,
                                             std::function<void(absl::Duration)> sleeper)
    : inner_(inner), policy_(policy), sleeper_(std::move(sleeper)) {}

absl::StatusOr<HttpResponse> RetryingHttpTransport::Send(const HttpRequest& request) {
  const int max_attempts = request.retryable ? std::max(1, policy_.max_attempts) : 1;
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<HttpResponse> response = inner_->Send(request);
    if (response.ok()) response->attempts = attempt;
    bool again =
        response.ok() ? RetryableStatus(response->status) : absl::IsUnavailable(response.status());
    if (again && attempt < max_attempts && (!request.rewind_sink || request.rewind_sink())) {
      absl::Duration delay = BackoffFor(policy_, attempt);
      if (sleeper_) {
        sleeper_(delay);
      } else {
        absl::SleepFor(delay);
      }
      continue;
    }
    if (!response.ok() && again && attempt > 1) {
      return absl::UnavailableError(
          absl::StrCat(response.status().message(), " (gave up after ", attempt, " attempts)"));
    }
    return response;
  }
}

}  // namespace tempa::registry
