#include "tests/worker/farm_cli/fake_control_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace tempa::testing {
namespace {

using tempa::v1::App;
using tempa::v1::Build;

bool Finished(tempa::v1::BuildStatus status) {
  return status == tempa::v1::SUCCEEDED || status == tempa::v1::FAILED ||
         status == tempa::v1::CANCELLED || status == tempa::v1::SUPERSEDED;
}

}  // namespace

void FakeControlService::RequireToken(const std::string& token) {
  absl::MutexLock lock(&mu_);
  required_token_ = token;
}

void FakeControlService::RefuseWrites() {
  absl::MutexLock lock(&mu_);
  refuse_writes_ = true;
}

void FakeControlService::PutApp(const App& app) {
  absl::MutexLock lock(&mu_);
  apps_[app.name()] = app;
}

void FakeControlService::PutBuild(const Build& build, const std::vector<std::string>& log) {
  absl::MutexLock lock(&mu_);
  builds_[build.id()] = build;
  logs_[build.id()] = log;
}

void FakeControlService::PutWorker(const tempa::v1::Worker& worker) {
  absl::MutexLock lock(&mu_);
  workers_.push_back(worker);
}

void FakeControlService::AddWatchScript(WatchScript script) {
  absl::MutexLock lock(&mu_);
  watch_scripts_.push_back(std::move(script));
}

std::vector<std::string> FakeControlService::authorizations() const {
  absl::MutexLock lock(&mu_);
  return authorizations_;
}

std::vector<std::string> FakeControlService::methods() const {
  absl::MutexLock lock(&mu_);
  return methods_;
}

std::optional<tempa::v1::CreateAppRequest> FakeControlService::last_create() const {
  absl::MutexLock lock(&mu_);
  return last_create_;
}

std::optional<tempa::v1::UpdateAppRequest> FakeControlService::last_update() const {
  absl::MutexLock lock(&mu_);
  return last_update_;
}

std::optional<tempa::v1::TriggerBuildRequest> FakeControlService::last_trigger() const {
  absl::MutexLock lock(&mu_);
  return last_trigger_;
}

std::optional<tempa::v1::ListBuildsRequest> FakeControlService::last_list_builds() const {
  absl::MutexLock lock(&mu_);
  return last_list_builds_;
}

std::vector<tempa::v1::WatchBuildRequest> FakeControlService::watch_requests() const {
  absl::MutexLock lock(&mu_);
  return watch_requests_;
}

std::optional<App> FakeControlService::app(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = apps_.find(name);
  if (it == apps_.end()) return std::nullopt;
  return it->second;
}

grpc::Status FakeControlService::Admit(grpc::ServerContext* context, const std::string& method,
                                       bool writes) {
  std::string authorization;
  auto [begin, end] = context->client_metadata().equal_range("authorization");
  if (begin != end) authorization = std::string(begin->second.data(), begin->second.size());
  absl::MutexLock lock(&mu_);
  methods_.push_back(method);
  authorizations_.push_back(authorization);
  if (required_token_ && authorization != absl::StrCat("Bearer ", *required_token_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        authorization.empty() ? "missing bearer token" : "unknown token");
  }
  if (writes && refuse_writes_) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "read-only token");
  }
  return grpc::Status::OK;
}

grpc::Status FakeControlService::CreateApp(grpc::ServerContext* context,
                                           const tempa::v1::CreateAppRequest* request,
                                           App* response) {
  if (auto s = Admit(context, "CreateApp", true); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  last_create_ = *request;
  const std::string& name = request->app().name();
  if (apps_.count(name)) return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "exists");
  App app = request->app();
  if (app.branch().empty()) app.set_branch("main");
  app.set_has_webhook_secret(!request->webhook_secret().empty());
  app.set_has_git_credentials(request->has_git_credentials());
  app.set_created_unix_ms(absl::ToUnixMillis(absl::Now()));
  app.set_updated_unix_ms(app.created_unix_ms());
  apps_[name] = app;
  *response = app;
  return grpc::Status::OK;
}

