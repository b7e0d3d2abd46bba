#include "deploy/core/deployer_core.h"

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "deploy/core/rocksdb_deploy_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/core/deploy_test_util.h"
#include "tests/deploy/core/fake_deploy_backend.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy {
namespace {

using tempa::v1::Deploy;
using ::testing::ElementsAre;
using testing::FakeDeployBackend;
using ::testing::HasSubstr;
using testing::MakeRequest;
using testing::WaitForStatus;

class DeployerCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenDeployStoreInWorkDir(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    core_ = std::make_unique<DeployerCore>(store_.get(), &backend_, absl::Now, "example.com");
    ASSERT_TRUE(core_->Start().ok());
  }
  void TearDown() override { core_->Stop(); }

  Deploy Submit(const tempa::v1::DeployRequest& request) {
    absl::StatusOr<Deploy> d = core_->Submit(request);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : Deploy();
  }

  tempa::testing::TempDir dir_;
  FakeDeployBackend backend_;
  std::unique_ptr<DeployStore> store_;
  std::unique_ptr<DeployerCore> core_;
};

TEST_F(DeployerCoreTest, ADeployGoesLiveOnItsHostsAndRecordsItsUrls) {
  Deploy pending = Submit(MakeRequest("d-1", "web", "main", true));
  EXPECT_EQ(pending.status(), tempa::v1::DEPLOY_PENDING);
  EXPECT_EQ(pending.track(), "production");
  EXPECT_TRUE(pending.urls().empty());
  absl::StatusOr<Deploy> done = WaitForStatus(*core_, "d-1", tempa::v1::DEPLOYED);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_THAT(done->urls(),
              ElementsAre("https://web.example.com", "https://web-0123456.example.com"));
  EXPECT_GT(done->started_unix_ms(), 0);
  EXPECT_GE(done->finished_unix_ms(), done->started_unix_ms());
  // Its steps are in the record, timed, the last one lasting until the deploy ended.
  ASSERT_FALSE(done->steps().empty());
  ASSERT_EQ(done->steps().size(), 2);
  EXPECT_THAT(done->steps(0).name(), HasSubstr("deploying 127.0.0.1:5000/web@sha256:"));
  EXPECT_EQ(done->steps(1).name(), "fake deploy");  // the backend's own step
  EXPECT_GE(done->steps(0).started_unix_ms(), done->started_unix_ms());
  EXPECT_EQ(done->steps(0).started_unix_ms() + done->steps(0).took_ms(),
            done->steps(1).started_unix_ms());
  EXPECT_EQ(done->steps(1).started_unix_ms() + done->steps(1).took_ms(), done->finished_unix_ms());
  ASSERT_EQ(backend_.releases().size(), 1u);
  const Release release = backend_.releases()[0];
  EXPECT_EQ(release.track, "production");
  EXPECT_EQ(release.settings.memory_bytes, 256ll << 20);
  EXPECT_EQ(store_->Get("d-1")->status(), tempa::v1::DEPLOYED);
}

TEST_F(DeployerCoreTest, SubmittingAKnownIdReturnsItsRecordAndNeverDeploysAgain) {
  backend_.SetScript("d-1", {.block = true});
  Submit(MakeRequest("d-1"));
  ASSERT_TRUE(backend_.WaitForCall("d-1"));
  // A retry while it runs, with a different image even: the stored record, unchanged.
  tempa::v1::DeployRequest retry = MakeRequest("d-1");
  retry.mutable_deploy()->set_image("other@sha256:" + std::string(64, '1'));
  Deploy running = Submit(retry);
  EXPECT_EQ(running.status(), tempa::v1::DEPLOYING);
  EXPECT_EQ(running.image(), MakeRequest("d-1").deploy().image());
  backend_.Unblock("d-1");
  ASSERT_TRUE(WaitForStatus(*core_, "d-1", tempa::v1::DEPLOYED).ok());
  EXPECT_EQ(Submit(MakeRequest("d-1")).status(), tempa::v1::DEPLOYED);
  EXPECT_EQ(backend_.calls("d-1"), 1);
}

TEST_F(DeployerCoreTest, ANewerPendingDeploySupersedesTheOlderWhileOneRuns) {
  backend_.SetScript("d-1", {.block = true});
  Submit(MakeRequest("d-1"));
  ASSERT_TRUE(backend_.WaitForCall("d-1"));
  EXPECT_EQ(Submit(MakeRequest("d-2")).status(), tempa::v1::DEPLOY_PENDING);
  Submit(MakeRequest("d-3"));
  absl::StatusOr<Deploy> superseded = core_->Get("d-2");
  ASSERT_TRUE(superseded.ok());
  EXPECT_EQ(superseded->status(), tempa::v1::DEPLOY_SUPERSEDED);
  EXPECT_EQ(superseded->reason(), "superseded by d-3");
  EXPECT_EQ(store_->Get("d-2")->status(), tempa::v1::DEPLOY_SUPERSEDED);
  backend_.Unblock("d-1");
  ASSERT_TRUE(WaitForStatus(*core_, "d-3", tempa::v1::DEPLOYED).ok());
  EXPECT_EQ(core_->Get("d-1")->status(), tempa::v1::DEPLOYED);
  EXPECT_EQ(backend_.calls("d-2"), 0);
  EXPECT_EQ(backend_.releases().size(), 2u);
}

