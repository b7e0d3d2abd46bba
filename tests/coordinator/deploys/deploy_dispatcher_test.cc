// The DeployDispatcher against an in-process fake tempa-deployer over gRPC on loopback: intents
// delivered once with the app's env, status flowing back into the build, a deployer that is down
// then back, a coordinator restarted with an intent pending.
#include "coordinator/deploys/deploy_dispatcher.h"

#include <memory>

#include "coordinator/deploys/grpc_deployer_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/deploys/deploy_test_helpers.h"
#include "tests/coordinator/deploys/fake_deployer.h"

namespace tempa::coordinator::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<DeployDispatcher> DispatcherFor(CoordinatorFixture& f, FakeDeployer& deployer,
                                                absl::Duration poll = absl::Hours(1)) {
  rpc::ClientOptions options;
  options.target = deployer.target();
  absl::StatusOr<std::unique_ptr<GrpcDeployerClient>> client =
      GrpcDeployerClient::Create(options, absl::Seconds(5));
  EXPECT_TRUE(client.ok()) << client.status();
  DeployDispatcherOptions dispatcher_options;
  dispatcher_options.poll_interval = poll;
  dispatcher_options.initial_backoff = absl::Seconds(10);
  dispatcher_options.clock = [&f] { return f.clock().Now(); };
  return std::make_unique<DeployDispatcher>(&f.core(), *std::move(client), dispatcher_options);
}

v1::Deploy StoredIntent(CoordinatorFixture& f, const std::string& id) {
  absl::StatusOr<std::optional<v1::Deploy>> stored = f.store().GetDeploy(id);
  EXPECT_TRUE(stored.ok() && stored->has_value()) << id;
  return stored.ok() && stored->has_value() ? **stored : v1::Deploy();
}

TEST(CoordinatorDeployDispatcherTest,
     AnIntentIsDeliveredOnceWithTheEnvAndItsStatusReachesTheBuild) {
  FakeDeployer deployer;
  deployer.Start();
  CoordinatorFixture f(WithDeployer());
  MakeApp(f, "api");
  ASSERT_TRUE(SetDeployEnv(f, "api", {{"SECRET_KEY", "v@lue with spaces"}}).ok());
  std::string build = RunBuild(f, "api");
  std::string id = "d-" + build;
  std::unique_ptr<DeployDispatcher> dispatcher = DispatcherFor(f, deployer);

  dispatcher->RunOnce();
  EXPECT_EQ(deployer.submits(id), 1);
  EXPECT_THAT(deployer.env(id), ElementsAre(std::make_pair("SECRET_KEY", "v@lue with spaces")));
  EXPECT_EQ(GetBuild(f, build).deploy().status(), v1::DEPLOYING);
  EXPECT_EQ(StoredIntent(f, id).attempts(), 1);

  deployer.SetStatus(id, v1::DEPLOYED, "", {"https://api.apps.example.com"});
  dispatcher->RunOnce();
  v1::Build done = GetBuild(f, build);
  EXPECT_EQ(done.deploy().status(), v1::DEPLOYED);
  EXPECT_THAT(done.deploy().urls(), ElementsAre("https://api.apps.example.com"));
  EXPECT_EQ(ListDeploys(f, "api").deploys(0).status(), v1::DEPLOYED);
  EXPECT_TRUE(f.store().ListUnfinishedDeploys()->empty());

  dispatcher->RunOnce();
  dispatcher->RunOnce();
  EXPECT_EQ(deployer.total_submits(), 1);
}

TEST(CoordinatorDeployDispatcherTest, AFailedDeployCarriesItsReasonIntoTheBuild) {
  FakeDeployer deployer;
  deployer.Start();
  CoordinatorFixture f(WithDeployer());
  MakeApp(f, "api");
  std::string build = RunBuild(f, "api");
  std::unique_ptr<DeployDispatcher> dispatcher = DispatcherFor(f, deployer);
  dispatcher->RunOnce();
  deployer.SetStatus("d-" + build, v1::DEPLOY_FAILED,
                     "GET /healthz never answered 200 within 60s: the old version keeps serving",
                     {}, "listening on :8080\npanic: no database");
  dispatcher->RunOnce();
  v1::Build done = GetBuild(f, build);
  EXPECT_EQ(done.deploy().status(), v1::DEPLOY_FAILED);
  EXPECT_THAT(done.deploy().reason(), HasSubstr("never answered"));
  EXPECT_EQ(done.deploy().log_tail(), "listening on :8080\npanic: no database");
  EXPECT_GT(done.deploy().attempts(), 0);
  EXPECT_TRUE(f.store().ListUnfinishedDeploys()->empty());
}

