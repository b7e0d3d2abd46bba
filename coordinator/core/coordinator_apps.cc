// Apps: create, read, update, delete; secrets sealed on the way in and never returned.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "coordinator/core/app_rules.h"
#include "coordinator/core/coordinator.h"
#include "coordinator/core/deploy_rules.h"

namespace tempa::coordinator {
namespace {

constexpr size_t kMaxSecretBytes = 64 << 10;
constexpr int kMaxBuildEnv = 256;

absl::Status CheckApp(const v1::App& app) {
  RETURN_IF_ERROR(CheckAppName(app.name()));
  RETURN_IF_ERROR(CheckRepoUrl(app.repo_url()));
  RETURN_IF_ERROR(CheckBranchName(app.branch()));
  RETURN_IF_ERROR(CheckAppPath(app.path()));
  RETURN_IF_ERROR(CheckStartCommand(app.start_command()));
  if (app.build_env_size() > kMaxBuildEnv) {
    return absl::InvalidArgumentError(
        absl::StrCat("an app has at most ", kMaxBuildEnv, " build environment variables"));
  }
  for (const auto& [key, value] : app.build_env()) {
    if (key.empty() || key.size() > 256 || key.find('=') != std::string::npos ||
        key.find('\0') != std::string::npos || value.size() > 32768 ||
        value.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "build env \"", key.substr(0, 64), "\" is not a NAME=VALUE pair a process can take"));
    }
  }
  if (app.max_concurrent_builds() < 0 || app.max_concurrent_builds() > 1000) {
    return absl::InvalidArgumentError("max concurrent builds must be between 0 and 1000");
  }
  if (app.poll_interval_seconds() < 0 ||
      (app.poll_interval_seconds() > 0 && app.poll_interval_seconds() < 10)) {
    return absl::InvalidArgumentError(
        "poll interval must be 0 (webhooks only) or at least 10 seconds");
  }
  return absl::OkStatus();
}

bool HasCredentials(const v1::GitCredentials& c) {
  return !c.https_token().empty() || !c.ssh_private_key().empty();
}

}  // namespace

absl::Status Coordinator::StageSecrets(const std::string& app, const std::string* webhook_secret,
                                       const v1::GitCredentials* credentials, StateBatch* batch,
                                       v1::App* record) {
  auto seal = [&](absl::string_view kind, absl::string_view plain) -> absl::Status {
    if (sealer_ == nullptr) {
      return absl::FailedPreconditionError(
          "this coordinator stores no secrets: start it with --secret-key-file F");
    }
    if (plain.size() > kMaxSecretBytes) {
      return absl::InvalidArgumentError(absl::StrCat(kind, " is larger than 64 KiB"));
    }
    ASSIGN_OR_RETURN(std::string sealed, sealer_->Seal(plain, SecretRecord(app, kind)));
    batch->PutSecret(app, kind, sealed);
    return absl::OkStatus();
  };
  if (webhook_secret != nullptr) {
    if (webhook_secret->empty()) {
      batch->DeleteSecret(app, kWebhookSecret);
      record->set_has_webhook_secret(false);
    } else {
      RETURN_IF_ERROR(seal(kWebhookSecret, *webhook_secret));
      record->set_has_webhook_secret(true);
    }
  }
  if (credentials != nullptr) {
    if (!HasCredentials(*credentials)) {
      batch->DeleteSecret(app, kGitCredentials);
      record->set_has_git_credentials(false);
    } else {
      if (!credentials->ssh_private_key().empty() && credentials->ssh_known_hosts().empty()) {
        return absl::InvalidArgumentError(
            "an SSH key needs known hosts too: pass --ssh-known-hosts-file F (ssh-keyscan HOST)");
      }
      RETURN_IF_ERROR(seal(kGitCredentials, credentials->SerializeAsString()));
      record->set_has_git_credentials(true);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> Coordinator::OpenSecret(const std::string& app,
                                                                   absl::string_view kind) {
  ASSIGN_OR_RETURN(std::optional<std::string> sealed, store_->GetSecret(app, kind));
  if (!sealed) return std::optional<std::string>();
  if (sealer_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "app ", app, " has a sealed ", kind, " but no key was given: pass --secret-key-file F"));
  }
  absl::StatusOr<std::string> plain = sealer_->Open(*sealed, SecretRecord(app, kind));
  if (!plain.ok()) {
    return Annotate(plain.status(), absl::StrCat("open the ", kind, " of app ", app,
                                                 " (was the secret key file changed?)"));
  }
  return std::optional<std::string>(*std::move(plain));
}

absl::StatusOr<v1::App> Coordinator::CreateApp(const v1::CreateAppRequest& request) {
  v1::App app = request.app();
  if (app.branch().empty()) app.set_branch("main");
  app.set_has_webhook_secret(false);
  app.set_has_git_credentials(false);
  app.clear_last_poll_error();              // the coordinator's to set
  app.mutable_deploy()->clear_env_names();  // set with UpdateApp's deploy_env
  RETURN_IF_ERROR(CheckApp(app));
  RETURN_IF_ERROR(CheckDeploySettings(app.deploy()));
  std::shared_ptr<absl::Notification> durable;
  {
    absl::MutexLock lock(&mu_);
    if (apps_.count(app.name()) != 0) {
      return absl::AlreadyExistsError(absl::StrCat(
          "app ", app.name(), " exists: change it with `tempa apps update ", app.name(), "`"));
    }
    int64_t now = absl::ToUnixMillis(clock_());
    app.set_created_unix_ms(now);
    app.set_updated_unix_ms(now);
    std::unique_ptr<StateBatch> batch = store_->NewBatch();
    RETURN_IF_ERROR(StageSecrets(
        app.name(), request.webhook_secret().empty() ? nullptr : &request.webhook_secret(),
        request.has_git_credentials() ? &request.git_credentials() : nullptr, batch.get(), &app));
    batch->PutApp(app);
    apps_[app.name()] = app;
    scheduler_.PutApp(app);
    durable = PersistLocked({}, std::move(batch));
  }
  durable->WaitForNotification();
  return app;
}

absl::StatusOr<v1::App> Coordinator::GetApp(const std::string& name) {
  absl::MutexLock lock(&mu_);
  return AppLocked(name);
}

absl::StatusOr<std::vector<v1::App>> Coordinator::ListApps() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::App> apps;
  for (const auto& [name, app] : apps_) apps.push_back(app);
  return apps;
}

