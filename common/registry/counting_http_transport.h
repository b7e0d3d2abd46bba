// Request counting as a decorator over HttpTransport: every request sent through it, by method,
// for metrics and for tests that pin down how many round trips an operation costs.
#pragma once

#include "common/registry/http_transport.h"

namespace tempa::registry {

class CountingHttpTransport : public HttpTransport {
 public:
  // `inner` must outlive this.
  explicit CountingHttpTransport(HttpTransport* inner) : inner_(inner) {}

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override {
    counters_.Count(request.method);
    return inner_->Send(request);
  }
  // Requests sent through this transport so far, by method. Thread-safe.
  RequestCounts counts() const { return counters_.Snapshot(); }

 private:
  HttpTransport* const inner_;
  RequestCounters counters_;
};

}  // namespace tempa::registry
