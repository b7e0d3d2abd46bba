// The deployer killed mid-deploy: the work dir as it was at that moment (copied while the first
// core runs, as a crash leaves it) opened by a new core, which finishes every unfinished deploy.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "deploy/core/deployer_core.h"
#include "deploy/core/rocksdb_deploy_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/core/deploy_test_util.h"
#include "tests/deploy/core/fake_deploy_backend.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy {
namespace {

using tempa::v1::Deploy;
using testing::FakeDeployBackend;
using ::testing::HasSubstr;
using testing::MakeRequest;
using testing::WaitForStatus;

constexpr char kSecret[] = "sk_live_Zx81-very-secret-value";

std::string AllBytes(const std::string& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

// Copies the work dir `from` into `to` (mode 0700) as a crash would leave it.
void SnapshotWorkDir(const std::string& from, const std::string& to) {
  ASSERT_EQ(mkdir(to.c_str(), 0700), 0);
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
  std::filesystem::remove(to + "/deploys/LOCK");
}

TEST(DeployerRestartTest, ADeployInterruptedMidwayRunsAgainWithItsEnvAfterARestart) {
  tempa::testing::TempDir dir;
  const std::string crashed = dir.Join("crashed");
  {
    auto store = OpenDeployStoreInWorkDir(dir.Join("live"));
    ASSERT_TRUE(store.ok()) << store.status();
    FakeDeployBackend backend;
    backend.SetScript("d-1", {.block = true});
    DeployerCore core(store->get(), &backend, absl::Now, "example.com");
    ASSERT_TRUE(core.Start().ok());
    tempa::v1::DeployRequest request = MakeRequest("d-1", "web", "feature/pay", false);
    (*request.mutable_env())["STRIPE_KEY"] = kSecret;
    ASSERT_TRUE(core.Submit(request).ok());
    ASSERT_TRUE(backend.WaitForCall("d-1"));
    ASSERT_EQ(core.Get("d-1")->status(), tempa::v1::DEPLOYING);
    SnapshotWorkDir(dir.Join("live"), crashed);
    backend.Unblock("d-1");
    core.Stop();
  }
  std::string bytes = AllBytes(crashed);
  EXPECT_TRUE(absl::StrContains(bytes, "feature/pay"));  // the grep sees clear text
  EXPECT_FALSE(absl::StrContains(bytes, "very-secret")) << "an env value is on disk in clear";

  auto store = OpenDeployStoreInWorkDir(crashed);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_EQ((*store)->Get("d-1")->status(), tempa::v1::DEPLOYING);
  FakeDeployBackend backend;
  DeployerCore core(store->get(), &backend, absl::Now, "example.com");
  ASSERT_TRUE(core.Start().ok());
  absl::StatusOr<Deploy> done = WaitForStatus(core, "d-1", tempa::v1::DEPLOYED);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(backend.recover_calls(), 1);
  ASSERT_EQ(backend.releases().size(), 1u);
  EXPECT_EQ(backend.releases()[0].env.at("STRIPE_KEY"), kSecret);
  EXPECT_EQ(backend.releases()[0].track, "feature-pay");
  EXPECT_EQ(backend.releases()[0].hosts[0], "web-feature-pay.example.com");
  // Once more from the coordinator's side: the id is known, nothing runs again.
  EXPECT_EQ(core.Submit(MakeRequest("d-1", "web", "feature/pay", false))->status(),
            tempa::v1::DEPLOYED);
  EXPECT_EQ(backend.calls("d-1"), 1);
  core.Stop();
  // Finished: the sealed env is gone too.
  EXPECT_TRUE((*store)->GetEnv("d-1")->empty());
}

TEST(DeployerRestartTest, AfterARestartTheNewestUnfinishedDeployOfATrackWins) {
  tempa::testing::TempDir dir;
  auto store = OpenDeployStoreInWorkDir(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  Deploy interrupted = MakeRequest("d-1", "web", "main", true, 1000).deploy();
  interrupted.set_track("production");
  interrupted.set_status(tempa::v1::DEPLOYING);
  interrupted.set_started_unix_ms(1500);
  ASSERT_TRUE((*store)->PutWithEnv(interrupted, {}).ok());
  Deploy waiting = MakeRequest("d-2", "web", "main", true, 2000).deploy();
  waiting.set_track("production");
  waiting.set_status(tempa::v1::DEPLOY_PENDING);
  ASSERT_TRUE((*store)->PutWithEnv(waiting, {}).ok());
  Deploy other = MakeRequest("d-3", "api", "main", true, 500).deploy();
  other.set_track("production");
  other.set_status(tempa::v1::DEPLOY_PENDING);
  ASSERT_TRUE((*store)->Put(other).ok());

  FakeDeployBackend backend;
  DeployerCore core(store->get(), &backend, absl::Now, "example.com");
  ASSERT_TRUE(core.Start().ok());
  ASSERT_TRUE(WaitForStatus(core, "d-2", tempa::v1::DEPLOYED).ok());
  ASSERT_TRUE(WaitForStatus(core, "d-3", tempa::v1::DEPLOYED).ok());
  EXPECT_EQ(core.Get("d-1")->status(), tempa::v1::DEPLOY_SUPERSEDED);
  EXPECT_EQ(core.Get("d-1")->reason(), "superseded by d-2");
  EXPECT_EQ(backend.calls("d-1"), 0);
  EXPECT_TRUE((*store)->ListUnfinished()->empty());
  core.Stop();
}

TEST(DeployerRestartTest, AnEnvThatNoLongerOpensFailsTheDeployInsteadOfRunningWithoutIt) {
  tempa::testing::TempDir dir;
  {
    auto store = OpenDeployStoreInWorkDir(dir.path());
    ASSERT_TRUE(store.ok()) << store.status();
    Deploy pending = MakeRequest("d-1").deploy();
    pending.set_track("production");
    pending.set_status(tempa::v1::DEPLOY_PENDING);
    ASSERT_TRUE((*store)->PutWithEnv(pending, {{"API_KEY", "value-that-matters"}}).ok());
  }
  ASSERT_EQ(unlink(dir.Join("deployer.key").c_str()), 0);  // the operator lost the key
  auto store = OpenDeployStoreInWorkDir(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  FakeDeployBackend backend;
  DeployerCore core(store->get(), &backend, absl::Now, "example.com");
  ASSERT_TRUE(core.Start().ok());
  absl::StatusOr<Deploy> failed = WaitForStatus(core, "d-1", tempa::v1::DEPLOY_FAILED);
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_THAT(failed->reason(), HasSubstr("deployer.key"));
  EXPECT_EQ(backend.releases().size(), 0u);
  core.Stop();
}

TEST(DeployerRestartTest, ABackendThatCannotRecoverStopsTheStartAndRunsNothing) {
  tempa::testing::TempDir dir;
  auto store = OpenDeployStoreInWorkDir(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  Deploy pending = MakeRequest("d-1").deploy();
  pending.set_status(tempa::v1::DEPLOY_PENDING);
  ASSERT_TRUE((*store)->Put(pending).ok());
  FakeDeployBackend backend;
  backend.FailRecover(absl::UnavailableError("nginx did not start: port 80 in use"));
  DeployerCore core(store->get(), &backend, absl::Now, "example.com");
  absl::Status started = core.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(started.message(), HasSubstr("port 80 in use"));
  EXPECT_THAT(started.message(), HasSubstr("fake backend"));
  EXPECT_EQ(backend.releases().size(), 0u);
  EXPECT_EQ((*store)->Get("d-1")->status(), tempa::v1::DEPLOY_PENDING);
}

TEST(DeployerRestartTest, StopLeavesPendingDeploysForTheNextStart) {
  tempa::testing::TempDir dir;
  auto store = OpenDeployStoreInWorkDir(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  {
    FakeDeployBackend backend;
    backend.SetScript("d-1", {.block = true});
    DeployerCore core(store->get(), &backend, absl::Now, "example.com");
    ASSERT_TRUE(core.Start().ok());
    ASSERT_TRUE(core.Submit(MakeRequest("d-1")).ok());
    ASSERT_TRUE(backend.WaitForCall("d-1"));
    ASSERT_TRUE(core.Submit(MakeRequest("d-2")).ok());
    uint64_t version = core.WaitForChange("d-2", 0, absl::InfinitePast())->version;
    std::thread stopper([&core] { core.Stop(); });
    // Stop has begun once a watcher of the pending d-2 is let go; then d-1 may finish.
    EXPECT_EQ(core.WaitForChange("d-2", version, absl::InfiniteFuture()).status().code(),
              absl::StatusCode::kCancelled);
    backend.Unblock("d-1");
    stopper.join();  // d-1 finished; d-2 was not started
    EXPECT_EQ(backend.calls("d-2"), 0);
    EXPECT_EQ(core.Submit(MakeRequest("d-9")).status().code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ((*store)->Get("d-1")->status(), tempa::v1::DEPLOYED);
  EXPECT_EQ((*store)->Get("d-2")->status(), tempa::v1::DEPLOY_PENDING);
  FakeDeployBackend backend;
  DeployerCore core(store->get(), &backend, absl::Now, "example.com");
  ASSERT_TRUE(core.Start().ok());
  ASSERT_TRUE(WaitForStatus(core, "d-2", tempa::v1::DEPLOYED).ok());
  core.Stop();
}

}  // namespace
}  // namespace tempa::deploy
