#include "coordinator/state/rocksdb_state_store.h"

#include <sys/stat.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "coordinator/state/state_keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/coordinator/state/scratch_dir.h"

namespace tempa::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeBuild;
using testing::ScratchDir;

std::unique_ptr<StateStore> OpenOrDie(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<StateStore>> store = OpenRocksdbStateStore(dir);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

std::vector<std::string> Ids(const std::vector<v1::Build>& builds) {
  std::vector<std::string> ids;
  for (const v1::Build& build : builds) ids.push_back(build.id());
  return ids;
}

TEST(BuildIds, RoundTripAndRejectOtherSpellings) {
  EXPECT_EQ(BuildIdFor(42), "b-42");
  EXPECT_EQ(SequenceOfBuildId("b-42"), 42u);
  EXPECT_EQ(SequenceOfBuildId("b-0"), 0u);
  EXPECT_EQ(SequenceOfBuildId("b-18446744073709551615"), 18446744073709551615u);
  for (const char* bad :
       {"", "b-", "42", "b-042", "b--1", "b-1x", "B-1", "b-18446744073709551616"}) {
    EXPECT_EQ(SequenceOfBuildId(bad), std::nullopt) << bad;
  }
}

TEST(RocksdbStateStore, EveryKindOfRecordRoundTrips) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.Join("db"));
  ASSERT_NE(store, nullptr);
  v1::App app;
  app.set_name("web");
  app.set_repo_url("https://example.com/web.git");
  (*app.mutable_build_env())["GOFLAGS"] = "-mod=vendor";
  v1::Build build = MakeBuild(3, "web", v1::RUNNING);
  build.set_worker_id("w1");
  build.add_layers()->set_digest("sha256:abc");
  v1::LogLine line;
  line.set_number(0);
  line.set_text("go build ./...");
  v1::Worker worker;
  worker.set_id("w1");
  worker.set_slots(4);
  v1::LayerCacheEntry layer;
  layer.set_key("deps-123");
  layer.set_repository("127.0.0.1:5000/web");
  layer.mutable_layer()->set_digest("sha256:def");

  auto batch = store->NewBatch();
  EXPECT_TRUE(batch->empty());
  batch->PutApp(app);
  batch->PutSecret("web", "webhook_secret", std::string("sealed\0bytes", 12));
  batch->PutBuild(build);
  batch->AppendLog(build.id(), line);
  batch->PutWorker(worker);
  batch->PutLayer(layer);
  batch->PutDelivery("delivery-1", {"b-3"}, 1700000000000);
  batch->PutCounter("next_build", 4);
  EXPECT_FALSE(batch->empty());
  ASSERT_TRUE(store->Commit(std::move(batch)).ok());

  auto got_app = store->GetApp("web");
  ASSERT_TRUE(got_app.ok() && got_app->has_value()) << got_app.status();
  EXPECT_EQ((*got_app)->repo_url(), app.repo_url());
  EXPECT_EQ((*got_app)->build_env().at("GOFLAGS"), "-mod=vendor");
  EXPECT_EQ(store->ListApps()->size(), 1u);
  EXPECT_EQ(store->GetSecret("web", "webhook_secret")->value(), std::string("sealed\0bytes", 12));
  auto got_build = store->GetBuild("b-3");
  ASSERT_TRUE(got_build.ok() && got_build->has_value());
  EXPECT_EQ((*got_build)->worker_id(), "w1");
  EXPECT_EQ((*got_build)->layers(0).digest(), "sha256:abc");
  auto log = store->ReadLog("b-3", 0, 10);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].text(), "go build ./...");
  auto workers = store->ListWorkers();
  ASSERT_TRUE(workers.ok());
  ASSERT_EQ(workers->size(), 1u);
  EXPECT_EQ((*workers)[0].slots(), 4);
  auto got_layer = store->GetLayer("deps-123");
  ASSERT_TRUE(got_layer.ok() && got_layer->has_value());
  EXPECT_EQ((*got_layer)->layer().digest(), "sha256:def");
  EXPECT_THAT(store->GetDelivery("delivery-1")->value(), ElementsAre("b-3"));
  EXPECT_EQ(*store->GetCounter("next_build"), 4u);

  // Absent records are absent, not errors.
  EXPECT_EQ(*store->GetApp("api"), std::nullopt);
  EXPECT_EQ(*store->GetSecret("web", "git_credentials"), std::nullopt);
  EXPECT_EQ(*store->GetBuild("b-4"), std::nullopt);
  EXPECT_EQ(*store->GetDelivery("delivery-2"), std::nullopt);
  EXPECT_EQ(*store->GetLayer("deps-999"), std::nullopt);
  EXPECT_EQ(*store->GetCounter("other"), 0u);
  EXPECT_EQ(store->GetBuild("build-3").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RocksdbStateStore, UnfinishedIndexFollowsTheBuildsStatus) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.Join("db"));
  auto batch = store->NewBatch();
  for (uint64_t seq : {5, 1, 3, 2, 4}) batch->PutBuild(MakeBuild(seq, seq % 2 ? "a" : "b"));
  ASSERT_TRUE(store->Commit(std::move(batch)).ok());
  EXPECT_THAT(Ids(*store->ListUnfinishedBuilds()), ElementsAre("b-1", "b-2", "b-3", "b-4", "b-5"));

  batch = store->NewBatch();
  batch->PutBuild(MakeBuild(2, "b", v1::RUNNING));
  batch->PutBuild(MakeBuild(1, "a", v1::SUCCEEDED));
  batch->PutBuild(MakeBuild(4, "b", v1::SUPERSEDED));
  batch->PutBuild(MakeBuild(5, "a", v1::FAILED));
  ASSERT_TRUE(store->Commit(std::move(batch)).ok());
  auto unfinished = store->ListUnfinishedBuilds();
  ASSERT_TRUE(unfinished.ok());
  EXPECT_THAT(Ids(*unfinished), ElementsAre("b-2", "b-3"));
  EXPECT_EQ((*unfinished)[0].status(), v1::RUNNING);

  batch = store->NewBatch();
  batch->PutBuild(MakeBuild(2, "b", v1::CANCELLED));
  batch->PutBuild(MakeBuild(3, "a", v1::SUCCEEDED));
  ASSERT_TRUE(store->Commit(std::move(batch)).ok());
  EXPECT_TRUE(store->ListUnfinishedBuilds()->empty());
  // History stays.
  EXPECT_EQ(store->ListBuilds("", 0)->size(), 5u);
}

