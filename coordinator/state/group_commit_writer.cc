#include "coordinator/state/group_commit_writer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator/state/state_keys.h"
#include "rocksdb/statistics.h"

namespace tempa::coordinator {
namespace {

// Why one combined WriteBatch with sync=true, and not Write(sync=false) per batch then one
// SyncWAL():
// - a synced Write makes its changes visible to readers only after the WAL fsync returned;
//   Write(sync=false) + SyncWAL() lets a reader see (and the coordinator act on, or tell a
//   client about) a change that a crash can still take back;
// - when SyncWAL() fails the memtable already holds the group's changes: memory and disk
//   disagree with no way back, where a failed synced Write leaves nothing of it visible and
//   RocksDB in its background-error state;
// - the WAL record of one batch is all-or-nothing on recovery, so a group never half-survives.
// Why both our queue and RocksDB's write thread (whose leader also writes every concurrent
// synced writer's batch with one WAL write and one fsync): CommitAsync needs a queue (no thread
// per in-flight commit, callbacks in submission order), and a blocked Write() behind queued
// batches must come after them. But a Write() with nothing ahead of it goes straight to
// RocksDB, where the running thread leads and followers spin briefly before sleeping. Measured
// by state_bench on this 2-core machine under load (fsync 5.3 ms), median events/s at 16 / 64 /
// 256 clients: every Commit through our queue (the writer thread or a blocked Write leading)
// 2,300-2,900 / 9,400 / 29,000-48,000; through RocksDB's write thread 11,000-17,000 / 17,000-
// 22,000 / 25,000-27,000. The hybrid keeps RocksDB's figures where it is ahead, and ours for
// CommitAsync. Ordering holds: the direct path is taken only when no earlier batch is queued or
// being written, so concurrent direct writers are unordered only among themselves (none of them
// has returned yet).

// Copies every operation of a batch into `out` (RocksDB 7.8 has no public WriteBatch::Append).
class AppendTo : public rocksdb::WriteBatch::Handler {
 public:
  AppendTo(rocksdb::WriteBatch* out, const std::vector<rocksdb::ColumnFamilyHandle*>& families)
      : out_(out), families_(families) {}

  rocksdb::Status PutCF(uint32_t id, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    rocksdb::ColumnFamilyHandle* family = Find(id);
    return family ? out_->Put(family, key, value) : Unknown(id);
  }
  rocksdb::Status DeleteCF(uint32_t id, const rocksdb::Slice& key) override {
    rocksdb::ColumnFamilyHandle* family = Find(id);
    return family ? out_->Delete(family, key) : Unknown(id);
  }
  rocksdb::Status SingleDeleteCF(uint32_t id, const rocksdb::Slice& key) override {
    rocksdb::ColumnFamilyHandle* family = Find(id);
    return family ? out_->SingleDelete(family, key) : Unknown(id);
  }
  rocksdb::Status DeleteRangeCF(uint32_t id, const rocksdb::Slice& begin,
                                const rocksdb::Slice& end) override {
    rocksdb::ColumnFamilyHandle* family = Find(id);
    return family ? out_->DeleteRange(family, begin, end) : Unknown(id);
  }
  rocksdb::Status MergeCF(uint32_t id, const rocksdb::Slice& key,
                          const rocksdb::Slice& value) override {
    rocksdb::ColumnFamilyHandle* family = Find(id);
    return family ? out_->Merge(family, key, value) : Unknown(id);
  }
  void LogData(const rocksdb::Slice& blob) override {
    out_->PutLogData(blob).PermitUncheckedError();
  }

 private:
  rocksdb::ColumnFamilyHandle* Find(uint32_t id) const {
    return id < families_.size() ? families_[id] : nullptr;
  }
  static rocksdb::Status Unknown(uint32_t id) {
    return rocksdb::Status::InvalidArgument(absl::StrCat("column family ", id, " is not known"));
  }
  rocksdb::WriteBatch* out_;
  const std::vector<rocksdb::ColumnFamilyHandle*>& families_;
};

}  // namespace

GroupCommitWriter::GroupCommitWriter(rocksdb::DB* db,
                                     std::vector<rocksdb::ColumnFamilyHandle*> column_families,
                                     GroupCommitOptions options)
    : db_(db), options_(options) {
  for (rocksdb::ColumnFamilyHandle* family : column_families) {
    uint32_t id = family->GetID();
    if (id >= column_families_.size()) column_families_.resize(id + 1, nullptr);
    column_families_[id] = family;
  }
  writer_ = std::thread([this] { Run(); });
}

GroupCommitWriter::~GroupCommitWriter() { Close(); }

void GroupCommitWriter::Submit(rocksdb::WriteBatch batch, std::function<void(absl::Status)> done) {
  {
    absl::MutexLock lock(&mu_);
    if (!closing_) {
      queue_.push_back(Pending{std::move(batch), std::move(done), nullptr});
      return;
    }
  }
  done(absl::FailedPreconditionError("the state store is closed: nothing more is written"));
}

absl::Status GroupCommitWriter::Write(rocksdb::WriteBatch batch) {
  Waiter waiter;
  absl::MutexLock lock(&mu_);
  if (closing_) {
    return absl::FailedPreconditionError("the state store is closed: nothing more is written");
  }
  if (!failed_.ok()) return failed_;
  if (queue_.empty() && !writing_) {
    ++direct_;
    mu_.Unlock();
    rocksdb::WriteOptions write_options;
    write_options.sync = options_.sync;
    absl::Status written = state_keys::FromRocksdb(db_->Write(write_options, &batch),
                                                   "state store: durable write of a batch");
    mu_.Lock();
    --direct_;
    if (written.ok()) {
      ++stats_.batches;
      ++stats_.groups;
    } else if (failed_.ok()) {
      failed_ = absl::UnavailableError(absl::StrCat(
          "the state store failed earlier: restart the coordinator (", written.message(), ")"));
    }
    return written;
  }
  queue_.push_back(Pending{std::move(batch), nullptr, &waiter});
  for (;;) {
    auto ready = [this, &waiter]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return waiter.done || CanLead(); };
    mu_.Await(absl::Condition(&ready));
    if (waiter.done) return waiter.status;
    LeadOneGroup();
  }
}