TEST_F(DeployerCoreTest, AnIntentOlderThanOneAlreadyStartedIsSupersededNotDeployed) {
  // The coordinator redelivers after a restart in any order: d-old was created first.
  Submit(MakeRequest("d-new", "web", "main", true, /*created_ms=*/2000));
  ASSERT_TRUE(WaitForStatus(*core_, "d-new", tempa::v1::DEPLOYED).ok());
  Deploy old = Submit(MakeRequest("d-old", "web", "main", true, /*created_ms=*/1000));
  EXPECT_EQ(old.status(), tempa::v1::DEPLOY_SUPERSEDED);
  EXPECT_EQ(old.reason(), "superseded by d-new");
  EXPECT_EQ(backend_.calls("d-old"), 0);
}

TEST_F(DeployerCoreTest, AnOlderPendingIntentDoesNotReplaceANewerPendingOne) {
  backend_.SetScript("d-1", {.block = true});
  Submit(MakeRequest("d-1", "web", "main", true, 1000));
  ASSERT_TRUE(backend_.WaitForCall("d-1"));
  Submit(MakeRequest("d-3", "web", "main", true, 3000));
  EXPECT_EQ(Submit(MakeRequest("d-2", "web", "main", true, 2000)).reason(), "superseded by d-3");
  backend_.Unblock("d-1");
  ASSERT_TRUE(WaitForStatus(*core_, "d-3", tempa::v1::DEPLOYED).ok());
}

TEST_F(DeployerCoreTest, OneTrackRunsOneDeployAtATimeWhileOtherTracksRunAlongside) {
  backend_.SetScript("d-prod", {.block = true});
  Submit(MakeRequest("d-prod", "web", "main", true));
  ASSERT_TRUE(backend_.WaitForCall("d-prod"));
  // Another track of the same app, and another app: both run while d-prod is still blocked.
  backend_.SetScript("d-preview", {.block = true});
  Submit(MakeRequest("d-preview", "web", "feature/x", false));
  ASSERT_TRUE(backend_.WaitForCall("d-preview"));
  Submit(MakeRequest("d-api", "api", "main", true));
  ASSERT_TRUE(WaitForStatus(*core_, "d-api", tempa::v1::DEPLOYED).ok());
  // The same track waits.
  Submit(MakeRequest("d-prod-2", "web", "main", true));
  EXPECT_EQ(core_->Get("d-prod-2")->status(), tempa::v1::DEPLOY_PENDING);
  EXPECT_EQ(backend_.calls("d-prod-2"), 0);
  backend_.Unblock("d-prod");
  backend_.Unblock("d-preview");
  ASSERT_TRUE(WaitForStatus(*core_, "d-prod-2", tempa::v1::DEPLOYED).ok());
  ASSERT_TRUE(WaitForStatus(*core_, "d-preview", tempa::v1::DEPLOYED).ok());
  EXPECT_EQ(backend_.max_concurrent_in_track(), 1);
  EXPECT_GE(backend_.max_concurrent(), 2);
  EXPECT_EQ(core_->Get("d-preview")->track(), "feature-x");
}

TEST_F(DeployerCoreTest, AFailedDeployRecordsTheReasonAndTheLogTailWithSecretsRedacted) {
  backend_.SetScript(
      "d-1", {.status = absl::UnavailableError("health check GET / never answered 200 in 60s; "
                                               "traffic stays on the previous version"),
              .log_tail = "connecting to postgres://u:pw-SECRET-42@db\npanic: boom\n"});
  tempa::v1::DeployRequest request = MakeRequest("d-1");
  (*request.mutable_env())["DATABASE_URL"] = "postgres://u:pw-SECRET-42@db";
  Submit(request);
  absl::StatusOr<Deploy> failed = WaitForStatus(*core_, "d-1", tempa::v1::DEPLOY_FAILED);
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_THAT(failed->reason(), HasSubstr("health check GET / never answered"));
  EXPECT_THAT(failed->log_tail(), HasSubstr("panic: boom"));
  EXPECT_THAT(failed->log_tail(), HasSubstr("[DATABASE_URL redacted]"));
  EXPECT_FALSE(absl::StrContains(failed->log_tail(), "pw-SECRET-42"));
  EXPECT_TRUE(failed->urls().empty());
  EXPECT_EQ(store_->Get("d-1")->log_tail(), failed->log_tail());
  // The backend got the values; the record only the names.
  EXPECT_EQ(backend_.releases()[0].env.at("DATABASE_URL"), "postgres://u:pw-SECRET-42@db");
  EXPECT_THAT(failed->settings().env_names(), ElementsAre("DATABASE_URL"));
}

