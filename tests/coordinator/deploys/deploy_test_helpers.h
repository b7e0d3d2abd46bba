// What the coordinator's deploy tests do over and over through the real gRPC services: create an
// app, set its deploy settings and env, run a build to SUCCEEDED (as a worker would) and read
// builds and deploys back.
#pragma once

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/coordinator/core/coordinator_fixture.h"

namespace tempa::coordinator::testing {

inline void MakeApp(CoordinatorFixture& f, const std::string& name) {
  v1::CreateAppRequest request;
  request.mutable_app()->set_name(name);
  request.mutable_app()->set_repo_url("https://git.example.com/team/" + name + ".git");
  v1::App app;
  grpc::Status status = f.Control()->CreateApp(f.Context().get(), request, &app);
  ASSERT_TRUE(status.ok()) << status.error_message();
}

inline grpc::Status SetDeployEnv(CoordinatorFixture& f, const std::string& app,
                                 const std::map<std::string, std::string>& env,
                                 v1::App* answer = nullptr) {
  v1::UpdateAppRequest request;
  request.mutable_app()->set_name(app);
  request.add_update_mask("deploy_env");
  for (const auto& [k, v] : env) (*request.mutable_deploy_env())[k] = v;
  v1::App ignored;
  return f.Control()->UpdateApp(f.Context().get(), request, answer ? answer : &ignored);
}

// Triggers a build of `branch` ("" : the app's), leases it as worker w1 and completes it.
// Returns the build's id.
inline std::string RunBuild(CoordinatorFixture& f, const std::string& app, bool succeed = true,
                            const std::string& branch = "") {
  v1::TriggerBuildRequest trigger;
  trigger.set_app(app);
  trigger.set_commit(std::string(40, 'c'));
  trigger.set_branch(branch);
  v1::Build build;
  grpc::Status status = f.Control()->TriggerBuild(f.Context().get(), trigger, &build);
  EXPECT_TRUE(status.ok()) << status.error_message();
  v1::LeaseJobRequest lease;
  lease.set_worker_id("w1");
  lease.set_wait_ms(2000);
  v1::LeaseJobResponse leased;
  status = f.Workers()->LeaseJob(f.Context(kWorkerToken).get(), lease, &leased);
  EXPECT_TRUE(status.ok() && leased.has_job()) << status.error_message();
  v1::CompleteJobRequest complete;
  complete.set_build_id(leased.job().build_id());
  complete.set_lease_id(leased.job().lease_id());
  complete.mutable_result()->set_succeeded(succeed);
  complete.mutable_result()->set_commit(std::string(40, 'c'));
  if (succeed) {
    complete.mutable_result()->set_image(
        absl::StrCat(leased.job().image_repository(), "@sha256:", std::string(64, 'b')));
  } else {
    complete.mutable_result()->mutable_error()->set_kind("compile");
    complete.mutable_result()->mutable_error()->set_reason("undefined: x");
  }
  v1::CompleteJobResponse completed;
  status = f.Workers()->CompleteJob(f.Context(kWorkerToken).get(), complete, &completed);
  EXPECT_TRUE(status.ok() && completed.accepted()) << status.error_message();
  return leased.job().build_id();
}

inline v1::Build GetBuild(CoordinatorFixture& f, const std::string& id) {
  v1::GetBuildRequest request;
  request.set_id(id);
  v1::Build build;
  grpc::Status status = f.Control()->GetBuild(f.Context().get(), request, &build);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return build;
}

inline v1::ListDeploysResponse ListDeploys(CoordinatorFixture& f, const std::string& app = "") {
  v1::ListDeploysRequest request;
  request.set_app(app);
  v1::ListDeploysResponse response;
  grpc::Status status = f.Control()->ListDeploys(f.Context().get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

inline grpc::Status Rollback(CoordinatorFixture& f, const std::string& app, const std::string& to,
                             v1::Deploy* deploy) {
  v1::RollbackAppRequest request;
  request.set_app(app);
  request.set_to_build_id(to);
  return f.Control()->RollbackApp(f.Context().get(), request, deploy);
}

inline CoordinatorOptions WithDeployer() {
  CoordinatorOptions options = CoordinatorFixture::DefaultOptions();
  options.deployer = true;
  return options;
}

}  // namespace tempa::coordinator::testing