void GroupCommitWriter::Close() {
  bool join = false;
  {
    absl::MutexLock lock(&mu_);
    if (!closing_) closing_ = join = true;
  }
  if (join) writer_.join();
}

GroupCommitWriter::Stats GroupCommitWriter::stats() const {
  Stats stats;
  {
    absl::MutexLock lock(&mu_);
    stats = stats_;
  }
  if (std::shared_ptr<rocksdb::Statistics> statistics = db_->GetDBOptions().statistics) {
    stats.groups = statistics->getTickerCount(rocksdb::WRITE_DONE_BY_SELF);
  }
  return stats;
}

void GroupCommitWriter::Run() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !callbacks_.empty() || CanLead() || (closing_ && !writing_ && direct_ == 0);
    };
    mu_.Await(absl::Condition(&ready));
    if (!callbacks_.empty()) {
      std::deque<Finished> finished;
      finished.swap(callbacks_);
      mu_.Unlock();
      for (Finished& item : finished) item.done(std::move(item.status));
      mu_.Lock();
    } else if (CanLead()) {
      LeadOneGroup();
    } else {
      return;  // closing, nothing queued, nobody writing, everyone told
    }
  }
}

void GroupCommitWriter::LeadOneGroup() {
  std::vector<Pending> group;
  size_t bytes = 0;
  while (!queue_.empty() && (group.empty() || bytes + queue_.front().batch.GetDataSize() <=
                                                  options_.max_group_bytes)) {
    bytes += queue_.front().batch.GetDataSize();
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  writing_ = true;
  absl::Status failed = failed_;
  std::vector<absl::Status> statuses(group.size());
  mu_.Unlock();
  absl::Status written = failed;
  if (failed.ok()) {
    written = WriteGroup(group, statuses);
  } else {
    for (absl::Status& status : statuses) status = failed;
  }
  mu_.Lock();
  writing_ = false;
  if (failed.ok()) {
    if (!written.ok()) {
      failed_ = absl::UnavailableError(absl::StrCat(
          "the state store failed earlier: restart the coordinator (", written.message(), ")"));
    } else {
      ++stats_.groups;
      for (const absl::Status& status : statuses) stats_.batches += status.ok() ? 1 : 0;
    }
  }
  for (size_t i = 0; i < group.size(); ++i) {
    if (group[i].waiter != nullptr) {
      group[i].waiter->status = std::move(statuses[i]);
      group[i].waiter->done = true;
    } else {
      callbacks_.push_back(Finished{std::move(group[i].done), std::move(statuses[i])});
    }
  }
}

absl::Status GroupCommitWriter::WriteGroup(std::vector<Pending>& group,
                                           std::vector<absl::Status>& statuses) {
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync;
  rocksdb::Status written;
  if (group.size() == 1) {
    written = db_->Write(write_options, &group[0].batch);
  } else {
    rocksdb::WriteBatch combined;
    for (size_t i = 0; i < group.size(); ++i) {
      combined.SetSavePoint();
      AppendTo append(&combined, column_families_);
      rocksdb::Status copied = group[i].batch.Iterate(&append);
      if (copied.ok()) {
        combined.PopSavePoint().PermitUncheckedError();
      } else {
        combined.RollbackToSavePoint().PermitUncheckedError();
        statuses[i] = state_keys::FromRocksdb(copied,
                                              "state store: a batch names an operation "
                                              "the group writer cannot combine");
      }
    }
    written = db_->Write(write_options, &combined);
  }
  absl::Status result = state_keys::FromRocksdb(
      written, absl::StrCat("state store: durable write of ", group.size(), " batches"));
  if (!result.ok()) {
    for (absl::Status& status : statuses) status = result;
  }
  return result;
}

}  // namespace tempa::coordinator
