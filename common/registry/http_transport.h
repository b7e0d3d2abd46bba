// The HTTP seam under the registry client: one request in, one response out. Implementations are
// named by mechanism (curl_http_transport.h); tests substitute fakes or talk to loopback servers.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tempa::registry {

// A byte range of a file sent as the request body, streamed from disk (never loaded whole).
struct FileRange {
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, POST, PUT, PATCH, DELETE
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  // The body: `body_file` when set, else `body`. POST/PUT/PATCH always send a Content-Length.
  std::string body;
  std::optional<FileRange> body_file;
  // When set, a 2xx response body is streamed here instead of into HttpResponse::body (large
  // blob downloads). An error returned by the sink aborts the transfer and is returned by Send.
  std::function<absl::Status(absl::string_view)> body_sink;
  // GET/HEAD only: follow redirects (blob storage may redirect to S3). A hop to another origin
  // (scheme, host or port) goes without the Authorization and Cookie headers; a hop from https
  // to http, or to anything but http(s), is refused.
  bool follow_redirects = false;
  // A body read into HttpResponse::body (every answer but a 2xx one with a body_sink) is cut off
  // here: past this many bytes the transfer is aborted and Send returns OutOfRange. Whatever
  // answers is untrusted; only the request knows how much it expects.
  uint64_t max_body_bytes = kDefaultMaxBodyBytes;
  // For a RetryingHttpTransport: whether the request may be sent again after a connection
  // failure, a 5xx or a 429, and how to rewind `body_sink` first (returns false when it cannot,
  // and then the request is not repeated).
  bool retryable = true;
  std::function<bool()> rewind_sink;

  static constexpr uint64_t kDefaultMaxBodyBytes = 64 << 10;
};

struct HttpResponse {
  int status = 0;
  // How many times the request was sent to get this answer (set by RetryingHttpTransport).
  int attempts = 1;
  // Names lowercased; a repeated header keeps the last value.
  std::map<std::string, std::string> headers;
  std::string body;

  // The header's value or "" (`name` must be lowercase).
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Requests sent, by method (CountingHttpTransport keeps them). Thread-safe; copies are snapshots.
struct RequestCounts {
  int64_t head = 0, get = 0, post = 0, put = 0, patch = 0, other = 0;
  int64_t total() const { return head + get + post + put + patch + other; }
};

class RequestCounters {
 public:
  void Count(absl::string_view method) {
    if (method == "HEAD")
      ++head_;
    else if (method == "GET")
      ++get_;
    else if (method == "POST")
      ++post_;
    else if (method == "PUT")
      ++put_;
    else if (method == "PATCH")
      ++patch_;
    else
      ++other_;
  }
  RequestCounts Snapshot() const {
    return {head_.load(), get_.load(), post_.load(), put_.load(), patch_.load(), other_.load()};
  }

 private:
  std::atomic<int64_t> head_{0}, get_{0}, post_{0}, put_{0}, patch_{0}, other_{0};
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends one request. Any HTTP answer (including 4xx/5xx) is a response; a failure to connect,
  // a timeout or a broken connection is an Unavailable status naming the host; a body longer
  // than `max_body_bytes` is OutOfRange; a refused redirect is PermissionDenied. Only http and
  // https URLs are ever fetched. Thread-safe.
  virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& request) = 0;
};

}  // namespace tempa::registry