TEST_F(DeployerCoreTest, AnAppCannotTakeAHostAnotherAppsPreviewAlreadyAnswersOn) {
  // App "web", branch "api" answers on web-api.example.com, which app "web-api" also wants.
  Submit(MakeRequest("d-preview", "web", "api", false));
  ASSERT_TRUE(WaitForStatus(*core_, "d-preview", tempa::v1::DEPLOYED).ok());
  Submit(MakeRequest("d-prod", "web-api", "main", true));
  absl::StatusOr<Deploy> refused = WaitForStatus(*core_, "d-prod", tempa::v1::DEPLOY_FAILED);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_THAT(refused->reason(), HasSubstr("web-api.example.com already belongs to app web"));
  EXPECT_EQ(backend_.calls("d-prod"), 0);
  // The app that holds it deploys there again without trouble.
  Submit(MakeRequest("d-preview-2", "web", "api", false));
  ASSERT_TRUE(WaitForStatus(*core_, "d-preview-2", tempa::v1::DEPLOYED).ok());
}

TEST_F(DeployerCoreTest, AnInvalidRequestIsRefusedAndNothingIsStored) {
  tempa::v1::DeployRequest request = MakeRequest("d-1");
  request.mutable_deploy()->set_image("127.0.0.1:5000/web:latest");
  absl::StatusOr<Deploy> d = core_->Submit(request);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(d.status().message(), HasSubstr("deploy.image"));
  EXPECT_EQ(store_->Get("d-1").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DeployerCoreTest, WaitForChangeReturnsAtTheDeadlineUnchangedAndOnEveryChange) {
  backend_.SetScript("d-1", {.block = true});
  Submit(MakeRequest("d-1"));
  ASSERT_TRUE(backend_.WaitForCall("d-1"));
  absl::StatusOr<DeployerCore::Versioned> now =
      core_->WaitForChange("d-1", 0, absl::InfinitePast());
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->deploy.status(), tempa::v1::DEPLOYING);
  absl::StatusOr<DeployerCore::Versioned> same =
      core_->WaitForChange("d-1", now->version, absl::Now() + absl::Milliseconds(20));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->version, now->version);
  backend_.Unblock("d-1");
  absl::StatusOr<DeployerCore::Versioned> next =
      core_->WaitForChange("d-1", now->version, absl::InfiniteFuture());
  ASSERT_TRUE(next.ok());
  EXPECT_GT(next->version, now->version);
  EXPECT_EQ(next->deploy.status(), tempa::v1::DEPLOYED);
  EXPECT_EQ(core_->WaitForChange("nope", 0, absl::InfiniteFuture()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(DeployerCoreTest, ListIsNewestFirst) {
  Submit(MakeRequest("d-1"));
  Submit(MakeRequest("d-2", "api"));
  ASSERT_TRUE(WaitForStatus(*core_, "d-1", tempa::v1::DEPLOYED).ok());
  ASSERT_TRUE(WaitForStatus(*core_, "d-2", tempa::v1::DEPLOYED).ok());
  absl::StatusOr<std::vector<Deploy>> all = core_->List("", 0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id(), "d-2");
  EXPECT_EQ(core_->List("web", 10)->size(), 1u);
}

TEST(DeployerCoreCacheTest, FinishedDeploysLeaveMemoryButStayKnown) {
  tempa::testing::TempDir dir;
  auto store = OpenDeployStoreInWorkDir(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  FakeDeployBackend backend;
  DeployerCore core(store->get(), &backend, absl::Now, "example.com", /*finished_cached=*/1);
  ASSERT_TRUE(core.Start().ok());
  for (const char* app : {"a", "b", "c"}) {
    std::string id = std::string("d-") + app;
    ASSERT_TRUE(core.Submit(MakeRequest(id, app)).ok());
    ASSERT_TRUE(WaitForStatus(core, id, tempa::v1::DEPLOYED).ok());
  }
  // d-a left the cache: still found, still deduplicated, and a watch ends at once.
  EXPECT_EQ(core.Get("d-a")->status(), tempa::v1::DEPLOYED);
  absl::StatusOr<DeployerCore::Versioned> watched =
      core.WaitForChange("d-a", 0, absl::InfiniteFuture());
  ASSERT_TRUE(watched.ok());
  EXPECT_EQ(watched->deploy.status(), tempa::v1::DEPLOYED);
  EXPECT_EQ(core.Submit(MakeRequest("d-a", "a"))->status(), tempa::v1::DEPLOYED);
  EXPECT_EQ(backend.calls("d-a"), 1);
  core.Stop();
}

}  // namespace
}  // namespace tempa::deploy
