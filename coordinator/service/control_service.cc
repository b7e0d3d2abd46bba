#include "coordinator/service/control_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/status_conversion.h"
#include "coordinator/auth/method_names.h"
#include "coordinator/service/rpc_reply.h"

namespace tempa::coordinator {
namespace {

bool Finished(v1::BuildStatus status) { return status != v1::QUEUED && status != v1::RUNNING; }

}  // namespace

grpc::Status ControlServiceImpl::Check(grpc::ServerContext* ctx, absl::string_view method) const {
  return rpc::ToGrpcStatus(authorizer_->Authorize(*ctx, method));
}

grpc::Status ControlServiceImpl::CreateApp(grpc::ServerContext* ctx,
                                           const v1::CreateAppRequest* request, v1::App* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kCreateApp); !s.ok()) return s;
  return Reply(coordinator_->CreateApp(*request), response);
}

grpc::Status ControlServiceImpl::GetApp(grpc::ServerContext* ctx, const v1::GetAppRequest* request,
                                        v1::App* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kGetApp); !s.ok()) return s;
  return Reply(coordinator_->GetApp(request->name()), response);
}

grpc::Status ControlServiceImpl::ListApps(grpc::ServerContext* ctx,
                                          const v1::ListAppsRequest* request,
                                          v1::ListAppsResponse* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kListApps); !s.ok()) return s;
  return ReplyList(coordinator_->ListApps(), response->mutable_apps());
}

grpc::Status ControlServiceImpl::UpdateApp(grpc::ServerContext* ctx,
                                           const v1::UpdateAppRequest* request, v1::App* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kUpdateApp); !s.ok()) return s;
  return Reply(coordinator_->UpdateApp(*request), response);
}

grpc::Status ControlServiceImpl::DeleteApp(grpc::ServerContext* ctx,
                                           const v1::DeleteAppRequest* request,
                                           v1::DeleteAppResponse* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kDeleteApp); !s.ok()) return s;
  return rpc::ToGrpcStatus(coordinator_->DeleteApp(request->name()));
}

grpc::Status ControlServiceImpl::TriggerBuild(grpc::ServerContext* ctx,
                                              const v1::TriggerBuildRequest* request,
                                              v1::Build* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kTriggerBuild); !s.ok()) return s;
  return Reply(coordinator_->TriggerBuild(*request), response);
}

grpc::Status ControlServiceImpl::GetBuild(grpc::ServerContext* ctx,
                                          const v1::GetBuildRequest* request, v1::Build* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kGetBuild); !s.ok()) return s;
  return Reply(coordinator_->GetBuild(request->id()), response);
}

grpc::Status ControlServiceImpl::ListBuilds(grpc::ServerContext* ctx,
                                            const v1::ListBuildsRequest* request,
                                            v1::ListBuildsResponse* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kListBuilds); !s.ok()) return s;
  return ReplyList(coordinator_->ListBuilds(request->app(), request->limit()),
                   response->mutable_builds());
}

grpc::Status ControlServiceImpl::GetBuildLogs(grpc::ServerContext* ctx,
                                              const v1::GetBuildLogsRequest* request,
                                              v1::GetBuildLogsResponse* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kGetBuildLogs); !s.ok()) return s;
  return ReplyList(coordinator_->ReadLogs(request->id(), request->from_line(), request->limit()),
                   response->mutable_lines());
}

grpc::Status ControlServiceImpl::WatchBuild(grpc::ServerContext* ctx,
                                            const v1::WatchBuildRequest* request,
                                            grpc::ServerWriter<v1::BuildEvent>* writer) {
  if (grpc::Status s = Check(ctx, auth::methods::kWatchBuild); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<BuildSubscription>> subscription =
      coordinator_->Watch(request->id());
  if (!subscription.ok()) return rpc::ToGrpcStatus(subscription.status());
  absl::StatusOr<v1::Build> build = coordinator_->GetBuild(request->id());
  if (!build.ok()) return rpc::ToGrpcStatus(build.status());
  v1::BuildEvent first;
  *first.mutable_build() = *build;
  if (!writer->Write(first)) return grpc::Status::OK;
  // Stored lines first, then live ones; a line is sent once, in order, whichever path it came by.
  int64_t next_line = std::max<int64_t>(request->from_line(), 0);
  bool finished = Finished(build->status());
  while (true) {
    absl::StatusOr<std::vector<v1::LogLine>> stored =
        coordinator_->ReadLogs(request->id(), next_line, 0);
    if (!stored.ok()) return rpc::ToGrpcStatus(stored.status());
    if (stored->empty()) break;
    for (v1::LogLine& line : *stored) {
      next_line = line.number() + 1;
      v1::BuildEvent event;
      *event.mutable_log() = std::move(line);
      if (!writer->Write(event)) return grpc::Status::OK;
    }
  }
  if (finished) return grpc::Status::OK;
  while (!ctx->IsCancelled()) {
    for (v1::BuildEvent& event : (*subscription)->Next(absl::Seconds(1))) {
      if (event.has_log()) {
        if (event.log().number() < next_line) continue;
        next_line = event.log().number() + 1;
      }
      bool last = event.has_build() && Finished(event.build().status());
      if (!writer->Write(event)) return grpc::Status::OK;
      if (last) {
        // Lines made durable with the result may still be on their way: send what is stored.
        absl::StatusOr<std::vector<v1::LogLine>> rest =
            coordinator_->ReadLogs(request->id(), next_line, 0);
        if (rest.ok()) {
          for (v1::LogLine& line : *rest) {
            v1::BuildEvent tail;
            *tail.mutable_log() = std::move(line);
            writer->Write(tail);
          }
        }
        return grpc::Status::OK;
      }
    }
    if ((*subscription)->fell_behind()) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("the watch fell behind the build's output; watch again "
                                       "from line ",
                                       next_line));
    }
  }
  return grpc::Status::OK;
}

grpc::Status ControlServiceImpl::CancelBuild(grpc::ServerContext* ctx,
                                             const v1::CancelBuildRequest* request,
                                             v1::Build* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kCancelBuild); !s.ok()) return s;
  return Reply(coordinator_->CancelBuild(request->id()), response);
}

grpc::Status ControlServiceImpl::ListWorkers(grpc::ServerContext* ctx,
                                             const v1::ListWorkersRequest* request,
                                             v1::ListWorkersResponse* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kListWorkers); !s.ok()) return s;
  for (v1::Worker& worker : coordinator_->ListWorkers())
    *response->add_workers() = std::move(worker);
  return grpc::Status::OK;
}

grpc::Status ControlServiceImpl::ListDeploys(grpc::ServerContext* ctx,
                                             const v1::ListDeploysRequest* request,
                                             v1::ListDeploysResponse* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kListDeploys); !s.ok()) return s;
  return ReplyList(coordinator_->ListDeploys(request->app(), request->limit()),
                   response->mutable_deploys());
}

grpc::Status ControlServiceImpl::RollbackApp(grpc::ServerContext* ctx,
                                             const v1::RollbackAppRequest* request,
                                             v1::Deploy* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kRollbackApp); !s.ok()) return s;
  return Reply(coordinator_->RollbackApp(*request), response);
}

}  // namespace tempa::coordinator
