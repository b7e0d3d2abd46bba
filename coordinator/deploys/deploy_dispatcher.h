// Delivers the coordinator's deploy intents to tempa-deployer and follows each one to its end.
// Every unfinished intent (PENDING, DEPLOYING) is submitted with the app's env (unsealed only
// here, on its way to the deployer) and then read until it is DEPLOYED, DEPLOY_FAILED or
// DEPLOY_SUPERSEDED; each change is written durably into the intent and its build's `deploy`.
// A deployer that is down or unreachable costs retries with capped exponential backoff (each
// delivery attempt counted in the intent); the intent stays PENDING meanwhile. Delivery is
// exactly-once because the deployer is idempotent by the deploy's id and every retry, in this
// run or after a restart (which resumes every unfinished intent), carries the same id.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/deploys/deploy_targets.h"
#include "coordinator/deploys/deployer_client.h"

namespace tempa::coordinator {

struct DeployDispatcherOptions {
  // How often deploys in flight are read back from the deployer (and intents looked for,
  // besides Wake).
  absl::Duration poll_interval = absl::Seconds(1);
  // Wait before the n-th retry after a failed delivery or read: initial * 2^(n-1), capped.
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(60);
  // Decides when a retry is due (tests script it).
  std::function<absl::Time()> clock = absl::Now;
};

class DeployDispatcher {
 public:
  DeployDispatcher(DeployTargets* targets, DeployerClientPtr client,
                   DeployDispatcherOptions options = {});
  ~DeployDispatcher();

  // Runs passes on a thread of its own: one at once, then every poll interval or Wake.
  void Start();
  void Stop();
  // A new intent is durable: pass now rather than at the next poll.
  void Wake();

  // One pass: submits every intent not yet delivered whose retry is due, reads the others, and
  // records what changed. Start's thread calls it; tests may call it instead of Start.
  void RunOnce();

  struct Stats {
    uint64_t submits = 0;            // SubmitDeploy calls, failed ones included
    uint64_t delivery_failures = 0;  // Submit/Get calls that failed and will be retried
    int unfinished = 0;              // PENDING and DEPLOYING intents at the last pass
  };
  Stats stats();

 private:
  // What this run knows of an intent beyond its stored record.
  struct Tracked {
    bool delivered = false;  // the deployer accepted it (in this run)
    int failures = 0;        // consecutive failed calls
    absl::Time next_try = absl::InfinitePast();
    int attempts = 0;  // deliveries so far (the stored count, then ours)
  };
  void Deliver(const v1::Deploy& intent, Tracked* tracked) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void Follow(const v1::Deploy& intent, Tracked* tracked) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  // Records the deployer's record `seen` of `intent` when it says something new.
  void Apply(const v1::Deploy& intent, v1::Deploy seen, const Tracked& tracked);
  // A failed call: retried after a backoff when it may work later; else the deploy fails.
  void Failed(const v1::Deploy& intent, const absl::Status& status, Tracked* tracked)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void Record(const v1::Deploy& update);

  DeployTargets* const targets_;
  const DeployerClientPtr client_;
  const DeployDispatcherOptions options_;

  absl::Mutex run_mu_;  // one pass at a time
  std::map<std::string, Tracked> tracked_ ABSL_GUARDED_BY(run_mu_);

  absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace tempa::coordinator
