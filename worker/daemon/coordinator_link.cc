#include "worker/daemon/coordinator_link.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/status_conversion.h"
#include "common/status_macros.h"

namespace tempa::worker {
namespace {

constexpr absl::Duration kCallDeadline = absl::Seconds(30);

template <typename Response>
absl::StatusOr<Response> Answer(const grpc::Status& status, Response response,
                                absl::string_view call) {
  if (!status.ok()) {
    return rpc::FromGrpcStatus(status, absl::StrCat("coordinator ", call));
  }
  return response;
}

}  // namespace

GrpcCoordinatorLink::GrpcCoordinatorLink(std::shared_ptr<grpc::Channel> channel,
                                         rpc::ClientOptions options)
    : stub_(v1::WorkerService::NewStub(std::move(channel))), options_(std::move(options)) {}

absl::StatusOr<v1::RegisterWorkerResponse> GrpcCoordinatorLink::Register(
    const v1::RegisterWorkerRequest& request) {
  grpc::ClientContext ctx;
  rpc::PrepareContext(&ctx, options_, kCallDeadline);
  v1::RegisterWorkerResponse response;
  grpc::Status status = stub_->RegisterWorker(&ctx, request, &response);
  return Answer(status, std::move(response), "RegisterWorker");
}

absl::StatusOr<std::optional<v1::Job>> GrpcCoordinatorLink::LeaseJob(const std::string& worker_id,
                                                                     absl::Duration wait) {
  grpc::ClientContext ctx;
  rpc::PrepareContext(&ctx, options_, wait + kCallDeadline);
  v1::LeaseJobRequest request;
  request.set_worker_id(worker_id);
  request.set_wait_ms(absl::ToInt64Milliseconds(wait));
  v1::LeaseJobResponse response;
  grpc::Status status = stub_->LeaseJob(&ctx, request, &response);
  if (!status.ok()) return Annotate(rpc::FromGrpcStatus(status), "coordinator LeaseJob");
  if (!response.has_job()) return std::optional<v1::Job>();
  return std::optional<v1::Job>(response.job());
}

absl::StatusOr<v1::HeartbeatResponse> GrpcCoordinatorLink::Heartbeat(
    const v1::HeartbeatRequest& request) {
  grpc::ClientContext ctx;
  rpc::PrepareContext(&ctx, options_, kCallDeadline);
  v1::HeartbeatResponse response;
  grpc::Status status = stub_->Heartbeat(&ctx, request, &response);
  return Answer(status, std::move(response), "Heartbeat");
}

absl::StatusOr<v1::ReportProgressResponse> GrpcCoordinatorLink::ReportProgress(
    const v1::ReportProgressRequest& request) {
  grpc::ClientContext ctx;
  rpc::PrepareContext(&ctx, options_, kCallDeadline);
  v1::ReportProgressResponse response;
  grpc::Status status = stub_->ReportProgress(&ctx, request, &response);
  return Answer(status, std::move(response), "ReportProgress");
}

absl::StatusOr<v1::CompleteJobResponse> GrpcCoordinatorLink::CompleteJob(
    const v1::CompleteJobRequest& request) {
  grpc::ClientContext ctx;
  rpc::PrepareContext(&ctx, options_, kCallDeadline);
  v1::CompleteJobResponse response;
  grpc::Status status = stub_->CompleteJob(&ctx, request, &response);
  return Answer(status, std::move(response), "CompleteJob");
}

}  // namespace tempa::worker
