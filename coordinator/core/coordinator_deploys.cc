// Deploys: the intent every SUCCEEDED build gets (in the batch that records its success), the
// app's sealed deploy env, rollbacks, and what the DeployDispatcher reports back.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "coordinator/core/coordinator.h"
#include "coordinator/core/deploy_rules.h"

namespace tempa::coordinator {
namespace {

constexpr int kMaxListedDeploys = 1000;

v1::Deploy IntentFor(const v1::App& app, const v1::Build& build, absl::Time now) {
  v1::Deploy deploy;
  deploy.set_app(build.app());
  deploy.set_build_id(build.id());
  deploy.set_commit(build.commit());
  deploy.set_branch(build.branch());
  deploy.set_image(build.image());
  *deploy.mutable_settings() = app.deploy();
  deploy.set_status(v1::DEPLOY_PENDING);
  deploy.set_created_unix_ms(absl::ToUnixMillis(now));
  return deploy;
}

absl::Status NoDeployer() {
  return absl::FailedPreconditionError(
      "no deployer configured: start tempa-coordinator with --deployer HOST:PORT");
}

}  // namespace

bool Coordinator::StageDeployIntentsLocked(BuildChanges* changes, StateBatch* batch) {
  bool made = false;
  absl::Time now = clock_();
  for (v1::Build& build : *changes) {
    if (build.status() != v1::SUCCEEDED || build.has_deploy() || build.image().empty()) continue;
    auto app = apps_.find(build.app());
    if (app == apps_.end()) continue;  // deleted meanwhile: nothing to deploy it as
    v1::Deploy deploy = IntentFor(app->second, build, now);
    deploy.set_id(absl::StrCat("d-", build.id()));
    deploy.set_production(build.branch() == app->second.branch());
    deploy.set_track(DeployTrack(deploy.production(), build.branch()));
    batch->PutDeploy(deploy);
    *build.mutable_deploy() = deploy;
    made = true;
  }
  return made;
}

absl::Status Coordinator::StageDeployEnv(const std::string& app,
                                         const google::protobuf::Map<std::string, std::string>& env,
                                         StateBatch* batch, v1::App* record) {
  RETURN_IF_ERROR(CheckDeployEnv(env));
  std::vector<std::string> names;
  for (const auto& [name, value] : env) names.push_back(name);
  std::sort(names.begin(), names.end());
  record->mutable_deploy()->clear_env_names();
  for (const std::string& name : names) record->mutable_deploy()->add_env_names(name);
  if (env.empty()) {
    batch->DeleteSecret(app, kDeployEnv);
    return absl::OkStatus();
  }
  if (sealer_ == nullptr) {
    return absl::FailedPreconditionError(
        "this coordinator stores no secrets: start it with --secret-key-file F");
  }
  v1::DeployRequest holder;  // only its env map: the values, sealed together
  *holder.mutable_env() = env;
  ASSIGN_OR_RETURN(std::string sealed,
                   sealer_->Seal(holder.SerializeAsString(), SecretRecord(app, kDeployEnv)));
  batch->PutSecret(app, kDeployEnv, sealed);
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> Coordinator::DeployEnv(const std::string& app) {
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(AppLocked(app).status());
  }
  ASSIGN_OR_RETURN(std::optional<std::string> plain, OpenSecret(app, kDeployEnv));
  std::map<std::string, std::string> env;
  if (!plain) return env;
  v1::DeployRequest holder;
  if (!holder.ParseFromString(*plain)) {
    return absl::DataLossError(absl::StrCat("the sealed deploy env of app ", app,
                                            " does not parse: set it again with `tempa apps set ",
                                            app, " --env K=V`"));
  }
  for (const auto& [name, value] : holder.env()) env[name] = value;
  return env;
}

absl::StatusOr<std::vector<v1::Deploy>> Coordinator::ListDeploys(const std::string& app,
                                                                 int limit) {
  if (limit <= 0) limit = 100;
  return store_->ListDeploys(app, std::min(limit, kMaxListedDeploys));
}

absl::StatusOr<std::vector<v1::Deploy>> Coordinator::UnfinishedDeploys() {
  return store_->ListUnfinishedDeploys();
}

absl::StatusOr<v1::Deploy> Coordinator::RollbackApp(const v1::RollbackAppRequest& request) {
  if (!options_.deployer) return NoDeployer();
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(AppLocked(request.app()).status());
  }
  std::string target = request.to_build_id();
  if (target.empty()) {
    // The production build that was live before the one live now.
    ASSIGN_OR_RETURN(std::vector<v1::Deploy> deploys,
                     store_->ListDeploys(request.app(), kMaxListedDeploys));
    std::string current;
    for (const v1::Deploy& d : deploys) {
      if (!d.production() || d.status() != v1::DEPLOYED) continue;
      if (current.empty()) {
        current = d.build_id();
      } else if (d.build_id() != current) {
        target = d.build_id();
        break;
      }
    }
    if (target.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "app ", request.app(),
          current.empty() ? " has no production deploy yet"
                          : " has no earlier production deploy than the live one (" + current + ")",
          ": name the build to put back with `tempa deploys rollback ", request.app(),
          " --to BUILD_ID` (see `tempa builds list --app ", request.app(), "`)"));
    }
  }
  ASSIGN_OR_RETURN(std::optional<v1::Build> build, store_->GetBuild(target));
  if (!build) {
    return absl::FailedPreconditionError(
        absl::StrCat("no build ", target.substr(0, 64),
                     " to roll back to: see `tempa builds list --app ", request.app(), "`"));
  }
  if (build->app() != request.app()) {
    return absl::FailedPreconditionError(absl::StrCat("build ", build->id(), " is of app ",
                                                      build->app(), ", not of ", request.app()));
  }
  if (build->status() != v1::SUCCEEDED || build->image().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("build ", build->id(), " is ", v1::BuildStatus_Name(build->status()),
                     build->status() == v1::SUCCEEDED ? " without an image" : "",
                     ": only a build that SUCCEEDED (and pushed its image) can go back live"));
  }
  std::shared_ptr<absl::Notification> durable;
  v1::Deploy deploy;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(v1::App app, AppLocked(request.app()));
    deploy = IntentFor(app, *build, clock_());
    deploy.set_id(absl::StrCat("r-", next_rollback_));
    deploy.set_production(true);
    deploy.set_rollback(true);
    deploy.set_track(DeployTrack(true, build->branch()));
    std::unique_ptr<StateBatch> batch = store_->NewBatch();
    batch->PutDeploy(deploy);
    batch->PutCounter(kRollbackCounterName, ++next_rollback_);
    durable = PersistLocked({}, std::move(batch), deploy_waker_);
  }
  durable->WaitForNotification();
  return deploy;
}

