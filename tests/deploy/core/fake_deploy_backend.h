// A DeployBackend for tests, scripted per deploy id: succeed (the default), fail with a status
// and a log tail, or block until the test releases it. Records every call, and how many ran at
// once per track and in all.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "deploy/core/release.h"

namespace tempa::deploy::testing {

class FakeDeployBackend final : public DeployBackend {
 public:
  struct Script {
    absl::Status status;   // OK: DEPLOYED
    std::string log_tail;  // with a failure
    bool block = false;    // wait in Deploy until Unblock(id)
  };

  // How Deploy answers for `deploy_id` (its default: succeed at once).
  void SetScript(const std::string& deploy_id, Script script);
  // Lets a blocked Deploy of `deploy_id` return (now or whenever it is called).
  void Unblock(const std::string& deploy_id);
  // Makes every Recover fail with `status`.
  void FailRecover(absl::Status status);

  // Blocks until Deploy has been called for `deploy_id` (false after `timeout`).
  bool WaitForCall(const std::string& deploy_id, absl::Duration timeout = absl::Seconds(30));

  int calls(const std::string& deploy_id) const;
  std::vector<Release> releases() const;  // every call, in order
  int recover_calls() const;
  int max_concurrent_in_track() const;  // the most calls of one track running at once
  int max_concurrent() const;           // the most calls running at once, all tracks

  DeployOutcome Deploy(const Release& release, DeployObserver& observer) override;
  absl::Status Recover() override;
  std::string name() const override { return "fake"; }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, Script> scripts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> unblocked_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<Release> releases_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> running_per_track_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  int max_in_track_ ABSL_GUARDED_BY(mu_) = 0;
  int max_running_ ABSL_GUARDED_BY(mu_) = 0;
  int recover_calls_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status recover_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tempa::deploy::testing
