// The coordinator's HTTP listener (--webhook-listen): POST /webhooks/github into a
// GithubWebhookHandler, GET /metrics (Prometheus text) and GET /healthz. Reachable from the
// internet, so every request is bounded before any handler runs: one request per connection, a
// byte budget for the head and body together, an overall deadline, and a body limit enforced from
// Content-Length (413 without reading the body into memory) and while reading a chunked body.
// Built on cpp-httplib; no exception leaves it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/webhook/github_webhook_handler.h"

namespace tempa::coordinator {

class WebhookHttpServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 0;  // 0: any free port (Start() returns it)
    // GitHub caps payloads at 25 MB; pushes are far smaller. Larger bodies are answered 413.
    size_t max_body_bytes = 1 << 20;
    // Request line and headers together.
    size_t max_header_bytes = 64 << 10;
    absl::Duration read_timeout = absl::Seconds(10);     // each wait for bytes from the client
    absl::Duration write_timeout = absl::Seconds(10);    // each wait to send
    absl::Duration request_timeout = absl::Seconds(30);  // the whole request, first byte to last
    int threads = 4;
  };

  // `handler` outlives the server. `metrics_text` renders GET /metrics (may be empty: 404).
  WebhookHttpServer(Options options, GithubWebhookHandler* handler,
                    std::function<std::string()> metrics_text);
  ~WebhookHttpServer();  // Stop()
  WebhookHttpServer(const WebhookHttpServer&) = delete;
  WebhookHttpServer& operator=(const WebhookHttpServer&) = delete;

  // Binds and starts serving on a thread of its own; returns the bound port. Unavailable when
  // the address cannot be bound (in use, not local). Call once.
  absl::StatusOr<int> Start();

  // Stops accepting, lets requests in flight finish (each is bounded by request_timeout) and
  // joins the threads. Idempotent.
  void Stop();

 private:
  class BoundedServer;

  void Route();

  Options options_;
  GithubWebhookHandler* handler_;
  std::function<std::string()> metrics_text_;
  std::unique_ptr<BoundedServer> server_;
  std::thread thread_;
};

}  // namespace tempa::coordinator
