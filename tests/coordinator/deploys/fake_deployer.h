// An in-process tempa.v1.DeployerService on a loopback port, for the coordinator's deploy tests:
// it remembers every SubmitDeploy (how often each id came, with which env), answers GetDeploy
// with the record the test scripts, and can be stopped and started again on the same port
// (a deployer that is down, then back) without forgetting what it saw.
#pragma once

#include <grpcpp/server.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "tempa/v1/deploy.grpc.pb.h"

namespace tempa::coordinator::testing {

class FakeDeployer {
 public:
  // Picks a free port; the service is not running until Start.
  FakeDeployer();
  ~FakeDeployer();

  void Start();
  void Stop();
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

  // SubmitDeploy calls carrying `id`, and the env of the last one.
  int submits(const std::string& id);
  int total_submits();
  std::map<std::string, std::string> env(const std::string& id);
  // The record GetDeploy (and a repeated SubmitDeploy) answers from now on.
  void SetStatus(const std::string& id, v1::DeployStatus status, const std::string& reason = "",
                 const std::vector<std::string>& urls = {}, const std::string& log_tail = "");
  // The deployer's state is lost (as after a reset): ids it knew are unknown again.
  void Forget();

 private:
  class Service;
  int port_ = 0;
  absl::Mutex mu_;
  std::map<std::string, int> submits_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, std::string>> env_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Deploy> records_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace tempa::coordinator::testing
