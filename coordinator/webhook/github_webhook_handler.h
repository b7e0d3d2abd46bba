// Decides what a GitHub webhook delivery does: answers `ping`, turns a signed `push` to a
// followed branch into one build per app, and refuses everything else with a reply that says
// what to fix. A refused or ignored delivery never reaches WebhookTargets::AcceptPush, so it
// leaves no trace in the state. Transport-free: WebhookHttpServer feeds it.
#pragma once

#include <string>
#include <vector>

#include "common/metrics/metrics.h"
#include "coordinator/webhook/webhook_handler.h"

namespace tempa::coordinator {

// One delivery as it arrived over HTTP.
struct WebhookDelivery {
  std::string event;         // X-GitHub-Event
  std::string delivery_id;   // X-GitHub-Delivery
  std::string signature;     // X-Hub-Signature-256
  std::string content_type;  // Content-Type
  std::string body;
};

// The HTTP answer: a JSON body, {"error": ..., "fix": ...} for a refusal, {"builds": [{"app",
// "id"}], ...} otherwise.
struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// An error reply {"error": error, "fix": fix} (fix omitted when empty).
HttpReply JsonErrorReply(int status, const std::string& error, const std::string& fix);

class GithubWebhookHandler {
 public:
  // `targets` outlives the handler. `metrics` (optional) gets
  // tempa_webhook_deliveries_total{event, status}.
  explicit GithubWebhookHandler(WebhookTargets* targets,
                                metrics::MetricsRegistry* metrics = nullptr);

  // Status codes: 200 ping answered or a duplicate delivery (its earlier builds, no new ones);
  // 201 builds queued; 202 ignored (another event, a tag, a deleted branch, no app on the
  // branch); 400 a missing header or malformed payload; 401 no secret, or the signature matches
  // no app's secret; 404 no app has the repository; 415 not JSON; 503 the state failed (retry).
  // Never throws.
  HttpReply Handle(const WebhookDelivery& delivery);

 private:
  HttpReply HandleUnchecked(const WebhookDelivery& delivery);
  HttpReply HandlePing(const WebhookDelivery& delivery);
  HttpReply HandlePush(const WebhookDelivery& delivery);

  WebhookTargets* targets_;
  metrics::MetricsRegistry* metrics_;
};

}  // namespace tempa::coordinator
