// DeployerCore's workers: one thread per track with work, taking the track's pending deploy,
// running it through the backend and recording how it ended.
#include <algorithm>
#include <functional>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "deploy/core/deploy_settings.h"
#include "deploy/core/deployer_core.h"
#include "deploy/core/hosts.h"
#include "tempa/v1/deploy.pb.h"

namespace tempa::deploy {

using tempa::v1::Deploy;

namespace {

constexpr size_t kMaxReason = 4 * 1024;
constexpr size_t kMaxLogTail = 16 * 1024;
// Env values shorter than this are not scrubbed from messages (a "1" or "true" would garble
// every line without hiding anything).
constexpr size_t kMinRedactedValue = 6;

// `text` with every env value of kMinRedactedValue characters or more replaced by
// "[NAME redacted]": an app or a backend may print its env, and records are shown to people.
std::string Redact(std::string text, const EnvMap& env) {
  for (const auto& [name, value] : env) {
    if (value.size() >= kMinRedactedValue) {
      text = absl::StrReplaceAll(text, {{value, absl::StrCat("[", name, " redacted]")}});
    }
  }
  return text;
}

std::string Tail(std::string text, size_t max) {
  if (text.size() <= max) return text;
  return "…" + text.substr(text.size() - max);
}

std::string Head(std::string text, size_t max) {
  if (text.size() <= max) return text;
  text.resize(max);
  return text + "…";
}

}  // namespace

// Logs each step and keeps it, with its time, for the deploy's record (Deploy.steps).
class DeployerCore::StepLogger final : public DeployObserver {
 public:
  StepLogger(std::string prefix, std::function<absl::Time()> clock)
      : prefix_(std::move(prefix)), clock_(std::move(clock)) {}
  void Step(absl::string_view what) override {
    std::cerr << "tempa-deployer: " << prefix_ << ": " << what << "\n";
    absl::MutexLock lock(&mu_);
    if (steps_.size() >= kMaxSteps) return;
    tempa::v1::DeployStep step;
    step.set_name(Head(std::string(what), kMaxStepName));
    step.set_started_unix_ms(absl::ToUnixMillis(clock_()));
    steps_.push_back(std::move(step));
  }
  // The steps, each lasting until the next began (the last until `end_ms`).
  std::vector<tempa::v1::DeployStep> Finish(int64_t end_ms) {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < steps_.size(); ++i) {
      int64_t next = i + 1 < steps_.size() ? steps_[i + 1].started_unix_ms() : end_ms;
      steps_[i].set_took_ms(std::max<int64_t>(0, next - steps_[i].started_unix_ms()));
    }
    return steps_;
  }

 private:
  static constexpr size_t kMaxSteps = 64;
  static constexpr size_t kMaxStepName = 200;
  const std::string prefix_;
  const std::function<absl::Time()> clock_;
  absl::Mutex mu_;
  std::vector<tempa::v1::DeployStep> steps_ ABSL_GUARDED_BY(mu_);
};

void DeployerCore::RunTrack(std::string key) {
  for (;;) {
    std::string id;
    {
      absl::MutexLock lock(&mu_);
      Track& track = tracks_[key];
      if (stopping_ || !track.pending) {
        track.worker_active = false;
        return;
      }
      id = *std::move(track.pending);
      track.pending.reset();
      Entry& entry = entries_[id];
      track.newest_taken = entry.order;
      track.newest_taken_id = id;
      Deploy deploy = entry.deploy;
      deploy.set_status(tempa::v1::DEPLOYING);
      deploy.set_started_unix_ms(NowMs());
      deploy.clear_reason();
      deploy.clear_log_tail();
      deploy.clear_finished_unix_ms();
      // Not recorded as started: it stays pending in the store, for the next Start.
      if (!PublishOrLog(std::move(deploy))) continue;
      track.running = id;
    }
    RunOne(id);
    absl::MutexLock lock(&mu_);
    tracks_[key].running.reset();
  }
}

void DeployerCore::RunOne(const std::string& id) {
  Deploy deploy;
  {
    absl::MutexLock lock(&mu_);
    deploy = entries_[id].deploy;
  }
  std::string prefix = absl::StrCat(id, " (", deploy.app(), "/", deploy.track(), ")");
  DeployOutcome outcome;
  StepLogger observer(prefix, clock_);
  EnvMap env;
  absl::StatusOr<EnvMap> sealed_env = store_->GetEnv(id);
  if (!sealed_env.ok()) {
    outcome.status = sealed_env.status();
  } else {
    env = *std::move(sealed_env);
    absl::StatusOr<Release> release = MakeRelease(deploy, env);
    absl::Status claimed =
        release.ok() ? store_->ClaimHosts(deploy.app(), release->hosts) : release.status();
    if (!claimed.ok()) {
      outcome.status = claimed;
    } else {
      observer.Step(absl::StrCat("deploying ", deploy.image(), " on ", backend_->name()));
      outcome = backend_->Deploy(*release, observer);
    }
  }
  absl::MutexLock lock(&mu_);
  Deploy done = entries_[id].deploy;
  done.set_finished_unix_ms(NowMs());
  for (tempa::v1::DeployStep& step : observer.Finish(done.finished_unix_ms())) {
    *done.add_steps() = std::move(step);
  }
  if (outcome.status.ok()) {
    done.set_status(tempa::v1::DEPLOYED);
    for (std::string& url : outcome.urls) done.add_urls(std::move(url));
    std::cerr << "tempa-deployer: " << prefix << ": live\n";
  } else {
    done.set_status(tempa::v1::DEPLOY_FAILED);
    std::string reason(outcome.status.message());
    if (reason.empty()) {
      reason =
          absl::StrCat("the ", backend_->name(), " backend failed (",
                       absl::StatusCodeToString(outcome.status.code()), ") without saying why");
    }
    done.set_reason(Head(Redact(std::move(reason), env), kMaxReason));
    done.set_log_tail(Tail(Redact(std::move(outcome.log_tail), env), kMaxLogTail));
    std::cerr << "tempa-deployer: " << prefix << ": failed: " << done.reason() << "\n";
  }
  PublishOrLog(std::move(done));
}

absl::StatusOr<Release> DeployerCore::MakeRelease(const Deploy& deploy, EnvMap env) const {
  absl::StatusOr<RunSettings> settings = ResolveSettings(deploy.settings());
  if (!settings.ok()) return settings.status();
  Release release;
  release.deploy_id = deploy.id();
  release.app = deploy.app();
  release.track = deploy.track();
  release.commit = deploy.commit();
  release.image = deploy.image();
  release.hosts = HostsFor(deploy.app(), deploy.track(), deploy.commit(), domain_);
  release.settings = *settings;
  release.env = std::move(env);
  release.rollback = deploy.rollback();
  return release;
}

}  // namespace tempa::deploy
