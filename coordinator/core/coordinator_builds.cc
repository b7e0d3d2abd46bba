// Builds as users and webhooks see them: trigger, read, list, logs, cancel, watch; and the
// webhook receiver's targets (apps by repository, deliveries accepted exactly once).
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "coordinator/core/app_rules.h"
#include "coordinator/core/coordinator.h"
#include "coordinator/webhook/github_webhook.h"

namespace tempa::coordinator {
namespace {

constexpr int kMaxListedBuilds = 1000;
constexpr int kMaxLogLinesPerRead = 10000;

}  // namespace

v1::Build Coordinator::NewBuildLocked(const v1::App& app, const std::string& branch,
                                      const std::string& commit, v1::BuildTrigger trigger,
                                      const std::string& delivery_id, absl::Time now,
                                      BuildChanges* changes, StateBatch* batch) {
  uint64_t sequence = next_sequence_++;
  batch->PutCounter(std::string(kSequenceCounterName), next_sequence_);
  v1::Build build;
  build.set_id(BuildIdFor(sequence));
  build.set_sequence(sequence);
  build.set_app(app.name());
  build.set_branch(branch);
  build.set_commit(absl::AsciiStrToLower(commit));
  build.set_status(v1::QUEUED);
  build.set_trigger(trigger);
  build.set_delivery_id(delivery_id);
  build.set_queued_unix_ms(absl::ToUnixMillis(now));
  log_lines_[build.id()] = 0;
  queued_at_[build.id()] = now;
  BuildChanges submitted = scheduler_.Submit(build, now);
  for (v1::Build& changed : submitted) {
    if (changed.id() == build.id()) build = changed;
    changes->push_back(std::move(changed));
  }
  return build;
}

absl::StatusOr<v1::Build> Coordinator::TriggerBuild(const v1::TriggerBuildRequest& request) {
  if (!request.commit().empty()) RETURN_IF_ERROR(CheckCommitId(request.commit()));
  if (!request.branch().empty()) RETURN_IF_ERROR(CheckBranchName(request.branch()));
  std::shared_ptr<absl::Notification> durable;
  v1::Build build;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(v1::App app, AppLocked(request.app()));
    absl::Time now = clock_();
    BuildChanges changes;
    std::unique_ptr<StateBatch> batch = store_->NewBatch();
    build = NewBuildLocked(app, request.branch().empty() ? app.branch() : request.branch(),
                           request.commit(), v1::MANUAL, "", now, &changes, batch.get());
    durable = PersistLocked(std::move(changes), std::move(batch));
    DispatchLocked(now);
  }
  durable->WaitForNotification();
  return build;
}

absl::StatusOr<v1::Build> Coordinator::GetBuild(const std::string& id) {
  ASSIGN_OR_RETURN(std::optional<v1::Build> build, store_->GetBuild(id));
  if (!build) {
    return absl::NotFoundError(
        absl::StrCat("no build ", id.substr(0, 64), ": see `tempa builds list`"));
  }
  absl::MutexLock lock(&mu_);
  auto lines = log_lines_.find(id);
  if (lines != log_lines_.end()) build->set_log_lines(lines->second);
  return *std::move(build);
}

absl::StatusOr<std::vector<v1::Build>> Coordinator::ListBuilds(const std::string& app, int limit) {
  if (limit <= 0) limit = 100;
  return store_->ListBuilds(app, std::min(limit, kMaxListedBuilds));
}

absl::StatusOr<std::vector<v1::LogLine>> Coordinator::ReadLogs(const std::string& id,
                                                               int64_t from_line, int limit) {
  RETURN_IF_ERROR(GetBuild(id).status());
  if (limit <= 0 || limit > kMaxLogLinesPerRead) limit = kMaxLogLinesPerRead;
  return store_->ReadLog(id, std::max<int64_t>(from_line, 0), limit);
}

absl::StatusOr<v1::Build> Coordinator::CancelBuild(const std::string& id) {
  std::shared_ptr<absl::Notification> durable;
  {
    absl::MutexLock lock(&mu_);
    BuildChanges changes;
    scheduler_.Cancel(id, clock_(), &changes);
    durable = PersistLocked(std::move(changes), nullptr);
  }
  durable->WaitForNotification();
  return GetBuild(id);
}

absl::StatusOr<std::shared_ptr<BuildSubscription>> Coordinator::Watch(const std::string& id) {
  // Subscribe first: a change made after this is published to us, one made before is stored.
  std::shared_ptr<BuildSubscription> subscription = events_.Subscribe(id);
  RETURN_IF_ERROR(GetBuild(id).status());
  return subscription;
}

