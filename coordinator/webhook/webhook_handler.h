// The coordinator core's side of the webhook receiver: which apps follow a repository, and the
// one durable write that accepts a push. The receiver (GithubWebhookHandler) decides everything
// else and calls AcceptPush only for a delivery it accepts, so a rejected delivery leaves no
// trace in the state.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::coordinator {

// An app as the webhook receiver needs it.
struct WebhookApp {
  std::string name;
  // The branch the app builds; empty means the repository's default branch (as the push
  // payload names it).
  std::string branch;
  // The webhook secret, decrypted by the core; nullopt (or empty) when none is set: such an app
  // takes no webhooks.
  std::optional<std::string> secret;
};

// One build queued for an accepted push.
struct AcceptedBuild {
  std::string app;
  std::string build_id;
};

// One build to queue: `app` at `commit` (full hex id) of `branch`.
struct PushTarget {
  std::string app;
  std::string branch;
  std::string commit;
};

// Implemented by the coordinator core. Errors are reported to the sender as 503 (retry later).
class WebhookTargets {
 public:
  virtual ~WebhookTargets() = default;

  // The apps whose repository URL equals any of `urls` (compared with RepoUrlsMatch); empty when
  // none does.
  virtual absl::StatusOr<std::vector<WebhookApp>> AppsForRepository(
      const std::vector<std::string>& urls) = 0;

  // The builds a delivery with this id queued when it was accepted, or nullopt when no delivery
  // with this id was accepted.
  virtual absl::StatusOr<std::optional<std::vector<AcceptedBuild>>> FindDelivery(
      absl::string_view delivery_id) = 0;

  // Atomically and durably records the delivery and queues one build per target; returns once
  // that write is durable. If a delivery with this id was recorded meanwhile, queues nothing and
  // returns the builds it made then.
  virtual absl::StatusOr<std::vector<AcceptedBuild>> AcceptPush(
      absl::string_view delivery_id, const std::vector<PushTarget>& targets) = 0;
};

}  // namespace tempa::coordinator
