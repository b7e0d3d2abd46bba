#include "coordinator/service/worker_service.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc/status_conversion.h"
#include "coordinator/auth/method_names.h"
#include "coordinator/service/rpc_reply.h"

namespace tempa::coordinator {
namespace {

// Holds one long-poll. Finish runs exactly once, from the coordinator's callback; a client that
// hangs up first gives its place back (AbandonWait answers the callback with no job).
class LeaseReactor final : public grpc::ServerUnaryReactor {
 public:
  LeaseReactor(Coordinator* coordinator, const v1::LeaseJobRequest* request,
               v1::LeaseJobResponse* response)
      : coordinator_(coordinator), state_(std::make_shared<State>()) {
    std::shared_ptr<State> state = state_;
    uint64_t handle =
        coordinator_->WaitForJob(request->worker_id(), absl::Milliseconds(request->wait_ms()),
                                 [this, response](std::optional<v1::Job> job) {
                                   if (job) *response->mutable_job() = *std::move(job);
                                   Finish(grpc::Status::OK);
                                 });
    absl::MutexLock lock(&state->mu);
    state->handle = handle;
  }

  void OnCancel() override {
    uint64_t handle;
    {
      absl::MutexLock lock(&state_->mu);
      handle = state_->handle;
    }
    if (handle != 0) coordinator_->AbandonWait(handle);
  }
  void OnDone() override { delete this; }

 private:
  // Outlives the reactor when Finish ran before WaitForJob returned.
  struct State {
    absl::Mutex mu;
    uint64_t handle ABSL_GUARDED_BY(mu) = 0;
  };
  Coordinator* coordinator_;
  std::shared_ptr<State> state_;
};

}  // namespace

grpc::Status WorkerServiceImpl::Check(grpc::ServerContextBase* ctx,
                                      absl::string_view method) const {
  return rpc::ToGrpcStatus(authorizer_->Authorize(*ctx, method));
}

grpc::Status WorkerServiceImpl::RegisterWorker(grpc::ServerContext* ctx,
                                               const v1::RegisterWorkerRequest* request,
                                               v1::RegisterWorkerResponse* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kRegisterWorker); !s.ok()) return s;
  return Reply(coordinator_->RegisterWorker(*request), response);
}

grpc::ServerUnaryReactor* WorkerServiceImpl::LeaseJob(grpc::CallbackServerContext* ctx,
                                                      const v1::LeaseJobRequest* request,
                                                      v1::LeaseJobResponse* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kLeaseJob); !s.ok()) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(s);
    return reactor;
  }
  return new LeaseReactor(coordinator_, request, response);
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext* ctx,
                                          const v1::HeartbeatRequest* request,
                                          v1::HeartbeatResponse* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kHeartbeat); !s.ok()) return s;
  return Reply(coordinator_->Heartbeat(*request), response);
}

grpc::Status WorkerServiceImpl::ReportProgress(grpc::ServerContext* ctx,
                                               const v1::ReportProgressRequest* request,
                                               v1::ReportProgressResponse* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kReportProgress); !s.ok()) return s;
  return Reply(coordinator_->ReportProgress(*request), response);
}

grpc::Status WorkerServiceImpl::CompleteJob(grpc::ServerContext* ctx,
                                            const v1::CompleteJobRequest* request,
                                            v1::CompleteJobResponse* response) {
  if (grpc::Status s = Check(ctx, auth::methods::kCompleteJob); !s.ok()) return s;
  return Reply(coordinator_->CompleteJob(*request), response);
}

grpc::Status LayerCacheServiceImpl::FindLayer(grpc::ServerContext* ctx,
                                              const v1::FindLayerRequest* request,
                                              v1::FindLayerResponse* response) {
  if (grpc::Status s = rpc::ToGrpcStatus(authorizer_->Authorize(*ctx, auth::methods::kFindLayer));
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::optional<v1::LayerCacheEntry>> entry =
      coordinator_->FindLayer(request->key());
  if (!entry.ok()) return rpc::ToGrpcStatus(entry.status());
  if (*entry) {
    response->set_found(true);
    *response->mutable_entry() = **entry;
  }
  return grpc::Status::OK;
}

grpc::Status LayerCacheServiceImpl::PutLayer(grpc::ServerContext* ctx,
                                             const v1::PutLayerRequest* request,
                                             v1::PutLayerResponse* response) {
  if (grpc::Status s = rpc::ToGrpcStatus(authorizer_->Authorize(*ctx, auth::methods::kPutLayer));
      !s.ok()) {
    return s;
  }
  return rpc::ToGrpcStatus(coordinator_->PutLayer(request->entry()));
}

}  // namespace tempa::coordinator