TEST(CoordinatorDeployDispatcherTest, ADeployerThatIsDownGetsTheIntentOnceWhenItIsBack) {
  FakeDeployer deployer;  // not started: down
  CoordinatorFixture f(WithDeployer());
  MakeApp(f, "api");
  std::string build = RunBuild(f, "api");
  std::string id = "d-" + build;
  std::unique_ptr<DeployDispatcher> dispatcher = DispatcherFor(f, deployer);

  dispatcher->RunOnce();
  v1::Deploy pending = StoredIntent(f, id);
  EXPECT_EQ(pending.status(), v1::DEPLOY_PENDING);
  EXPECT_EQ(pending.attempts(), 1);
  EXPECT_THAT(pending.reason(), HasSubstr("not delivered yet"));
  // Before the backoff ran out, no new attempt.
  dispatcher->RunOnce();
  EXPECT_EQ(StoredIntent(f, id).attempts(), 1);
  f.clock().Advance(absl::Seconds(11));
  dispatcher->RunOnce();
  EXPECT_EQ(StoredIntent(f, id).attempts(), 2);
  EXPECT_EQ(dispatcher->stats().delivery_failures, 2u);

  deployer.Start();
  f.clock().Advance(absl::Seconds(21));
  dispatcher->RunOnce();
  EXPECT_EQ(deployer.submits(id), 1);
  v1::Deploy delivered = StoredIntent(f, id);
  EXPECT_EQ(delivered.status(), v1::DEPLOYING);
  EXPECT_EQ(delivered.attempts(), 3);
  EXPECT_EQ(delivered.reason(), "");
  for (int i = 0; i < 3; ++i) {
    f.clock().Advance(absl::Minutes(5));
    dispatcher->RunOnce();
  }
  EXPECT_EQ(deployer.total_submits(), 1);
}

TEST(CoordinatorDeployDispatcherTest, ARestartedCoordinatorResumesUnfinishedIntentsWithTheSameIds) {
  FakeDeployer deployer;
  deployer.Start();
  CoordinatorFixture f(WithDeployer());
  MakeApp(f, "api");
  std::string delivered = RunBuild(f, "api");
  {
    std::unique_ptr<DeployDispatcher> dispatcher = DispatcherFor(f, deployer);
    dispatcher->RunOnce();  // d-<delivered> reaches the deployer, DEPLOYING
  }
  std::string pending = RunBuild(f, "api");  // stored, never delivered
  f.Restart();

  std::unique_ptr<DeployDispatcher> dispatcher = DispatcherFor(f, deployer);
  dispatcher->RunOnce();
  EXPECT_EQ(deployer.submits("d-" + pending), 1);
  // The one delivered before the restart is handed over again under its own id: the deployer's
  // idempotency makes it one deploy.
  EXPECT_EQ(deployer.submits("d-" + delivered), 2);
  EXPECT_EQ(deployer.total_submits(), 3);
  deployer.SetStatus("d-" + pending, v1::DEPLOYED);
  deployer.SetStatus("d-" + delivered, v1::DEPLOY_SUPERSEDED, "a newer deploy came first");
  dispatcher->RunOnce();
  EXPECT_EQ(GetBuild(f, pending).deploy().status(), v1::DEPLOYED);
  EXPECT_EQ(GetBuild(f, delivered).deploy().status(), v1::DEPLOY_SUPERSEDED);
}

TEST(CoordinatorDeployDispatcherTest, ItsThreadDeliversANewIntentAndARollbackWithoutWaitingToPoll) {
  FakeDeployer deployer;
  deployer.Start();
  CoordinatorFixture f(WithDeployer());
  MakeApp(f, "api");
  std::unique_ptr<DeployDispatcher> dispatcher = DispatcherFor(f, deployer, absl::Hours(1));
  f.core().SetDeployWaker([d = dispatcher.get()] { d->Wake(); });
  dispatcher->Start();
  absl::SleepFor(absl::Milliseconds(50));  // the first pass (nothing to do) is behind it
  std::string build = RunBuild(f, "api");
  for (int i = 0; i < 1000 && deployer.submits("d-" + build) == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(deployer.submits("d-" + build), 1);
  v1::Deploy rollback;
  ASSERT_TRUE(Rollback(f, "api", build, &rollback).ok());
  for (int i = 0; i < 1000 && deployer.submits(rollback.id()) == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(deployer.submits(rollback.id()), 1);
  dispatcher->Stop();
  f.core().SetDeployWaker(nullptr);
}

}  // namespace
}  // namespace tempa::coordinator::testing
