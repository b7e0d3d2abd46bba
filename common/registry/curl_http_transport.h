// HttpTransport on libcurl easy handles. Handles are pooled and reused so consecutive requests to
// the same registry keep their TCP/TLS connection alive (curl keeps a connection cache per
// handle); a handle is owned by one request at a time, so Send is thread-safe.
#pragma once

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/registry/http_transport.h"

namespace tempa::registry {

struct CurlTransportOptions {
  absl::Duration connect_timeout = absl::Seconds(10);
  // A transfer slower than `low_speed_bytes` per second for `low_speed_time` is aborted; this,
  // not a total timeout, bounds large uploads on a slow but alive link.
  int64_t low_speed_bytes = 1024;
  absl::Duration low_speed_time = absl::Seconds(60);
  // Total time limit per request; zero means none.
  absl::Duration total_timeout = absl::ZeroDuration();
  // Handles kept idle for reuse (roughly the number of parallel uploads).
  int max_idle_handles = 8;
  // Verify TLS peers (only ever off in tests).
  bool verify_tls = true;
};

class CurlHttpTransport : public HttpTransport {
 public:
  explicit CurlHttpTransport(CurlTransportOptions options = {});
  ~CurlHttpTransport() override;
  CurlHttpTransport(const CurlHttpTransport&) = delete;
  CurlHttpTransport& operator=(const CurlHttpTransport&) = delete;

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override;

 private:
  // One request, no redirects followed.
  absl::StatusOr<HttpResponse> SendOnce(const HttpRequest& request);
  void* Acquire();
  void Release(void* handle);

  const CurlTransportOptions options_;
  absl::Mutex mu_;
  std::vector<void*> idle_ ABSL_GUARDED_BY(mu_);  // CURL* kept opaque to keep curl.h out
};

}  // namespace tempa::registry