TEST(RocksdbStateStore, ListBuildsIsNewestFirstPerAppAndHonoursTheLimit) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.Join("db"));
  auto batch = store->NewBatch();
  // "web" and "web-2": one app's name is a prefix of the other's.
  for (uint64_t seq = 1; seq <= 300; ++seq) {
    batch->PutBuild(MakeBuild(seq, seq % 3 == 0 ? "web-2" : "web"));
  }
  batch->PutBuild(MakeBuild(1000, "api"));
  ASSERT_TRUE(store->Commit(std::move(batch)).ok());

  EXPECT_THAT(Ids(*store->ListBuilds("web", 4)), ElementsAre("b-299", "b-298", "b-296", "b-295"));
  EXPECT_THAT(Ids(*store->ListBuilds("web-2", 3)), ElementsAre("b-300", "b-297", "b-294"));
  EXPECT_THAT(Ids(*store->ListBuilds("api", 10)), ElementsAre("b-1000"));
  EXPECT_TRUE(store->ListBuilds("we", 10)->empty());
  EXPECT_TRUE(store->ListBuilds("zzz", 10)->empty());
  // Sequences order numerically (b-1000 after b-300), not as strings.
  EXPECT_THAT(Ids(*store->ListBuilds("", 2)), ElementsAre("b-1000", "b-300"));
  EXPECT_EQ(store->ListBuilds("web", 0)->size(), 200u);
  EXPECT_EQ(store->ListBuilds("", -1)->size(), 301u);
}

TEST(RocksdbStateStore, ReadLogReadsOneBuildsLinesFromALineUpToTheLimit) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.Join("db"));
  auto batch = store->NewBatch();
  for (uint64_t seq : {7, 8}) {
    for (int64_t n = 0; n < 300; ++n) {
      v1::LogLine line;
      line.set_number(n);
      line.set_text(BuildIdFor(seq) + " line " + std::to_string(n));
      batch->AppendLog(BuildIdFor(seq), line);
    }
  }
  ASSERT_TRUE(store->Commit(std::move(batch)).ok());
  auto lines = store->ReadLog("b-7", 256, 3);
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 3u);
  EXPECT_EQ((*lines)[0].text(), "b-7 line 256");
  EXPECT_EQ((*lines)[2].number(), 258);
  // The end of one build's log is not the start of the next one's.
  EXPECT_EQ(store->ReadLog("b-7", 290, 100)->size(), 10u);
  EXPECT_EQ(store->ReadLog("b-7", 300, 100)->size(), 0u);
  EXPECT_EQ(store->ReadLog("b-7", -5, 0)->size(), 300u);
  EXPECT_EQ(store->ReadLog("b-9", 0, 10)->size(), 0u);
  EXPECT_EQ(store->ReadLog("nine", 0, 10).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RocksdbStateStore, ReadLogReturnsAtMostTenThousandLinesPerCall) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.Join("db"));
  auto batch = store->NewBatch();
  for (int64_t n = 0; n < kMaxLogLinesPerRead + 50; ++n) {
    v1::LogLine line;
    line.set_number(n);
    batch->AppendLog("b-1", line);
  }
  ASSERT_TRUE(store->Commit(std::move(batch)).ok());
  EXPECT_EQ(store->ReadLog("b-1", 0, 1 << 30)->size(), static_cast<size_t>(kMaxLogLinesPerRead));
  EXPECT_EQ(store->ReadLog("b-1", kMaxLogLinesPerRead, 1 << 30)->size(), 50u);
}

