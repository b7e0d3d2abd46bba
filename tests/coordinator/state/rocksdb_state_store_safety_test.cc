// The state store against what goes wrong: a data dir others may write, damaged values, many
// concurrent committers, callbacks that must come in order.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "coordinator/state/rocksdb_state_store.h"
#include "coordinator/state/state_keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/coordinator/state/scratch_dir.h"

namespace tempa::coordinator {
namespace {

using ::testing::HasSubstr;
using testing::MakeBuild;
using testing::ScratchDir;

TEST(StateDataDir, AMissingDataDirIsCreatedForTheOwnerOnly) {
  ScratchDir dir;
  ASSERT_TRUE(OpenRocksdbStateStore(dir.Join("db")).ok());
  struct stat st;
  ASSERT_EQ(stat(dir.Join("db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST(StateDataDir, ADataDirOthersMayWriteIsRefused) {
  ScratchDir dir;
  for (mode_t mode : {0777, 0770, 0702}) {
    ASSERT_EQ(mkdir(dir.Join("db").c_str(), 0700), 0);
    ASSERT_EQ(chmod(dir.Join("db").c_str(), mode), 0);
    auto store = OpenRocksdbStateStore(dir.Join("db"));
    ASSERT_FALSE(store.ok()) << std::oct << mode;
    EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(store.status().message(), HasSubstr("chmod 700 " + dir.Join("db")));
    // Nothing was created inside it.
    EXPECT_EQ(rmdir(dir.Join("db").c_str()), 0);
  }
}

TEST(StateDataDir, ADataDirOfAnotherUserIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  ScratchDir dir;
  ASSERT_EQ(mkdir(dir.Join("db").c_str(), 0700), 0);
  ASSERT_EQ(chown(dir.Join("db").c_str(), 65534, 65534), 0);
  auto store = OpenRocksdbStateStore(dir.Join("db"));
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("belongs to uid 65534"));
}

TEST(StateDataDir, AFileInPlaceOfTheDataDirIsRefused) {
  ScratchDir dir;
  FILE* file = fopen(dir.Join("db").c_str(), "w");
  ASSERT_NE(file, nullptr);
  fclose(file);
  auto store = OpenRocksdbStateStore(dir.Join("db"));
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("not a directory"));
}

// Writes `value` under `key` of `family` behind the store's back (the store must be closed).
void PlantValue(const std::string& dir, const std::string& family, const std::string& key,
                const std::string& value) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names)
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir, descriptors, &handles, &db).ok());
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == family) {
      rocksdb::WriteOptions sync;
      sync.sync = true;
      EXPECT_TRUE(db->Put(sync, handles[i], key, value).ok());
    }
  }
  for (auto* handle : handles) EXPECT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  EXPECT_TRUE(db->Close().ok());
  delete db;
}

TEST(RocksdbStateStoreCorruption, AnUnparsableValueIsDataLossNamingItsKey) {
  ScratchDir dir;
  const std::string db = dir.Join("db");
  {
    auto store = OpenRocksdbStateStore(db);
    ASSERT_TRUE(store.ok());
    auto batch = (*store)->NewBatch();
    batch->PutBuild(MakeBuild(7, "web"));
    batch->PutBuild(MakeBuild(8, "web"));
    v1::LogLine line;
    line.set_text("ok");
    batch->AppendLog("b-7", line);
    ASSERT_TRUE((*store)->Commit(std::move(batch)).ok());
  }
  // An invalid tag followed by a truncated varint: no protobuf parser accepts it.
  const std::string garbage("\xff\xff\xff\xff\xff", 5);
  PlantValue(db, state_keys::kBuilds, state_keys::BuildKey(7), garbage);
  PlantValue(db, state_keys::kApps, "web", garbage);
  PlantValue(db, state_keys::kWorkers, "w1", garbage);
  PlantValue(db, state_keys::kLogs, state_keys::LogKey(7, 1), garbage);
  PlantValue(db, state_keys::kDeliveries, "d-1", garbage);
  PlantValue(db, state_keys::kLayerCache, "deps", garbage);
  PlantValue(db, state_keys::kMeta, state_keys::CounterKey("next_build"), "short");
  // A record that parses but lies under another build's key.
  PlantValue(db, state_keys::kBuilds, state_keys::BuildKey(8),
             MakeBuild(9, "web").SerializeAsString());

  auto store = OpenRocksdbStateStore(db);
  ASSERT_TRUE(store.ok()) << store.status();
  auto expect_data_loss = [](const absl::Status& status, const std::string& names) {
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    EXPECT_THAT(status.message(), HasSubstr(names));
  };
  expect_data_loss((*store)->GetBuild("b-7").status(), "builds record b-7");
  expect_data_loss((*store)->GetBuild("b-8").status(), "holds build \"b-9\"");
  expect_data_loss((*store)->ListBuilds("", 10).status(), "b-");
  expect_data_loss((*store)->ListBuilds("web", 10).status(), "b-");
  expect_data_loss((*store)->ListUnfinishedBuilds().status(), "b-7");
  expect_data_loss((*store)->GetApp("web").status(), "apps record \"web\"");
  expect_data_loss((*store)->ListApps().status(), "\"web\"");
  expect_data_loss((*store)->ListWorkers().status(), "\"w1\"");
  expect_data_loss((*store)->ReadLog("b-7", 0, 10).status(), "b-7 line 1");
  expect_data_loss((*store)->GetDelivery("d-1").status(), "\"d-1\"");
  expect_data_loss((*store)->GetLayer("deps").status(), "\"deps\"");
  expect_data_loss((*store)->GetCounter("next_build").status(), "next_build");
}