absl::StatusOr<std::vector<WebhookApp>> Coordinator::AppsForRepository(
    const std::vector<std::string>& urls) {
  std::vector<v1::App> matching;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, app] : apps_) {
      for (const std::string& url : urls) {
        if (!url.empty() && RepoUrlsMatch(app.repo_url(), url)) {
          matching.push_back(app);
          break;
        }
      }
    }
  }
  std::vector<WebhookApp> targets;
  for (const v1::App& app : matching) {
    WebhookApp target;
    target.name = app.name();
    target.branch = app.branch();
    ASSIGN_OR_RETURN(target.secret, OpenSecret(app.name(), kWebhookSecret));
    targets.push_back(std::move(target));
  }
  return targets;
}

absl::StatusOr<std::optional<std::vector<AcceptedBuild>>> Coordinator::FindDelivery(
    absl::string_view delivery_id) {
  std::vector<std::string> ids;
  std::shared_ptr<absl::Notification> durable;
  {
    absl::MutexLock lock(&mu_);
    auto pending = pending_deliveries_.find(std::string(delivery_id));
    if (pending != pending_deliveries_.end()) {
      ids = pending->second.build_ids;
      durable = pending->second.durable;
    } else {
      ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> stored,
                       store_->GetDelivery(delivery_id));
      if (!stored) return std::optional<std::vector<AcceptedBuild>>();
      ids = *std::move(stored);
    }
  }
  if (durable != nullptr) durable->WaitForNotification();
  std::vector<AcceptedBuild> builds;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(std::optional<v1::Build> build, store_->GetBuild(id));
    builds.push_back(AcceptedBuild{build ? build->app() : "", id});
  }
  return std::optional<std::vector<AcceptedBuild>>(std::move(builds));
}

absl::StatusOr<std::vector<AcceptedBuild>> Coordinator::AcceptPush(
    absl::string_view delivery_id, const std::vector<PushTarget>& targets) {
  ASSIGN_OR_RETURN(AcceptedDelivery accepted, AcceptDelivery(delivery_id, targets, v1::WEBHOOK));
  return std::move(accepted.builds);
}

absl::StatusOr<Coordinator::AcceptedDelivery> Coordinator::AcceptDelivery(
    absl::string_view delivery_id, const std::vector<PushTarget>& targets,
    v1::BuildTrigger trigger) {
  if (delivery_id.empty() || delivery_id.size() > 256) {
    return absl::InvalidArgumentError("a delivery id is 1-256 characters");
  }
  std::string delivery(delivery_id);
  std::shared_ptr<absl::Notification> durable;
  std::vector<AcceptedBuild> accepted;
  {
    absl::MutexLock lock(&mu_);
    bool known = pending_deliveries_.count(delivery) != 0;
    if (!known) {
      ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> stored,
                       store_->GetDelivery(delivery));
      known = stored.has_value();
    }
    if (known) {
      mu_.Unlock();
      absl::StatusOr<std::optional<std::vector<AcceptedBuild>>> earlier = FindDelivery(delivery);
      mu_.Lock();
      if (!earlier.ok()) return earlier.status();
      return AcceptedDelivery{earlier->value_or(std::vector<AcceptedBuild>()), false};
    }
    // Every target is checked before any build is made: a refusal must leave memory as it was.
    for (const PushTarget& target : targets) {
      if (!CheckCommitId(target.commit).ok() || !CheckBranchName(target.branch).ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("push to ", target.app, " names no valid branch and commit"));
      }
    }
    absl::Time now = clock_();
    BuildChanges changes;
    std::unique_ptr<StateBatch> batch = store_->NewBatch();
    std::vector<std::string> ids;
    for (const PushTarget& target : targets) {
      auto app = apps_.find(target.app);
      if (app == apps_.end()) continue;  // deleted since the handler matched it
      v1::Build build = NewBuildLocked(app->second, target.branch, target.commit, trigger, delivery,
                                       now, &changes, batch.get());
      ids.push_back(build.id());
      accepted.push_back(AcceptedBuild{target.app, build.id()});
    }
    batch->PutDelivery(delivery, ids, absl::ToUnixMillis(now));
    durable = PersistLocked(std::move(changes), std::move(batch));
    pending_deliveries_[delivery] = PendingDelivery{ids, durable};
    DispatchLocked(now);
  }
  durable->WaitForNotification();
  absl::MutexLock lock(&mu_);
  pending_deliveries_.erase(delivery);
  return AcceptedDelivery{std::move(accepted), true};
}

}  // namespace tempa::coordinator