TEST(RocksdbStateStore, DeleteAppRemovesItsSecretsAndKeepsOtherAppsAndItsHistory) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.Join("db"));
  auto batch = store->NewBatch();
  for (const char* name : {"web", "web-2"}) {
    v1::App app;
    app.set_name(name);
    batch->PutApp(app);
    batch->PutSecret(name, "webhook_secret", "s1");
    batch->PutSecret(name, "git_credentials", "s2");
  }
  batch->PutBuild(MakeBuild(1, "web", v1::SUCCEEDED));
  ASSERT_TRUE(store->Commit(std::move(batch)).ok());

  batch = store->NewBatch();
  batch->DeleteApp("web");
  ASSERT_TRUE(store->Commit(std::move(batch)).ok());
  EXPECT_EQ(*store->GetApp("web"), std::nullopt);
  EXPECT_EQ(*store->GetSecret("web", "webhook_secret"), std::nullopt);
  EXPECT_EQ(*store->GetSecret("web", "git_credentials"), std::nullopt);
  EXPECT_TRUE(store->GetApp("web-2")->has_value());
  EXPECT_EQ(store->GetSecret("web-2", "webhook_secret")->value(), "s1");
  EXPECT_EQ(store->GetSecret("web-2", "git_credentials")->value(), "s2");
  EXPECT_THAT(Ids(*store->ListBuilds("web", 10)), ElementsAre("b-1"));

  batch = store->NewBatch();
  batch->DeleteSecret("web-2", "git_credentials");
  ASSERT_TRUE(store->Commit(std::move(batch)).ok());
  EXPECT_EQ(*store->GetSecret("web-2", "git_credentials"), std::nullopt);
  EXPECT_EQ(store->GetSecret("web-2", "webhook_secret")->value(), "s1");
}

TEST(RocksdbStateStore, ABatchWithABadRecordIsRefusedWhole) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.Join("db"));
  auto batch = store->NewBatch();
  v1::App app;
  app.set_name("web");
  batch->PutApp(app);
  v1::Build bad = MakeBuild(1, "web");
  bad.set_id("build-1");
  batch->PutBuild(bad);
  absl::Status committed = store->Commit(std::move(batch));
  EXPECT_EQ(committed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(committed.message(), HasSubstr("build-1"));
  EXPECT_EQ(*store->GetApp("web"), std::nullopt);

  batch = store->NewBatch();
  batch->PutSecret(std::string("we\0b", 4), "webhook_secret", "x");
  EXPECT_EQ(store->Commit(std::move(batch)).code(), absl::StatusCode::kInvalidArgument);
  // The store still works.
  batch = store->NewBatch();
  batch->PutApp(app);
  EXPECT_TRUE(store->Commit(std::move(batch)).ok());
}

TEST(RocksdbStateStore, EverythingCommittedIsThereAfterReopening) {
  ScratchDir dir;
  {
    auto store = OpenOrDie(dir.Join("db"));
    for (uint64_t seq = 1; seq <= 20; ++seq) {
      auto batch = store->NewBatch();
      batch->PutBuild(MakeBuild(seq, "web", seq <= 15 ? v1::SUCCEEDED : v1::QUEUED));
      batch->PutCounter("next_build", seq + 1);
      batch->PutDelivery("d-" + std::to_string(seq), {BuildIdFor(seq)}, 0);
      ASSERT_TRUE(store->Commit(std::move(batch)).ok());
    }
  }
  auto store = OpenOrDie(dir.Join("db"));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->GetCounter("next_build"), 21u);
  EXPECT_EQ(store->ListBuilds("web", 0)->size(), 20u);
  EXPECT_THAT(Ids(*store->ListUnfinishedBuilds()),
              ElementsAre("b-16", "b-17", "b-18", "b-19", "b-20"));
  EXPECT_THAT(store->GetDelivery("d-7")->value(), ElementsAre("b-7"));
}

TEST(RocksdbStateStore, ASecondStoreOnTheSameDataDirIsRefused) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.Join("db"));
  auto second = OpenRocksdbStateStore(dir.Join("db"));
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("another tempa-coordinator"));
}

}  // namespace
}  // namespace tempa::coordinator
