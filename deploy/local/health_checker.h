// Waits for a new release to answer its health check before the edge sends it traffic: HTTP GET
// http://127.0.0.1:PORT/PATH (libcurl), healthy on a 2xx or 3xx answer, polled until a deadline.
// A container seen not running (or restarted) while it is checked fails the check at once, with
// its exit reason, instead of waiting out the deadline.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "deploy/runtime/container_runtime.h"

namespace tempa::deploy {

struct HealthCheckerOptions {
  std::function<absl::Time()> now = [] { return absl::Now(); };
  std::function<void(absl::Duration)> sleep = [](absl::Duration d) { absl::SleepFor(d); };
  absl::Duration interval = absl::Milliseconds(250);  // between probes
  absl::Duration probe_timeout = absl::Seconds(2);    // one GET, connect included
};

class HealthChecker {
 public:
  explicit HealthChecker(HealthCheckerOptions options = {});

  // One GET of http://127.0.0.1:`port``path`: OK on 2xx/3xx (redirects are not followed);
  // Unavailable with what happened otherwise ("connection refused", "answered 503").
  absl::Status Probe(int port, absl::string_view path) const;

  // Probes until one passes or `timeout` has passed. Between probes asks `status` about the
  // container: when it is not running or has restarted, gives up at once with
  // FailedPrecondition "exited during the health check: <exit reason>". On timeout,
  // DeadlineExceeded "never became healthy at PATH within 60s: <last probe error>; last exit:
  // <reason>" (the last part when the container ever exited).
  absl::Status WaitHealthy(int port, absl::string_view path, absl::Duration timeout,
                           const std::function<absl::StatusOr<ContainerStatus>()>& status) const;

 private:
  HealthCheckerOptions options_;
};

}  // namespace tempa::deploy
