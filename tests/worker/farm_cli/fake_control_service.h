// A ControlService fake for the CLI's tests: apps and builds in memory, every request and its
// authorization metadata recorded, optional token check and scripted WatchBuild streams. Served
// on 127.0.0.1, port 0, by FakeCoordinator.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "tempa/v1/control.grpc.pb.h"

namespace tempa::testing {

// One WatchBuild answer: these lines, then (after `before_final` returns) `final_build`, which
// may be unset to end the stream early, as a restarting coordinator would.
struct WatchScript {
  std::vector<std::string> lines;  // sent after `first` (when set)
  int64_t first_line_number = 0;
  std::optional<tempa::v1::Build> final_build;
  std::function<void()> before_final;
  std::optional<tempa::v1::Build> first;  // the build as it stood when the watch began
};

class FakeControlService final : public tempa::v1::ControlService::Service {
 public:
  // Calls whose authorization metadata is not "Bearer <token>" are refused UNAUTHENTICATED.
  void RequireToken(const std::string& token);
  // Calls that change something are refused PERMISSION_DENIED (a read-only token).
  void RefuseWrites();
  void PutApp(const tempa::v1::App& app);
  void PutBuild(const tempa::v1::Build& build, const std::vector<std::string>& log = {});
  void PutWorker(const tempa::v1::Worker& worker);
  // A deploy ListDeploys answers (newest put first).
  void PutDeploy(const tempa::v1::Deploy& deploy);
  // Answers of the next WatchBuild calls, in order (after them: the stored build and its log).
  void AddWatchScript(WatchScript script);

  std::vector<std::string> authorizations() const;  // of every call so far
  std::vector<std::string> methods() const;         // "CreateApp", ... in call order
  std::optional<tempa::v1::CreateAppRequest> last_create() const;
  std::optional<tempa::v1::UpdateAppRequest> last_update() const;
  std::optional<tempa::v1::TriggerBuildRequest> last_trigger() const;
  std::optional<tempa::v1::ListBuildsRequest> last_list_builds() const;
  std::vector<tempa::v1::WatchBuildRequest> watch_requests() const;
  std::optional<tempa::v1::App> app(const std::string& name) const;
  std::optional<tempa::v1::ListDeploysRequest> last_list_deploys() const;
  std::optional<tempa::v1::RollbackAppRequest> last_rollback() const;

  grpc::Status CreateApp(grpc::ServerContext* context, const tempa::v1::CreateAppRequest* request,
                         tempa::v1::App* response) override;
  grpc::Status GetApp(grpc::ServerContext* context, const tempa::v1::GetAppRequest* request,
                      tempa::v1::App* response) override;
  grpc::Status ListApps(grpc::ServerContext* context, const tempa::v1::ListAppsRequest* request,
                        tempa::v1::ListAppsResponse* response) override;
  grpc::Status UpdateApp(grpc::ServerContext* context, const tempa::v1::UpdateAppRequest* request,
                         tempa::v1::App* response) override;
  grpc::Status DeleteApp(grpc::ServerContext* context, const tempa::v1::DeleteAppRequest* request,
                         tempa::v1::DeleteAppResponse* response) override;
  grpc::Status TriggerBuild(grpc::ServerContext* context,
                            const tempa::v1::TriggerBuildRequest* request,
                            tempa::v1::Build* response) override;
  grpc::Status GetBuild(grpc::ServerContext* context, const tempa::v1::GetBuildRequest* request,
                        tempa::v1::Build* response) override;
  grpc::Status ListBuilds(grpc::ServerContext* context, const tempa::v1::ListBuildsRequest* request,
                          tempa::v1::ListBuildsResponse* response) override;
  grpc::Status GetBuildLogs(grpc::ServerContext* context,
                            const tempa::v1::GetBuildLogsRequest* request,
                            tempa::v1::GetBuildLogsResponse* response) override;
  grpc::Status WatchBuild(grpc::ServerContext* context, const tempa::v1::WatchBuildRequest* request,
                          grpc::ServerWriter<tempa::v1::BuildEvent>* writer) override;
  grpc::Status CancelBuild(grpc::ServerContext* context,
                           const tempa::v1::CancelBuildRequest* request,
                           tempa::v1::Build* response) override;
  grpc::Status ListWorkers(grpc::ServerContext* context,
                           const tempa::v1::ListWorkersRequest* request,
                           tempa::v1::ListWorkersResponse* response) override;
  grpc::Status ListDeploys(grpc::ServerContext* context,
                           const tempa::v1::ListDeploysRequest* request,
                           tempa::v1::ListDeploysResponse* response) override;
  // A rollback to a build put with PutBuild answers "r-1"; without --to, FailedPrecondition.
  grpc::Status RollbackApp(grpc::ServerContext* context,
                           const tempa::v1::RollbackAppRequest* request,
                           tempa::v1::Deploy* response) override;

 private:
  // Records the call; returns the status that refuses it, or OK.
  grpc::Status Admit(grpc::ServerContext* context, const std::string& method, bool writes);

  mutable absl::Mutex mu_;
  std::optional<std::string> required_token_ ABSL_GUARDED_BY(mu_);
  bool refuse_writes_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, tempa::v1::App> apps_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, tempa::v1::Build> builds_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::string>> logs_ ABSL_GUARDED_BY(mu_);
  std::vector<tempa::v1::Worker> workers_ ABSL_GUARDED_BY(mu_);
  std::vector<WatchScript> watch_scripts_ ABSL_GUARDED_BY(mu_);
  int next_build_ ABSL_GUARDED_BY(mu_) = 100;
  std::vector<std::string> authorizations_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> methods_ ABSL_GUARDED_BY(mu_);
  std::optional<tempa::v1::CreateAppRequest> last_create_ ABSL_GUARDED_BY(mu_);
  std::optional<tempa::v1::UpdateAppRequest> last_update_ ABSL_GUARDED_BY(mu_);
  std::optional<tempa::v1::TriggerBuildRequest> last_trigger_ ABSL_GUARDED_BY(mu_);
  std::optional<tempa::v1::ListBuildsRequest> last_list_builds_ ABSL_GUARDED_BY(mu_);
  std::vector<tempa::v1::WatchBuildRequest> watch_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<tempa::v1::Deploy> deploys_ ABSL_GUARDED_BY(mu_);
  std::optional<tempa::v1::ListDeploysRequest> last_list_deploys_ ABSL_GUARDED_BY(mu_);
  std::optional<tempa::v1::RollbackAppRequest> last_rollback_ ABSL_GUARDED_BY(mu_);
};

// The fake served on 127.0.0.1:<port chosen by the kernel> until destruction, in plaintext or
// with `credentials` (TLS).
class FakeCoordinator {
 public:
  explicit FakeCoordinator(std::shared_ptr<grpc::ServerCredentials> credentials = nullptr);
  ~FakeCoordinator();
  FakeControlService& service() { return service_; }
  std::string address() const;

 private:
  FakeControlService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace tempa::testing
