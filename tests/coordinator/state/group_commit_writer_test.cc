#include "coordinator/state/group_commit_writer.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "tests/coordinator/state/scratch_dir.h"

namespace tempa::coordinator {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;

// A file system whose WAL files fail to sync while `fail_sync` is set: a disk that broke.
class FailingSyncFileSystem : public rocksdb::FileSystemWrapper {
 public:
  FailingSyncFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FailingSyncFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus status = target()->NewWritableFile(name, options, file, dbg);
    if (status.ok() && name.size() > 4 && name.substr(name.size() - 4) == ".log") {
      *file = std::make_unique<WalFile>(std::move(*file), this);
    }
    return status;
  }

  std::atomic<bool> fail_sync{false};

 private:
  class WalFile : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    WalFile(std::unique_ptr<rocksdb::FSWritableFile> file, FailingSyncFileSystem* fs)
        : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
      if (fs_->fail_sync) return rocksdb::IOStatus::IOError("injected: the disk failed");
      return FSWritableFileOwnerWrapper::Sync(options, dbg);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
      if (fs_->fail_sync) return rocksdb::IOStatus::IOError("injected: the disk failed");
      return FSWritableFileOwnerWrapper::Fsync(options, dbg);
    }

   private:
    FailingSyncFileSystem* fs_;
  };
};

class GroupCommitWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<FailingSyncFileSystem>();
    env_ = rocksdb::NewCompositeEnv(fs_);
    rocksdb::Options options;
    options.create_if_missing = true;
    options.env = env_.get();
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_.Join("db"), &db).ok());
    db_.reset(db);
    writer_ = std::make_unique<GroupCommitWriter>(
        db_.get(), std::vector<rocksdb::ColumnFamilyHandle*>{db_->DefaultColumnFamily()});
  }
  void TearDown() override {
    writer_.reset();
    db_.reset();
  }

  static rocksdb::WriteBatch Put(const std::string& key, const std::string& value) {
    rocksdb::WriteBatch batch;
    EXPECT_TRUE(batch.Put(key, value).ok());
    return batch;
  }
  std::optional<std::string> Read(const std::string& key) {
    std::string value;
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), key, &value);
    if (status.IsNotFound()) return std::nullopt;
    EXPECT_TRUE(status.ok()) << status.ToString();
    return value;
  }

  ScratchDir dir_;
  std::shared_ptr<FailingSyncFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<GroupCommitWriter> writer_;
};

TEST_F(GroupCommitWriterTest, BatchesQueuedDuringAWriteShareTheNextOneAndCallbacksKeepOrder) {
  absl::Notification release;
  absl::Mutex mu;
  std::vector<int> order;
  writer_->Submit(Put("k", "0"), [&](absl::Status status) {
    EXPECT_TRUE(status.ok());
    release.WaitForNotification();  // holds the writer while the others queue
    absl::MutexLock lock(&mu);
    order.push_back(0);
  });
  constexpr int kQueued = 100;
  absl::Notification all_told;
  for (int i = 1; i <= kQueued; ++i) {
    rocksdb::WriteBatch batch = Put("k", std::to_string(i));
    EXPECT_TRUE(batch.Put("key-" + std::to_string(i), "v").ok());
    writer_->Submit(std::move(batch), [&, i](absl::Status status) {
      EXPECT_TRUE(status.ok()) << status;
      absl::MutexLock lock(&mu);
      order.push_back(i);
      if (i == kQueued) all_told.Notify();
    });
  }
  release.Notify();
  // Submitted after the hundred, so durable after them (it may lead their group itself).
  EXPECT_TRUE(writer_->Write(Put("k", "last")).ok());
  for (int i = 1; i <= kQueued; ++i) EXPECT_EQ(Read("key-" + std::to_string(i)), "v");
  all_told.WaitForNotification();

  absl::MutexLock lock(&mu);
  ASSERT_EQ(order.size(), static_cast<size_t>(kQueued + 1));
  for (int i = 0; i <= kQueued; ++i) EXPECT_EQ(order[i], i);
  EXPECT_EQ(Read("k"), "last");
  GroupCommitWriter::Stats stats = writer_->stats();
  EXPECT_EQ(stats.batches, static_cast<uint64_t>(kQueued + 2));
  // The held group, the hundred queued behind it, the last one.
  EXPECT_LE(stats.groups, 3u);
}