TEST(RocksdbStateStoreConcurrency, CommitAsyncCallbacksRunInSubmissionOrder) {
  ScratchDir dir;
  auto store = *OpenRocksdbStateStore(dir.Join("db"));
  constexpr int kBatches = 500;
  absl::Mutex mu;
  std::vector<int> order;
  absl::Notification all_done;
  for (int i = 0; i < kBatches; ++i) {
    auto batch = store->NewBatch();
    batch->PutCounter("last", i);
    store->CommitAsync(std::move(batch), [&, i](absl::Status status) {
      EXPECT_TRUE(status.ok()) << status;
      absl::MutexLock lock(&mu);
      order.push_back(i);
      if (i == kBatches - 1) all_done.Notify();
    });
  }
  all_done.WaitForNotification();
  absl::MutexLock lock(&mu);
  ASSERT_EQ(order.size(), static_cast<size_t>(kBatches));
  for (int i = 0; i < kBatches; ++i) ASSERT_EQ(order[i], i);
  // Commit order is submission order: the last write wins.
  EXPECT_EQ(*store->GetCounter("last"), static_cast<uint64_t>(kBatches - 1));
}

TEST(RocksdbStateStoreConcurrency, ConcurrentCommitsShareSyncedWrites) {
  ScratchDir dir;
  auto store = *OpenRocksdbStateStore(dir.Join("db"));
  constexpr int kThreads = 16, kPerThread = 40;
  // The first batch's callback holds the writer until every thread has queued its batches, so
  // they cannot all be written one by one.
  absl::Notification all_queued, first_done;
  auto first = store->NewBatch();
  first->PutCounter("first", 1);
  store->CommitAsync(std::move(first), [&](absl::Status status) {
    EXPECT_TRUE(status.ok());
    all_queued.WaitForNotification();
    first_done.Notify();
  });
  std::atomic<int> durable{0};
  absl::Notification all_durable;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        uint64_t seq = 1 + t * kPerThread + i;
        auto batch = store->NewBatch();
        batch->PutBuild(MakeBuild(seq, "app-" + std::to_string(t)));
        batch->PutDelivery("d-" + std::to_string(seq), {BuildIdFor(seq)}, 0);
        store->CommitAsync(std::move(batch), [&](absl::Status status) {
          EXPECT_TRUE(status.ok()) << status;
          if (durable.fetch_add(1) + 1 == kThreads * kPerThread) all_durable.Notify();
        });
      }
    });
  }
  for (auto& thread : threads) thread.join();
  all_queued.Notify();
  all_durable.WaitForNotification();
  // And blocking commits from many threads at once.
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto batch = store->NewBatch();
        batch->PutCounter("thread-" + std::to_string(t), i + 1);
        EXPECT_TRUE(store->Commit(std::move(batch)).ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(store->ListBuilds("", 0)->size(), static_cast<size_t>(kThreads * kPerThread));
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(store->ListBuilds("app-" + std::to_string(t), 0)->size(),
              static_cast<size_t>(kPerThread));
    EXPECT_EQ(*store->GetCounter("thread-" + std::to_string(t)), 10u);
  }
  StateStore::WriteStats stats = store->write_stats();
  EXPECT_EQ(stats.batches, static_cast<uint64_t>(1 + kThreads * kPerThread + kThreads * 10));
  // At most the held group, one for everything queued behind it, one per blocking commit.
  EXPECT_LE(stats.groups, static_cast<uint64_t>(2 + kThreads * 10));
  EXPECT_LT(stats.groups, stats.batches);
}

TEST(RocksdbStateStoreConcurrency, ACallbackMayCommitAndWaitForIt) {
  ScratchDir dir;
  auto store = *OpenRocksdbStateStore(dir.Join("db"));
  absl::Notification done;
  absl::Status nested;
  store->CommitAsync(store->NewBatch(), [&](absl::Status) {
    auto batch = store->NewBatch();
    batch->PutCounter("nested", 1);
    nested = store->Commit(std::move(batch));
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_TRUE(nested.ok()) << nested;
  EXPECT_EQ(*store->GetCounter("nested"), 1u);
}

}  // namespace
}  // namespace tempa::coordinator
