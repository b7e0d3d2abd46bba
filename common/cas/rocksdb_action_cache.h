// RocksDbActionCache: the ActionCache in a RocksDB column family, values being serialized
// tempa.v1.LayerDescriptor messages (the same form the coordinator's fleet-wide cache uses).
#pragma once

#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/cas/action_cache.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace tempa::cas {

class RocksDbActionCache : public ActionCache {
 public:
  // `db` and `cf` must outlive the cache. Thread-safe (RocksDB is).
  RocksDbActionCache(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) : db_(db), cf_(cf) {}

  // An entry that no longer decodes is deleted and reported as a miss: a cache must never
  // fail a build that could simply rebuild the layer.
  absl::StatusOr<std::optional<oci::LayerRecord>> Get(absl::string_view key) override;
  // Synced to disk before returning.
  absl::Status Put(absl::string_view key, const oci::LayerRecord& layer) override;

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
};

}  // namespace tempa::cas
