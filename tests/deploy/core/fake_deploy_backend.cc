#include "tests/deploy/core/fake_deploy_backend.h"

#include <algorithm>

namespace tempa::deploy::testing {

void FakeDeployBackend::SetScript(const std::string& deploy_id, Script script) {
  absl::MutexLock lock(&mu_);
  scripts_[deploy_id] = std::move(script);
}

void FakeDeployBackend::Unblock(const std::string& deploy_id) {
  absl::MutexLock lock(&mu_);
  unblocked_[deploy_id] = true;
}

void FakeDeployBackend::FailRecover(absl::Status status) {
  absl::MutexLock lock(&mu_);
  recover_status_ = std::move(status);
}

bool FakeDeployBackend::WaitForCall(const std::string& deploy_id, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto called = [this, &deploy_id]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_.count(deploy_id) > 0; };
  return mu_.AwaitWithTimeout(absl::Condition(&called), timeout);
}

int FakeDeployBackend::calls(const std::string& deploy_id) const {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(deploy_id);
  return it == calls_.end() ? 0 : it->second;
}

std::vector<Release> FakeDeployBackend::releases() const {
  absl::MutexLock lock(&mu_);
  return releases_;
}

int FakeDeployBackend::recover_calls() const {
  absl::MutexLock lock(&mu_);
  return recover_calls_;
}

int FakeDeployBackend::max_concurrent_in_track() const {
  absl::MutexLock lock(&mu_);
  return max_in_track_;
}

int FakeDeployBackend::max_concurrent() const {
  absl::MutexLock lock(&mu_);
  return max_running_;
}

DeployOutcome FakeDeployBackend::Deploy(const Release& release, DeployObserver& observer) {
  std::string track = release.app + "/" + release.track;
  Script script;
  {
    absl::MutexLock lock(&mu_);
    ++calls_[release.deploy_id];
    releases_.push_back(release);
    max_in_track_ = std::max(max_in_track_, ++running_per_track_[track]);
    max_running_ = std::max(max_running_, ++running_);
    if (auto it = scripts_.find(release.deploy_id); it != scripts_.end()) script = it->second;
  }
  observer.Step("fake deploy");
  absl::MutexLock lock(&mu_);
  if (script.block) {
    const std::string& id = release.deploy_id;
    auto released = [this, &id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return unblocked_[id]; };
    mu_.Await(absl::Condition(&released));
  }
  --running_per_track_[track];
  --running_;
  DeployOutcome outcome;
  outcome.status = script.status;
  outcome.log_tail = script.log_tail;
  if (script.status.ok()) {
    for (const std::string& host : release.hosts) outcome.urls.push_back("https://" + host);
  }
  return outcome;
}

absl::Status FakeDeployBackend::Recover() {
  absl::MutexLock lock(&mu_);
  ++recover_calls_;
  return recover_status_;
}

}  // namespace tempa::deploy::testing
