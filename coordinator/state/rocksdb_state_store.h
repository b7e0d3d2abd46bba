// The StateStore in RocksDB: one column family per kind of record (see state_keys.h for the key
// layout), every commit through a GroupCommitWriter (one synced WAL write per group), reads
// straight from the DB (multi-step listings from one snapshot). A value that does not parse is
// DataLoss naming its column family and key, never a crash.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "coordinator/state/group_commit_writer.h"
#include "coordinator/state/rocksdb_state_batch.h"
#include "coordinator/state/state_store.h"
#include "rocksdb/db.h"

namespace tempa::coordinator {

// Most records one call returns: ReadLog lines, ListBuilds builds (a larger or non-positive
// limit means this many).
inline constexpr int kMaxLogLinesPerRead = 10000;
inline constexpr int kMaxBuildsPerList = 10000;

class RocksdbStateStore : public StateStore {
 public:
  // Takes the open DB and its handles (all of them, `families` among them).
  RocksdbStateStore(std::unique_ptr<rocksdb::DB> db,
                    std::vector<rocksdb::ColumnFamilyHandle*> handles, StateColumnFamilies families,
                    StateStoreOptions options);
  // Drains the writer, then closes the DB.
  ~RocksdbStateStore() override;

  std::unique_ptr<StateBatch> NewBatch() override;
  absl::Status Commit(std::unique_ptr<StateBatch> batch) override;
  void CommitAsync(std::unique_ptr<StateBatch> batch,
                   std::function<void(absl::Status)> done) override;

  absl::StatusOr<std::optional<v1::App>> GetApp(absl::string_view name) override;
  absl::StatusOr<std::vector<v1::App>> ListApps() override;
  absl::StatusOr<std::optional<std::string>> GetSecret(absl::string_view app,
                                                       absl::string_view kind) override;
  absl::StatusOr<std::optional<v1::Build>> GetBuild(absl::string_view id) override;
  absl::StatusOr<std::vector<v1::Build>> ListBuilds(absl::string_view app, int limit) override;
  absl::StatusOr<std::vector<v1::Build>> ListUnfinishedBuilds() override;
  absl::StatusOr<std::vector<v1::LogLine>> ReadLog(absl::string_view build_id, int64_t from_line,
                                                   int limit) override;
  absl::StatusOr<std::optional<std::vector<std::string>>> GetDelivery(
      absl::string_view delivery_id) override;
  absl::StatusOr<std::optional<v1::LayerCacheEntry>> GetLayer(absl::string_view key) override;
  absl::StatusOr<std::vector<v1::Worker>> ListWorkers() override;
  absl::StatusOr<uint64_t> GetCounter(absl::string_view name) override;
  absl::StatusOr<std::optional<v1::Deploy>> GetDeploy(absl::string_view id) override;
  absl::StatusOr<std::vector<v1::Deploy>> ListDeploys(absl::string_view app, int limit) override;
  absl::StatusOr<std::vector<v1::Deploy>> ListUnfinishedDeploys() override;
  WriteStats write_stats() const override;

 private:
  // The value at `key`, nullopt when absent.
  absl::StatusOr<std::optional<std::string>> Get(rocksdb::ColumnFamilyHandle* family,
                                                 const std::string& key,
                                                 const rocksdb::Snapshot* snapshot = nullptr);
  // The build stored under `sequence` (DataLoss when the record names another id).
  absl::StatusOr<std::optional<v1::Build>> GetBuildAt(uint64_t sequence,
                                                      const rocksdb::Snapshot* snapshot);

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  StateColumnFamilies families_;
  GroupCommitWriter writer_;
};

}  // namespace tempa::coordinator