TEST_F(GroupCommitWriterTest, AFailedWriteFailsItsWholeGroupAndEveryLaterBatch) {
  ASSERT_TRUE(writer_->Write(Put("before", "1")).ok());
  absl::Notification holding, release;
  writer_->Submit(Put("held", "1"), [&](absl::Status status) {
    EXPECT_TRUE(status.ok());
    holding.Notify();
    release.WaitForNotification();
  });
  holding.WaitForNotification();
  std::vector<absl::Status> group(3);
  absl::Notification group_done;
  for (int i = 0; i < 3; ++i) {
    writer_->Submit(Put("group-" + std::to_string(i), "1"), [&, i](absl::Status status) {
      group[i] = status;
      if (i == 2) group_done.Notify();
    });
  }
  fs_->fail_sync = true;
  release.Notify();
  group_done.WaitForNotification();
  for (const absl::Status& status : group) {
    EXPECT_FALSE(status.ok());
    EXPECT_THAT(status.message(), HasSubstr("injected: the disk failed"));
  }
  // The disk recovers, the writer does not: memory and disk may disagree.
  fs_->fail_sync = false;
  absl::Status later = writer_->Write(Put("after", "1"));
  EXPECT_EQ(later.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(later.message(),
              HasSubstr("the state store failed earlier: restart the coordinator"));
  EXPECT_EQ(Read("group-0"), std::nullopt);
  EXPECT_EQ(Read("after"), std::nullopt);
  EXPECT_EQ(Read("before"), "1");
  EXPECT_EQ(writer_->stats().batches, 2u);
}

TEST_F(GroupCommitWriterTest, AFailedWriteWithNothingQueuedAlsoFailsEveryLaterBatch) {
  ASSERT_TRUE(writer_->Write(Put("before", "1")).ok());
  fs_->fail_sync = true;
  absl::Status failed = writer_->Write(Put("lost", "1"));
  EXPECT_THAT(failed.message(), HasSubstr("injected: the disk failed"));
  fs_->fail_sync = false;
  absl::Status later = writer_->Write(Put("after", "1"));
  EXPECT_THAT(later.message(),
              HasSubstr("the state store failed earlier: restart the coordinator"));
  absl::Notification done;
  absl::Status async;
  writer_->Submit(Put("after-async", "1"), [&](absl::Status status) {
    async = status;
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_THAT(async.message(), HasSubstr("restart the coordinator"));
  EXPECT_EQ(Read("lost"), std::nullopt);
  EXPECT_EQ(Read("after"), std::nullopt);
  EXPECT_EQ(Read("after-async"), std::nullopt);
}

TEST_F(GroupCommitWriterTest, CloseWritesEverythingQueuedThenRefusesMore) {
  std::atomic<int> ok{0};
  constexpr int kBatches = 200;
  for (int i = 0; i < kBatches; ++i) {
    writer_->Submit(Put("key-" + std::to_string(i), "v"), [&](absl::Status status) {
      if (status.ok()) ok.fetch_add(1);
    });
  }
  writer_->Close();
  EXPECT_EQ(ok.load(), kBatches);
  for (int i = 0; i < kBatches; ++i) EXPECT_EQ(Read("key-" + std::to_string(i)), "v");
  absl::Status refused = writer_->Write(Put("late", "v"));
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Read("late"), std::nullopt);
}

TEST_F(GroupCommitWriterTest, ABatchNamingAnUnknownColumnFamilyFailsAloneInItsGroup) {
  rocksdb::ColumnFamilyHandle* other = nullptr;
  ASSERT_TRUE(db_->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "other", &other).ok());
  absl::Notification holding, release, done;
  writer_->Submit(Put("held", "1"), [&](absl::Status) {
    holding.Notify();
    release.WaitForNotification();
  });
  holding.WaitForNotification();
  absl::Status good1, bad, good2;
  writer_->Submit(Put("good-1", "1"), [&](absl::Status s) { good1 = s; });
  rocksdb::WriteBatch unknown;
  ASSERT_TRUE(unknown.Put(other, "x", "1").ok());
  writer_->Submit(std::move(unknown), [&](absl::Status s) { bad = s; });
  writer_->Submit(Put("good-2", "1"), [&](absl::Status s) {
    good2 = s;
    done.Notify();
  });
  release.Notify();
  done.WaitForNotification();
  EXPECT_TRUE(good1.ok()) << good1;
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(good2.ok()) << good2;
  EXPECT_EQ(Read("good-1"), "1");
  EXPECT_EQ(Read("good-2"), "1");
  EXPECT_TRUE(writer_->Write(Put("still", "1")).ok());
  writer_.reset();
  EXPECT_TRUE(db_->DestroyColumnFamilyHandle(other).ok());
}

}  // namespace
}  // namespace tempa::coordinator