grpc::Status FakeControlService::GetApp(grpc::ServerContext* context,
                                        const tempa::v1::GetAppRequest* request, App* response) {
  if (auto s = Admit(context, "GetApp", false); !s.ok()) return s;
  if (request->name() == "slow") {  // answers only once the caller gave up
    while (!context->IsCancelled()) absl::SleepFor(absl::Milliseconds(10));
    return grpc::Status(grpc::StatusCode::CANCELLED, "caller gone");
  }
  absl::MutexLock lock(&mu_);
  auto it = apps_.find(request->name());
  if (it == apps_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such app");
  *response = it->second;
  return grpc::Status::OK;
}

grpc::Status FakeControlService::ListApps(grpc::ServerContext* context,
                                          const tempa::v1::ListAppsRequest*,
                                          tempa::v1::ListAppsResponse* response) {
  if (auto s = Admit(context, "ListApps", false); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, app] : apps_) *response->add_apps() = app;
  return grpc::Status::OK;
}

grpc::Status FakeControlService::UpdateApp(grpc::ServerContext* context,
                                           const tempa::v1::UpdateAppRequest* request,
                                           App* response) {
  if (auto s = Admit(context, "UpdateApp", true); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  last_update_ = *request;
  auto it = apps_.find(request->app().name());
  if (it == apps_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such app");
  App& app = it->second;
  const App& in = request->app();
  for (const std::string& field : request->update_mask()) {
    if (field == "repo_url") {
      app.set_repo_url(in.repo_url());
    } else if (field == "branch") {
      app.set_branch(in.branch());
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
      app.set_has_webhook_secret(!request->webhook_secret().empty());
    } else if (field == "git_credentials") {
      app.set_has_git_credentials(!request->git_credentials().https_token().empty() ||
                                  !request->git_credentials().ssh_private_key().empty());
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
      // As the coordinator: only the names come back, sorted (std::map orders them).
      std::map<std::string, std::string> env(request->deploy_env().begin(),
                                             request->deploy_env().end());
      app.mutable_deploy()->clear_env_names();
      for (const auto& [name, value] : env) app.mutable_deploy()->add_env_names(name);
    } else {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("unknown field ", field));
    }
  }
  *response = app;
  return grpc::Status::OK;
}

grpc::Status FakeControlService::DeleteApp(grpc::ServerContext* context,
                                           const tempa::v1::DeleteAppRequest* request,
                                           tempa::v1::DeleteAppResponse*) {
  if (auto s = Admit(context, "DeleteApp", true); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (apps_.erase(request->name()) == 0) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such app");
  }
  return grpc::Status::OK;
}

grpc::Status FakeControlService::TriggerBuild(grpc::ServerContext* context,
                                              const tempa::v1::TriggerBuildRequest* request,
                                              Build* response) {
  if (auto s = Admit(context, "TriggerBuild", true); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  last_trigger_ = *request;
  auto app = apps_.find(request->app());
  if (app == apps_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such app");
  Build build;
  build.set_id(absl::StrCat("b-", next_build_++));
  build.set_app(request->app());
  build.set_branch(request->branch().empty() ? app->second.branch() : request->branch());
  build.set_commit(request->commit());
  build.set_status(tempa::v1::QUEUED);
  build.set_trigger(tempa::v1::MANUAL);
  build.set_sequence(next_build_);
  build.set_queued_unix_ms(absl::ToUnixMillis(absl::Now()));
  builds_[build.id()] = build;
  *response = build;
  return grpc::Status::OK;
}

grpc::Status FakeControlService::GetBuild(grpc::ServerContext* context,
                                          const tempa::v1::GetBuildRequest* request,
                                          Build* response) {
  if (auto s = Admit(context, "GetBuild", false); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = builds_.find(request->id());
  if (it == builds_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such build");
  *response = it->second;
  response->set_log_lines(static_cast<int64_t>(logs_[request->id()].size()));
  return grpc::Status::OK;
}

grpc::Status FakeControlService::ListBuilds(grpc::ServerContext* context,
                                            const tempa::v1::ListBuildsRequest* request,
                                            tempa::v1::ListBuildsResponse* response) {
  if (auto s = Admit(context, "ListBuilds", false); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  last_list_builds_ = *request;
  if (!request->app().empty() && !apps_.count(request->app())) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such app");
  }
  std::vector<Build> builds;
  for (const auto& [id, build] : builds_) {
    if (request->app().empty() || build.app() == request->app()) builds.push_back(build);
  }
  std::sort(builds.begin(), builds.end(),
            [](const Build& a, const Build& b) { return a.sequence() > b.sequence(); });
  size_t limit = request->limit() > 0 ? static_cast<size_t>(request->limit()) : 100;
  if (builds.size() > limit) builds.resize(limit);
  for (Build& build : builds) *response->add_builds() = std::move(build);
  return grpc::Status::OK;
}

grpc::Status FakeControlService::GetBuildLogs(grpc::ServerContext* context,
                                              const tempa::v1::GetBuildLogsRequest* request,
                                              tempa::v1::GetBuildLogsResponse* response) {
  if (auto s = Admit(context, "GetBuildLogs", false); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (!builds_.count(request->id())) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such build");
  }
  const std::vector<std::string>& log = logs_[request->id()];
  for (size_t i = static_cast<size_t>(std::max<int64_t>(0, request->from_line())); i < log.size();
       ++i) {
    tempa::v1::LogLine* line = response->add_lines();
    line->set_number(static_cast<int64_t>(i));
    line->set_text(log[i]);
  }
  return grpc::Status::OK;
}

grpc::Status FakeControlService::WatchBuild(grpc::ServerContext* context,
                                            const tempa::v1::WatchBuildRequest* request,
                                            grpc::ServerWriter<tempa::v1::BuildEvent>* writer) {
  if (auto s = Admit(context, "WatchBuild", false); !s.ok()) return s;
  std::optional<WatchScript> script;
  std::optional<Build> stored;
  std::vector<std::string> log;
  {
    absl::MutexLock lock(&mu_);
    watch_requests_.push_back(*request);
    if (!watch_scripts_.empty()) {
      script = std::move(watch_scripts_.front());
      watch_scripts_.erase(watch_scripts_.begin());
    } else if (auto it = builds_.find(request->id()); it != builds_.end()) {
      stored = it->second;
      log = logs_[request->id()];
    } else {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such build");
    }
  }
  tempa::v1::BuildEvent event;
  if (script) {
    if (script->first) {
      *event.mutable_build() = *script->first;
      writer->Write(event);
    }
    for (size_t i = 0; i < script->lines.size(); ++i) {
      event.mutable_log()->set_number(script->first_line_number + static_cast<int64_t>(i));
      event.mutable_log()->set_text(script->lines[i]);
      writer->Write(event);
    }
    if (script->before_final) script->before_final();
    if (script->final_build) {
      *event.mutable_build() = *script->final_build;
      writer->Write(event);
    }
    return grpc::Status::OK;
  }
  *event.mutable_build() = *stored;
  writer->Write(event);
  for (size_t i = static_cast<size_t>(std::max<int64_t>(0, request->from_line())); i < log.size();
       ++i) {
    event.mutable_log()->set_number(static_cast<int64_t>(i));
    event.mutable_log()->set_text(log[i]);
    writer->Write(event);
  }
  if (!Finished(stored->status())) {  // a build nobody runs: wait for the caller to leave
    while (!context->IsCancelled()) absl::SleepFor(absl::Milliseconds(10));
  }
  return grpc::Status::OK;
}

grpc::Status FakeControlService::CancelBuild(grpc::ServerContext* context,
                                             const tempa::v1::CancelBuildRequest* request,
                                             Build* response) {
  if (auto s = Admit(context, "CancelBuild", true); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = builds_.find(request->id());
  if (it == builds_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such build");
  Build& build = it->second;
  if (build.status() == tempa::v1::QUEUED) {
    build.set_status(tempa::v1::CANCELLED);
    build.mutable_error()->set_kind("cancelled");
    build.mutable_error()->set_reason("cancelled by a user");
  } else if (build.status() == tempa::v1::RUNNING) {
    build.set_cancel_requested(true);
  }
  *response = build;
  return grpc::Status::OK;
}

grpc::Status FakeControlService::ListWorkers(grpc::ServerContext* context,
                                             const tempa::v1::ListWorkersRequest*,
                                             tempa::v1::ListWorkersResponse* response) {
  if (auto s = Admit(context, "ListWorkers", false); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  for (const tempa::v1::Worker& worker : workers_) *response->add_workers() = worker;
  return grpc::Status::OK;
}

FakeCoordinator::FakeCoordinator(std::shared_ptr<grpc::ServerCredentials> credentials) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0",
                           credentials ? credentials : grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
}

FakeCoordinator::~FakeCoordinator() { server_->Shutdown(absl::ToChronoTime(absl::Now())); }

std::string FakeCoordinator::address() const { return absl::StrCat("127.0.0.1:", port_); }

}  // namespace tempa::testing