absl::Status Coordinator::RecordDeploy(const v1::Deploy& update) {
  std::shared_ptr<absl::Notification> durable;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(std::optional<v1::Deploy> stored, store_->GetDeploy(update.id()));
    if (!stored) {
      return absl::NotFoundError(absl::StrCat("no deploy intent ", update.id().substr(0, 64)));
    }
    if (!DeployUnfinished(stored->status())) return absl::OkStatus();
    v1::Deploy deploy = *stored;
    if (update.status() != v1::DEPLOY_STATUS_UNSPECIFIED) deploy.set_status(update.status());
    deploy.set_reason(update.reason());
    deploy.set_log_tail(update.log_tail());
    *deploy.mutable_urls() = update.urls();
    *deploy.mutable_steps() = update.steps();
    deploy.set_started_unix_ms(update.started_unix_ms());
    deploy.set_finished_unix_ms(update.finished_unix_ms());
    deploy.set_attempts(std::max(deploy.attempts(), update.attempts()));
    if (!update.track().empty()) deploy.set_track(update.track());
    std::unique_ptr<StateBatch> batch = store_->NewBatch();
    batch->PutDeploy(deploy);
    // The build's record says how its image's latest deploy went (the intent is durable, and so
    // is the build's terminal record, written in the same batch or before it).
    ASSIGN_OR_RETURN(std::optional<v1::Build> build, store_->GetBuild(deploy.build_id()));
    if (build && build->status() == v1::SUCCEEDED) {
      *build->mutable_deploy() = deploy;
      batch->PutBuild(*build);
    }
    durable = PersistLocked({}, std::move(batch));
  }
  durable->WaitForNotification();
  return absl::OkStatus();
}

}  // namespace tempa::coordinator
