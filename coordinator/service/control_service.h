// tempa.v1.ControlService over the coordinator core: apps, builds, logs, watch, cancel, workers.
// Every handler authorises the caller first; no answer carries a secret.
#pragma once

#include "coordinator/auth/authorizer.h"
#include "coordinator/core/coordinator.h"
#include "tempa/v1/control.grpc.pb.h"

namespace tempa::coordinator {

class ControlServiceImpl final : public v1::ControlService::Service {
 public:
  ControlServiceImpl(Coordinator* coordinator, const auth::Authorizer* authorizer)
      : coordinator_(coordinator), authorizer_(authorizer) {}

  grpc::Status CreateApp(grpc::ServerContext* ctx, const v1::CreateAppRequest* request,
                         v1::App* response) override;
  grpc::Status GetApp(grpc::ServerContext* ctx, const v1::GetAppRequest* request,
                      v1::App* response) override;
  grpc::Status ListApps(grpc::ServerContext* ctx, const v1::ListAppsRequest* request,
                        v1::ListAppsResponse* response) override;
  grpc::Status UpdateApp(grpc::ServerContext* ctx, const v1::UpdateAppRequest* request,
                         v1::App* response) override;
  grpc::Status DeleteApp(grpc::ServerContext* ctx, const v1::DeleteAppRequest* request,
                         v1::DeleteAppResponse* response) override;
  grpc::Status TriggerBuild(grpc::ServerContext* ctx, const v1::TriggerBuildRequest* request,
                            v1::Build* response) override;
  grpc::Status GetBuild(grpc::ServerContext* ctx, const v1::GetBuildRequest* request,
                        v1::Build* response) override;
  grpc::Status ListBuilds(grpc::ServerContext* ctx, const v1::ListBuildsRequest* request,
                          v1::ListBuildsResponse* response) override;
  grpc::Status GetBuildLogs(grpc::ServerContext* ctx, const v1::GetBuildLogsRequest* request,
                            v1::GetBuildLogsResponse* response) override;
  grpc::Status WatchBuild(grpc::ServerContext* ctx, const v1::WatchBuildRequest* request,
                          grpc::ServerWriter<v1::BuildEvent>* writer) override;
  grpc::Status CancelBuild(grpc::ServerContext* ctx, const v1::CancelBuildRequest* request,
                           v1::Build* response) override;
  grpc::Status ListWorkers(grpc::ServerContext* ctx, const v1::ListWorkersRequest* request,
                           v1::ListWorkersResponse* response) override;
  grpc::Status ListDeploys(grpc::ServerContext* ctx, const v1::ListDeploysRequest* request,
                           v1::ListDeploysResponse* response) override;
  grpc::Status RollbackApp(grpc::ServerContext* ctx, const v1::RollbackAppRequest* request,
                           v1::Deploy* response) override;

 private:
  grpc::Status Check(grpc::ServerContext* ctx, absl::string_view method) const;

  Coordinator* coordinator_;
  const auth::Authorizer* authorizer_;
};

}  // namespace tempa::coordinator