absl::StatusOr<v1::App> Coordinator::UpdateApp(const v1::UpdateAppRequest& request) {
  if (request.update_mask().empty()) {
    return absl::InvalidArgumentError("nothing to update: name at least one field to change");
  }
  std::shared_ptr<absl::Notification> durable;
  v1::App app;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(app, AppLocked(request.app().name()));
    const v1::App& in = request.app();
    const std::string* webhook_secret = nullptr;
    const v1::GitCredentials* credentials = nullptr;
    bool deploy_env = false;
    for (const std::string& field : request.update_mask()) {
      if (field == "repo_url") {
        app.set_repo_url(in.repo_url());
      } else if (field == "branch") {
        app.set_branch(in.branch().empty() ? "main" : in.branch());
      } else if (field == "path") {
        app.set_path(in.path());
      } else if (field == "build_env") {
        *app.mutable_build_env() = in.build_env();
      } else if (field == "start_command") {
        app.set_start_command(in.start_command());
      } else if (field == "max_concurrent_builds") {
        app.set_max_concurrent_builds(in.max_concurrent_builds());
      } else if (field == "poll_interval_seconds") {
        app.set_poll_interval_seconds(in.poll_interval_seconds());
      } else if (field == "webhook_secret") {
        webhook_secret = &request.webhook_secret();
      } else if (field == "git_credentials") {
        credentials = &request.git_credentials();
      } else if (field == "deploy.memory_bytes") {
        app.mutable_deploy()->set_memory_bytes(in.deploy().memory_bytes());
      } else if (field == "deploy.cpu_millis") {
        app.mutable_deploy()->set_cpu_millis(in.deploy().cpu_millis());
      } else if (field == "deploy.replicas") {
        app.mutable_deploy()->set_replicas(in.deploy().replicas());
      } else if (field == "deploy.max_replicas") {
        app.mutable_deploy()->set_max_replicas(in.deploy().max_replicas());
      } else if (field == "deploy.health_path") {
        app.mutable_deploy()->set_health_path(in.deploy().health_path());
      } else if (field == "deploy.port") {
        app.mutable_deploy()->set_port(in.deploy().port());
      } else if (field == "deploy_env") {
        deploy_env = true;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "cannot update \"", field.substr(0, 64),
            "\": the fields are repo_url, branch, path, build_env, start_command, "
            "max_concurrent_builds, "
            "poll_interval_seconds, webhook_secret, git_credentials, deploy.memory_bytes, "
            "deploy.cpu_millis, deploy.replicas, deploy.max_replicas, deploy.health_path, "
            "deploy.port, deploy_env"));
      }
    }
    RETURN_IF_ERROR(CheckApp(app));
    RETURN_IF_ERROR(CheckDeploySettings(app.deploy()));
    for (const std::string& field : request.update_mask()) {
      // What the last poll failed at may be fixed now; the next poll says.
      if (field == "repo_url" || field == "branch" || field == "poll_interval_seconds" ||
          field == "git_credentials") {
        app.clear_last_poll_error();
      }
    }
    app.set_updated_unix_ms(absl::ToUnixMillis(clock_()));
    std::unique_ptr<StateBatch> batch = store_->NewBatch();
    RETURN_IF_ERROR(StageSecrets(app.name(), webhook_secret, credentials, batch.get(), &app));
    if (deploy_env) {
      RETURN_IF_ERROR(StageDeployEnv(app.name(), request.deploy_env(), batch.get(), &app));
    }
    batch->PutApp(app);
    apps_[app.name()] = app;
    scheduler_.PutApp(app);
    durable = PersistLocked({}, std::move(batch));
  }
  durable->WaitForNotification();
  return app;
}

absl::Status Coordinator::DeleteApp(const std::string& name) {
  std::shared_ptr<absl::Notification> durable;
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(AppLocked(name).status());
    // Its unfinished builds end now: nothing may build an app that no longer exists.
    BuildChanges changes;
    absl::Time now = clock_();
    for (const std::string& id : scheduler_.UnfinishedOf(name)) {
      scheduler_.Cancel(id, now, &changes);
    }
    std::unique_ptr<StateBatch> batch = store_->NewBatch();
    batch->DeleteApp(name);
    apps_.erase(name);
    scheduler_.RemoveApp(name);
    durable = PersistLocked(std::move(changes), std::move(batch));
  }
  durable->WaitForNotification();
  return absl::OkStatus();
}

}  // namespace tempa::coordinator
