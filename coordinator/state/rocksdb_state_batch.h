// The StateBatch of the RocksDB state store: a rocksdb::WriteBatch over the store's column
// families that also keeps the indexes (unfinished builds, builds per app) in step with every
// build it writes. A call given something the layout cannot hold (a build id not "b-<n>", a NUL
// in a name) records the problem; committing the batch then fails with it and writes nothing.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/state/state_store.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace tempa::coordinator {

struct StateColumnFamilies {
  rocksdb::ColumnFamilyHandle* apps = nullptr;
  rocksdb::ColumnFamilyHandle* secrets = nullptr;
  rocksdb::ColumnFamilyHandle* builds = nullptr;
  rocksdb::ColumnFamilyHandle* builds_by_app = nullptr;
  rocksdb::ColumnFamilyHandle* unfinished = nullptr;
  rocksdb::ColumnFamilyHandle* logs = nullptr;
  rocksdb::ColumnFamilyHandle* workers = nullptr;
  rocksdb::ColumnFamilyHandle* layer_cache = nullptr;
  rocksdb::ColumnFamilyHandle* deliveries = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  rocksdb::ColumnFamilyHandle* deploys = nullptr;
  rocksdb::ColumnFamilyHandle* unfinished_deploys = nullptr;
};

class RocksdbStateBatch : public StateBatch {
 public:
  explicit RocksdbStateBatch(const StateColumnFamilies& families) : families_(families) {}

  void PutApp(const v1::App& app) override;
  void DeleteApp(absl::string_view name) override;
  void PutSecret(absl::string_view app, absl::string_view kind, absl::string_view sealed) override;
  void DeleteSecret(absl::string_view app, absl::string_view kind) override;
  void PutBuild(const v1::Build& build) override;
  void AppendLog(absl::string_view build_id, const v1::LogLine& line) override;
  void PutWorker(const v1::Worker& worker) override;
  void PutLayer(const v1::LayerCacheEntry& entry) override;
  void PutDelivery(absl::string_view delivery_id, const std::vector<std::string>& build_ids,
                   int64_t unix_ms) override;
  void PutCounter(absl::string_view name, uint64_t value) override;
  void PutDeploy(const v1::Deploy& deploy) override;
  bool empty() const override { return operations_ == 0; }

  // OK, or the first problem a call recorded.
  const absl::Status& error() const { return error_; }
  rocksdb::WriteBatch& write_batch() { return batch_; }

 private:
  void Put(rocksdb::ColumnFamilyHandle* family, const std::string& key, const std::string& value);
  void Delete(rocksdb::ColumnFamilyHandle* family, const std::string& key);
  void PutMessage(rocksdb::ColumnFamilyHandle* family, const std::string& key,
                  const google::protobuf::MessageLite& message);
  // Records `problem` unless an earlier one is recorded; returns false.
  bool Fail(absl::Status problem);
  // A name that becomes (part of) a key: non-empty, no NUL (NUL separates key parts).
  bool CheckName(absl::string_view what, absl::string_view name);

  StateColumnFamilies families_;
  rocksdb::WriteBatch batch_;
  int operations_ = 0;
  absl::Status error_;
};

}  // namespace tempa::coordinator
