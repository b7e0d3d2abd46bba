// The core's side of the polling fallback (PollTargets): polled apps, their credentials, a
// polled commit queued once through the delivery dedup, and the app's last poll error.
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/status_macros.h"
#include "coordinator/core/app_rules.h"
#include "coordinator/core/coordinator.h"

namespace tempa::coordinator {
namespace {

// How far back AcceptPoll looks for the branch's newest build.
constexpr int kRecentBuilds = 50;

}  // namespace

std::string PollDeliveryId(absl::string_view app, absl::string_view branch,
                           absl::string_view commit) {
  std::string id = absl::StrCat("poll:", app, ":", branch, ":", commit);
  if (id.size() <= 256) return id;
  // Branch names are up to 255 bytes: hash the branch and commit (":" cannot be in a branch).
  return absl::StrCat("poll:", app, ":", Sha256Of(absl::StrCat(branch, ":", commit)).ToString());
}

absl::StatusOr<std::vector<PolledApp>> Coordinator::PolledApps() {
  absl::MutexLock lock(&mu_);
  std::vector<PolledApp> polled;
  for (const auto& [name, app] : apps_) {
    if (app.poll_interval_seconds() <= 0) continue;
    polled.push_back(
        PolledApp{name, app.repo_url(), app.branch(), absl::Seconds(app.poll_interval_seconds())});
  }
  return polled;
}

absl::StatusOr<std::optional<v1::GitCredentials>> Coordinator::GitCredentialsOf(
    const std::string& app) {
  ASSIGN_OR_RETURN(std::optional<std::string> plain, OpenSecret(app, kGitCredentials));
  if (!plain) return std::optional<v1::GitCredentials>();
  v1::GitCredentials credentials;
  if (!credentials.ParseFromString(*plain)) {
    return absl::DataLossError(
        absl::StrCat("the stored git credentials of app ", app,
                     " do not parse: set them again with `tempa apps update ", app, "`"));
  }
  return std::optional<v1::GitCredentials>(std::move(credentials));
}

absl::StatusOr<PollOutcome> Coordinator::AcceptPoll(const std::string& app,
                                                    const std::string& branch,
                                                    const std::string& commit) {
  std::string lower = absl::AsciiStrToLower(commit);
  if (lower.size() != 40 || !CheckCommitId(lower).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a polled branch head is a full 40-digit commit id, not \"", lower.substr(0, 64), "\""));
  }
  RETURN_IF_ERROR(CheckBranchName(branch));
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(AppLocked(app).status());
  }
  // A head a webhook (or a user) already had built is not built again: the newest build of
  // the branch is of this commit. (Checked before the poll's own record, which it then skips.)
  std::string delivery = PollDeliveryId(app, branch, lower);
  ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> polled, store_->GetDelivery(delivery));
  if (!polled) {
    ASSIGN_OR_RETURN(std::vector<v1::Build> recent, store_->ListBuilds(app, kRecentBuilds));
    for (const v1::Build& build : recent) {
      if (build.branch() != branch) continue;
      if (build.commit() == lower) return PollOutcome{build.id(), false};
      break;
    }
  }
  ASSIGN_OR_RETURN(AcceptedDelivery accepted,
                   AcceptDelivery(delivery, {PushTarget{app, branch, lower}}, v1::POLL));
  PollOutcome outcome;
  outcome.queued_now = accepted.new_delivery && !accepted.builds.empty();
  if (!accepted.builds.empty()) outcome.build_id = accepted.builds.front().build_id;
  return outcome;
}

absl::Status Coordinator::RecordPollError(const std::string& app, const std::string& error) {
  std::shared_ptr<absl::Notification> durable;
  {
    absl::MutexLock lock(&mu_);
    auto it = apps_.find(app);
    if (it == apps_.end()) return absl::NotFoundError(absl::StrCat("no app named ", app));
    if (it->second.last_poll_error() == error) return absl::OkStatus();
    it->second.set_last_poll_error(error);
    std::unique_ptr<StateBatch> batch = store_->NewBatch();
    batch->PutApp(it->second);
    durable = PersistLocked({}, std::move(batch));
  }
  durable->WaitForNotification();
  return absl::OkStatus();
}

}  // namespace tempa::coordinator
