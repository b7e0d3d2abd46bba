// The worker's side of tempa.v1.WorkerService: every call a worker makes to its coordinator,
// each with a deadline. An interface so the daemon's loop is tested against scripted answers;
// the real one is GrpcCoordinatorLink.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/grpc/client.h"
#include "tempa/v1/worker.grpc.pb.h"

namespace tempa::worker {

class CoordinatorLink {
 public:
  virtual ~CoordinatorLink() = default;
  virtual absl::StatusOr<v1::RegisterWorkerResponse> Register(
      const v1::RegisterWorkerRequest& request) = 0;
  // Waits up to `wait` for a job; nullopt when none came.
  virtual absl::StatusOr<std::optional<v1::Job>> LeaseJob(const std::string& worker_id,
                                                          absl::Duration wait) = 0;
  virtual absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request) = 0;
  virtual absl::StatusOr<v1::ReportProgressResponse> ReportProgress(
      const v1::ReportProgressRequest& request) = 0;
  virtual absl::StatusOr<v1::CompleteJobResponse> CompleteJob(
      const v1::CompleteJobRequest& request) = 0;
};

class GrpcCoordinatorLink final : public CoordinatorLink {
 public:
  GrpcCoordinatorLink(std::shared_ptr<grpc::Channel> channel, rpc::ClientOptions options);
  absl::StatusOr<v1::RegisterWorkerResponse> Register(
      const v1::RegisterWorkerRequest& request) override;
  absl::StatusOr<std::optional<v1::Job>> LeaseJob(const std::string& worker_id,
                                                  absl::Duration wait) override;
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request) override;
  absl::StatusOr<v1::ReportProgressResponse> ReportProgress(
      const v1::ReportProgressRequest& request) override;
  absl::StatusOr<v1::CompleteJobResponse> CompleteJob(
      const v1::CompleteJobRequest& request) override;

 private:
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  rpc::ClientOptions options_;
};

}  // namespace tempa::worker
