#include "coordinator/deploys/deploy_dispatcher.h"

#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"

namespace tempa::coordinator {
namespace {

// What no retry with the same request changes: the deployer refused the deploy itself.
bool Permanent(const absl::Status& status) {
  return absl::IsInvalidArgument(status) || absl::IsFailedPrecondition(status) ||
         absl::IsAlreadyExists(status) || absl::IsOutOfRange(status) ||
         absl::IsUnimplemented(status);
}

bool SameRecord(const v1::Deploy& a, const v1::Deploy& b) {
  return a.status() == b.status() && a.reason() == b.reason() && a.log_tail() == b.log_tail() &&
         a.started_unix_ms() == b.started_unix_ms() &&
         a.finished_unix_ms() == b.finished_unix_ms() && a.attempts() == b.attempts() &&
         std::vector<std::string>(a.urls().begin(), a.urls().end()) ==
             std::vector<std::string>(b.urls().begin(), b.urls().end()) &&
         a.steps_size() == b.steps_size();  // steps only grow
}

void Log(const std::string& line) {
  std::fprintf(stderr, "tempa-coordinator: %s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace

DeployDispatcher::DeployDispatcher(DeployTargets* targets, DeployerClientPtr client,
                                   DeployDispatcherOptions options)
    : targets_(targets), client_(std::move(client)), options_(std::move(options)) {}

DeployDispatcher::~DeployDispatcher() { Stop(); }

void DeployDispatcher::Start() {
  thread_ = std::thread([this] {
    while (true) {
      RunOnce();
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_ || stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&ready), options_.poll_interval);
      if (stopping_) return;
      woken_ = false;
    }
  });
}

void DeployDispatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void DeployDispatcher::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

DeployDispatcher::Stats DeployDispatcher::stats() {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void DeployDispatcher::RunOnce() {
  absl::MutexLock run(&run_mu_);
  absl::StatusOr<std::vector<v1::Deploy>> intents = targets_->UnfinishedDeploys();
  if (!intents.ok()) {
    Log(absl::StrCat("list the unfinished deploys: ", intents.status().message()));
    return;
  }
  std::map<std::string, Tracked> still;
  for (const v1::Deploy& intent : *intents) {
    auto found = tracked_.find(intent.id());
    Tracked tracked;
    if (found != tracked_.end()) {
      tracked = found->second;
    } else {
      tracked.attempts = intent.attempts();
    }
    if (options_.clock() >= tracked.next_try) {
      if (tracked.delivered) {
        Follow(intent, &tracked);
      } else {
        Deliver(intent, &tracked);
      }
    }
    still[intent.id()] = tracked;
  }
  tracked_ = std::move(still);  // finished intents are no longer listed
  absl::MutexLock lock(&mu_);
  stats_.unfinished = static_cast<int>(intents->size());
}

void DeployDispatcher::Deliver(const v1::Deploy& intent, Tracked* tracked) {
  absl::StatusOr<std::map<std::string, std::string>> env = targets_->DeployEnv(intent.app());
  if (!env.ok()) {
    v1::Deploy failed = intent;
    failed.set_status(v1::DEPLOY_FAILED);
    failed.set_reason(absl::IsNotFound(env.status())
                          ? absl::StrCat("app ", intent.app(),
                                         " was deleted before the deploy reached the deployer")
                          : absl::StrCat("read the app's env: ", env.status().message()));
    failed.set_finished_unix_ms(absl::ToUnixMillis(options_.clock()));
    Record(failed);
    return;
  }
  v1::DeployRequest request;
  *request.mutable_deploy() = intent;
  request.mutable_deploy()->clear_reason();
  for (const auto& [name, value] : *env) (*request.mutable_env())[name] = value;
  ++tracked->attempts;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.submits;
  }
  absl::StatusOr<v1::Deploy> seen = client_->Submit(request);
  if (!seen.ok()) {
    Failed(intent, seen.status(), tracked);
    return;
  }
  tracked->delivered = true;
  tracked->failures = 0;
  Apply(intent, *std::move(seen), *tracked);
}

void DeployDispatcher::Follow(const v1::Deploy& intent, Tracked* tracked) {
  absl::StatusOr<v1::Deploy> seen = client_->Get(intent.id());
  if (absl::IsNotFound(seen.status())) {
    // The deployer lost it (its state was reset): deliver it again, same id.
    tracked->delivered = false;
    Deliver(intent, tracked);
    return;
  }
  if (!seen.ok()) {
    Failed(intent, seen.status(), tracked);
    return;
  }
  tracked->failures = 0;
  Apply(intent, *std::move(seen), *tracked);
}

void DeployDispatcher::Apply(const v1::Deploy& intent, v1::Deploy seen, const Tracked& tracked) {
  v1::Deploy update = intent;
  if (seen.status() != v1::DEPLOY_STATUS_UNSPECIFIED && seen.status() != v1::DEPLOY_PENDING) {
    update.set_status(seen.status());
  }
  // While it is still PENDING here, the reason is ours (the last delivery error): cleared now.
  update.set_reason(seen.reason());
  update.set_log_tail(seen.log_tail());
  *update.mutable_urls() = seen.urls();
  *update.mutable_steps() = seen.steps();
  update.set_started_unix_ms(seen.started_unix_ms());
  update.set_finished_unix_ms(seen.finished_unix_ms());
  update.set_attempts(tracked.attempts);
  if (!seen.track().empty()) update.set_track(seen.track());
  if (SameRecord(update, intent)) return;
  if (update.status() != intent.status()) {
    Log(absl::StrCat("deploy ", intent.id(), " of ", intent.app(), " (build ", intent.build_id(),
                     "): ", v1::DeployStatus_Name(update.status()),
                     update.reason().empty() ? "" : ": ", update.reason()));
  }
  Record(update);
}

void DeployDispatcher::Failed(const v1::Deploy& intent, const absl::Status& status,
                              Tracked* tracked) {
  if (Permanent(status)) {
    v1::Deploy failed = intent;
    failed.set_status(v1::DEPLOY_FAILED);
    failed.set_reason(absl::StrCat("the deployer refused the deploy: ", status.message()));
    failed.set_attempts(tracked->attempts);
    failed.set_finished_unix_ms(absl::ToUnixMillis(options_.clock()));
    Log(absl::StrCat("deploy ", intent.id(), " of ", intent.app(), ": ", failed.reason()));
    Record(failed);
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    ++stats_.delivery_failures;
  }
  ++tracked->failures;
  absl::Duration wait = options_.initial_backoff;
  for (int i = 1; i < tracked->failures && wait < options_.max_backoff; ++i) wait *= 2;
  wait = std::min(wait, options_.max_backoff);
  tracked->next_try = options_.clock() + wait;
  Log(absl::StrCat("deploy ", intent.id(), " of ", intent.app(), ": ", status.message(),
                   "; retrying in ", absl::FormatDuration(wait)));
  if (!tracked->delivered) {
    // Still PENDING: the record says how delivery is going.
    v1::Deploy pending = intent;
    pending.set_attempts(tracked->attempts);
    pending.set_reason(
        absl::StrCat("not delivered yet (attempt ", tracked->attempts, "): ", status.message()));
    if (!SameRecord(pending, intent)) Record(pending);
  }
}

void DeployDispatcher::Record(const v1::Deploy& update) {
  absl::Status status = targets_->RecordDeploy(update);
  if (!status.ok()) {
    Log(absl::StrCat("record deploy ", update.id(), ": ", status.message()));
  }
}

}  // namespace tempa::coordinator
