#include "tests/coordinator/deploys/fake_deployer.h"

#include <grpcpp/grpcpp.h>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa::coordinator::testing {

class FakeDeployer::Service final : public v1::DeployerService::Service {
 public:
  explicit Service(FakeDeployer* owner) : owner_(owner) {}

  grpc::Status SubmitDeploy(grpc::ServerContext*, const v1::DeployRequest* request,
                            v1::Deploy* response) override {
    absl::MutexLock lock(&owner_->mu_);
    const std::string& id = request->deploy().id();
    ++owner_->submits_[id];
    owner_->env_[id] =
        std::map<std::string, std::string>(request->env().begin(), request->env().end());
    auto [it, inserted] = owner_->records_.try_emplace(id, request->deploy());
    if (inserted) it->second.set_status(v1::DEPLOYING);
    *response = it->second;
    return grpc::Status::OK;
  }

  grpc::Status GetDeploy(grpc::ServerContext*, const v1::GetDeployRequest* request,
                         v1::Deploy* response) override {
    absl::MutexLock lock(&owner_->mu_);
    auto it = owner_->records_.find(request->id());
    if (it == owner_->records_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no deploy " + request->id());
    }
    *response = it->second;
    return grpc::Status::OK;
  }

 private:
  FakeDeployer* owner_;
};

FakeDeployer::FakeDeployer() : port_(tempa::testing::PickFreePort()) {}

FakeDeployer::~FakeDeployer() { Stop(); }

void FakeDeployer::Start() {
  service_ = std::make_unique<Service>(this);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(target(), grpc::InsecureServerCredentials());
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  ASSERT_NE(server_, nullptr) << "cannot listen on " << target();
}

void FakeDeployer::Stop() {
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
  }
  server_.reset();
  service_.reset();
}

int FakeDeployer::submits(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = submits_.find(id);
  return it == submits_.end() ? 0 : it->second;
}

int FakeDeployer::total_submits() {
  absl::MutexLock lock(&mu_);
  int total = 0;
  for (const auto& [id, n] : submits_) total += n;
  return total;
}

std::map<std::string, std::string> FakeDeployer::env(const std::string& id) {
  absl::MutexLock lock(&mu_);
  return env_[id];
}

void FakeDeployer::SetStatus(const std::string& id, v1::DeployStatus status,
                             const std::string& reason, const std::vector<std::string>& urls,
                             const std::string& log_tail) {
  absl::MutexLock lock(&mu_);
  v1::Deploy& record = records_[id];
  record.set_id(id);
  record.set_status(status);
  record.set_reason(reason);
  record.set_log_tail(log_tail);
  record.clear_urls();
  for (const std::string& url : urls) record.add_urls(url);
}

void FakeDeployer::Forget() {
  absl::MutexLock lock(&mu_);
  records_.clear();
}

}  // namespace tempa::coordinator::testing
