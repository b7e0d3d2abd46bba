// Group commit for RocksDB: one writer thread takes everything queued when it wakes, makes it
// durable with ONE synced WAL write, then runs every callback in submission order. Commit order
// is submission order. After a failed write every batch of that group and every later one fails
// (memory and disk may disagree: the process must restart). Closing drains the queue.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace tempa::coordinator {

struct GroupCommitOptions {
  // false: writes reach the OS but not the disk (tests and the bench's unsynced column only).
  bool sync = true;
  // A group closes once it holds this many bytes of batches (it always takes at least one).
  size_t max_group_bytes = 16 << 20;
};

class GroupCommitWriter {
 public:
  // `column_families`: every handle a submitted batch may name (batches are combined through
  // them). `db` and the handles are not owned and must outlive the writer.
  GroupCommitWriter(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> column_families,
                    GroupCommitOptions options = {});
  // Close()s.
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Queues `batch`; `done` runs on the writer thread once it is durable (OK) or failed, after the
  // callbacks of every batch submitted before it. `done` must not block on a later commit.
  void Submit(rocksdb::WriteBatch batch, std::function<void(absl::Status)> done);
  // Submit and wait. Refused (without writing) when called from a callback: it would deadlock.
  absl::Status Write(rocksdb::WriteBatch batch);
  // Stops accepting, makes everything queued durable, joins the writer. Idempotent.
  void Close();

  struct Stats {
    uint64_t batches = 0;  // batches written (durable)
    uint64_t groups = 0;   // WAL writes that made them durable
  };
  Stats stats() const;

 private:
  struct Pending {
    rocksdb::WriteBatch batch;
    std::function<void(absl::Status)> done;
  };
  void Run();
  // Writes `group` as one batch; returns the status every member gets.
  absl::Status WriteGroup(std::vector<Pending>& group, std::vector<absl::Status>& statuses);

  rocksdb::DB* const db_;
  std::vector<rocksdb::ColumnFamilyHandle*> column_families_;  // indexed by column family id
  const GroupCommitOptions options_;

  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Set by the first failed write; every later batch fails with it.
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread::id writer_id_;
  std::thread writer_;
};

}  // namespace tempa::coordinator
