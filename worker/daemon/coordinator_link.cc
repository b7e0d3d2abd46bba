#include "worker/daemon/coordinator_link.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/status_conversion.h"
#include "common/status_macros.h"

namespace tempa::worker {
namespace {

constexpr absl::Duration kCallDeadline = absl::Seconds(30);

// One unary call with the token and a deadline; a failure names the call.
template <typename Request, typename Response>
absl::StatusOr<Response> Call(v1::WorkerService::Stub& stub,
                              grpc::Status (v1::WorkerService::Stub::*method)(grpc::ClientContext*,
                                                                              const Request&,
                                                                              Response*),
                              const rpc::ClientOptions& options, const Request& request,
                              absl::string_view name, absl::Duration deadline = kCallDeadline) {
  grpc::ClientContext ctx;
  rpc::PrepareContext(&ctx, options, deadline);
  Response response;
  grpc::Status status = (stub.*method)(&ctx, request, &response);
  if (!status.ok()) return rpc::FromGrpcStatus(status, absl::StrCat("coordinator ", name));
  return response;
}

}  // namespace

GrpcCoordinatorLink::GrpcCoordinatorLink(std::shared_ptr<grpc::Channel> channel,
                                         rpc::ClientOptions options)
    : stub_(v1::WorkerService::NewStub(std::move(channel))), options_(std::move(options)) {}

absl::StatusOr<v1::RegisterWorkerResponse> GrpcCoordinatorLink::Register(
    const v1::RegisterWorkerRequest& request) {
  return Call(*stub_, &v1::WorkerService::Stub::RegisterWorker, options_, request,
              "RegisterWorker");
}

absl::StatusOr<std::optional<v1::Job>> GrpcCoordinatorLink::LeaseJob(const std::string& worker_id,
                                                                     absl::Duration wait) {
  v1::LeaseJobRequest request;
  request.set_worker_id(worker_id);
  request.set_wait_ms(absl::ToInt64Milliseconds(wait));
  absl::StatusOr<v1::LeaseJobResponse> response =
      Call(*stub_, &v1::WorkerService::Stub::LeaseJob, options_, request, "LeaseJob",
           wait + kCallDeadline);
  if (!response.ok()) return response.status();
  if (!response->has_job()) return std::optional<v1::Job>();
  return std::optional<v1::Job>(response->job());
}

absl::StatusOr<v1::HeartbeatResponse> GrpcCoordinatorLink::Heartbeat(
    const v1::HeartbeatRequest& request) {
  return Call(*stub_, &v1::WorkerService::Stub::Heartbeat, options_, request, "Heartbeat");
}

absl::StatusOr<v1::ReportProgressResponse> GrpcCoordinatorLink::ReportProgress(
    const v1::ReportProgressRequest& request) {
  return Call(*stub_, &v1::WorkerService::Stub::ReportProgress, options_, request,
              "ReportProgress");
}

absl::StatusOr<v1::CompleteJobResponse> GrpcCoordinatorLink::CompleteJob(
    const v1::CompleteJobRequest& request) {
  return Call(*stub_, &v1::WorkerService::Stub::CompleteJob, options_, request, "CompleteJob");
}

}  // namespace tempa::worker
