// The deploy RPCs of the fake ControlService (ListDeploys, RollbackApp).
#include "tests/worker/farm_cli/fake_control_service.h"

namespace tempa::testing {

void FakeControlService::PutDeploy(const tempa::v1::Deploy& deploy) {
  absl::MutexLock lock(&mu_);
  deploys_.insert(deploys_.begin(), deploy);
}

std::optional<tempa::v1::ListDeploysRequest> FakeControlService::last_list_deploys() const {
  absl::MutexLock lock(&mu_);
  return last_list_deploys_;
}

std::optional<tempa::v1::RollbackAppRequest> FakeControlService::last_rollback() const {
  absl::MutexLock lock(&mu_);
  return last_rollback_;
}

grpc::Status FakeControlService::ListDeploys(grpc::ServerContext* context,
                                             const tempa::v1::ListDeploysRequest* request,
                                             tempa::v1::ListDeploysResponse* response) {
  if (auto s = Admit(context, "ListDeploys", false); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  last_list_deploys_ = *request;
  for (const tempa::v1::Deploy& deploy : deploys_) {
    if (request->app().empty() || deploy.app() == request->app()) {
      *response->add_deploys() = deploy;
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeControlService::RollbackApp(grpc::ServerContext* context,
                                             const tempa::v1::RollbackAppRequest* request,
                                             tempa::v1::Deploy* response) {
  if (auto s = Admit(context, "RollbackApp", true); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  last_rollback_ = *request;
  if (request->to_build_id().empty()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "app " + request->app() +
                            " has no earlier production deploy than the live one: name the "
                            "build with --to BUILD_ID");
  }
  auto build = builds_.find(request->to_build_id());
  if (build == builds_.end()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "no build " + request->to_build_id() + " to roll back to");
  }
  response->set_id("r-1");
  response->set_app(request->app());
  response->set_build_id(build->second.id());
  response->set_commit(build->second.commit());
  response->set_image(build->second.image());
  response->set_status(tempa::v1::DEPLOY_PENDING);
  response->set_rollback(true);
  response->set_production(true);
  deploys_.insert(deploys_.begin(), *response);
  return grpc::Status::OK;
}

}  // namespace tempa::testing
