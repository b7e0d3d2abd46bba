// Retries as a decorator over HttpTransport: a request that met a connection failure, a 5xx or a
// 429 is sent again, with exponential backoff, up to the policy's number of attempts. What a
// retry may not repeat says so in the request (HttpRequest::retryable, rewind_sink).
#pragma once

#include <functional>

#include "absl/time/time.h"
#include "common/registry/http_transport.h"

namespace tempa::registry {

struct RetryPolicy {
  int max_attempts = 5;  // total tries of one request, the first included
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
};

// True for the answers worth repeating a request for: 5xx and 429.
bool RetryableStatus(int status);

// The delay before retry number `attempt` (1-based): initial_backoff doubled per attempt, capped.
absl::Duration BackoffFor(const RetryPolicy& policy, int attempt);

class RetryingHttpTransport : public HttpTransport {
 public:
  // `sleeper` waits between attempts (tests inject a recorder); default absl::SleepFor.
  // `inner` must outlive this.
  RetryingHttpTransport(HttpTransport* inner, RetryPolicy policy,
                        std::function<void(absl::Duration)> sleeper = {});

  // Sends until an answer that is not worth repeating, or the attempts run out: then the last
  // answer (a 5xx or 429 response, with `attempts` set) or the last Unavailable status, whose
  // message ends "(gave up after N attempts)". Other errors are returned at once.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override;

 private:
  HttpTransport* const inner_;
  const RetryPolicy policy_;
  const std::function<void(absl::Duration)> sleeper_;
};

}  // namespace tempa::registry
