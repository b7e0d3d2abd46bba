// tempa.v1.WorkerService and tempa.v1.LayerCacheService over the coordinator core. LeaseJob is
// a callback-API long-poll (a thousand idle workers hold no thread); the other calls are short
// and synchronous.
#pragma once

#include "coordinator/auth/authorizer.h"
#include "coordinator/core/coordinator.h"
#include "tempa/v1/layer_cache.grpc.pb.h"
#include "tempa/v1/worker.grpc.pb.h"

namespace tempa::coordinator {

class WorkerServiceImpl final
    : public v1::WorkerService::WithCallbackMethod_LeaseJob<v1::WorkerService::Service> {
 public:
  WorkerServiceImpl(Coordinator* coordinator, const auth::Authorizer* authorizer)
      : coordinator_(coordinator), authorizer_(authorizer) {}

  grpc::Status RegisterWorker(grpc::ServerContext* ctx, const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override;
  grpc::ServerUnaryReactor* LeaseJob(grpc::CallbackServerContext* ctx,
                                     const v1::LeaseJobRequest* request,
                                     v1::LeaseJobResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override;
  grpc::Status ReportProgress(grpc::ServerContext* ctx, const v1::ReportProgressRequest* request,
                              v1::ReportProgressResponse* response) override;
  grpc::Status CompleteJob(grpc::ServerContext* ctx, const v1::CompleteJobRequest* request,
                           v1::CompleteJobResponse* response) override;

 private:
  grpc::Status Check(grpc::ServerContextBase* ctx, absl::string_view method) const;

  Coordinator* coordinator_;
  const auth::Authorizer* authorizer_;
};

class LayerCacheServiceImpl final : public v1::LayerCacheService::Service {
 public:
  LayerCacheServiceImpl(Coordinator* coordinator, const auth::Authorizer* authorizer)
      : coordinator_(coordinator), authorizer_(authorizer) {}

  grpc::Status FindLayer(grpc::ServerContext* ctx, const v1::FindLayerRequest* request,
                         v1::FindLayerResponse* response) override;
  grpc::Status PutLayer(grpc::ServerContext* ctx, const v1::PutLayerRequest* request,
                        v1::PutLayerResponse* response) override;

 private:
  Coordinator* coordinator_;
  const auth::Authorizer* authorizer_;
};

}  // namespace tempa::coordinator
