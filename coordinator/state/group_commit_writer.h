// Group commit for RocksDB. Submitted batches queue; whoever leads takes everything queued,
// makes it durable with ONE synced WAL write and hands each batch its result; one such group is
// written at a time, so commit order is submission order. The leader is the writer thread, or a
// thread blocked in Write() (already running: no hand-off before the fsync). A Write() that finds
// nothing queued or being written goes straight to RocksDB's own write thread, which groups
// concurrent synced writers into one WAL write and fsync as well (see the .cc for why both).
// Submit's callbacks run on the writer thread, in submission order. After a failed write every
// batch of that group and every later one fails (memory and disk may disagree: the process must
// restart). Closing drains the queue.
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
  // callbacks of every batch submitted before it. `done` may call Write (it leads a group itself).
  void Submit(rocksdb::WriteBatch batch, std::function<void(absl::Status)> done);
  // Queues `batch` and returns once it is durable (OK) or failed; writes a group itself when no
  // other thread is writing one.
  absl::Status Write(rocksdb::WriteBatch batch);
  // Stops accepting, makes everything queued durable, joins the writer. Idempotent.
  void Close();

  struct Stats {
    uint64_t batches = 0;  // batches written (durable)
    // WAL writes that made them durable: RocksDB's WRITE_DONE_BY_SELF ticker (one per write
    // group) when the DB keeps statistics, else the writes this writer issued.
    uint64_t groups = 0;
  };
  Stats stats() const;

 private:
  // A blocked Write()'s slot, on its stack; filled by the leader of its group.
  struct Waiter {
    bool done = false;
    absl::Status status;
  };
  struct Pending {
    rocksdb::WriteBatch batch;
    std::function<void(absl::Status)> done;  // Submit
    Waiter* waiter = nullptr;                // Write
  };
  struct Finished {
    std::function<void(absl::Status)> done;
    absl::Status status;
  };
  // The writer thread: runs callbacks, leads groups nobody else leads, drains on close.
  void Run();
  bool CanLead() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !writing_ && !queue_.empty(); }
  // Takes the queued batches, writes them (mu_ released meanwhile), hands out the results.
  void LeadOneGroup() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes `group` as one batch; fills `statuses`; returns the write's status.
  absl::Status WriteGroup(std::vector<Pending>& group, std::vector<absl::Status>& statuses);

  rocksdb::DB* const db_;
  std::vector<rocksdb::ColumnFamilyHandle*> column_families_;  // indexed by column family id
  const GroupCommitOptions options_;

  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  std::deque<Finished> callbacks_ ABSL_GUARDED_BY(mu_);  // durable or failed, not yet told
  bool writing_ ABSL_GUARDED_BY(mu_) = false;            // a group is being written
  int direct_ ABSL_GUARDED_BY(mu_) = 0;  // Write()s inside RocksDB's own write thread
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  // Set by the first failed write; every later batch fails with it.
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread writer_;
};

}  // namespace tempa::coordinator
