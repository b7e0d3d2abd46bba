// The coordinator core's side of the polling fallback: which apps are polled, their git
// credentials, and the durable, deduplicated write that queues a polled commit. The core
// implements it (as it implements WebhookTargets); BranchPoller decides everything else.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tempa/v1/farm.pb.h"

namespace tempa::coordinator {

// An app with a poll interval, as the poller needs it (no secrets).
struct PolledApp {
  std::string name;
  std::string repo_url;
  std::string branch;
  absl::Duration interval;
};

// What AcceptPoll did.
struct PollOutcome {
  std::string build_id;     // the build queued for this commit (now or by an earlier poll)
  bool queued_now = false;  // false: this (app, branch, commit) had been queued before
};

class PollTargets {
 public:
  virtual ~PollTargets() = default;

  // Every app whose poll interval is not 0.
  virtual absl::StatusOr<std::vector<PolledApp>> PolledApps() = 0;

  // The app's git credentials, opened; nullopt when it has none. Never logged by anyone.
  virtual absl::StatusOr<std::optional<v1::GitCredentials>> GitCredentialsOf(
      const std::string& app) = 0;

  // Durably queues a POLL build of `commit` on `branch` of `app`, once per (app, branch,
  // commit) for the life of the state: a second call (after a restart too) queues nothing and
  // names the earlier build. Nor is a commit queued when the branch's newest build (a webhook's
  // or a user's) is already of it. NotFound when the app is gone.
  virtual absl::StatusOr<PollOutcome> AcceptPoll(const std::string& app, const std::string& branch,
                                                 const std::string& commit) = 0;

  // Records why the app's last poll failed ("" clears it) where users see it (the app's
  // last_poll_error). `error` must hold no secret.
  virtual absl::Status RecordPollError(const std::string& app, const std::string& error) = 0;
};

}  // namespace tempa::coordinator
