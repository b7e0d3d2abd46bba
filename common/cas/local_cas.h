// LocalCas: a worker's on-disk content-addressed store — blob files plus one RocksDB (the blob
// index and the action cache) under a single cache directory, owned by one process at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/cas/action_cache.h"
#include "common/cas/blob_store.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace tempa::cas {

class FileBlobStore;
class RocksDbActionCache;

struct LocalCasOptions {
  uint64_t max_bytes = 0;  // 0 = no cap
  // How long Open waits for another process to release the cache directory.
  absl::Duration lock_wait = absl::Seconds(30);
  // Called once when Open finds another process holding the directory and starts to wait.
  std::function<void()> on_wait;
  // Clock for last-use times (LRU eviction); tests inject a scripted one.
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

class LocalCas {
 public:
  // Opens (creating if needed) the store under `root`:
  //   root/index/              RocksDB: column families "blobs" (digest → size, last use) and
  //                            "actions" (cache key → serialized tempa.v1.LayerDescriptor)
  //   root/blobs/sha256/<hex>  blob files
  //   root/tmp/                writers' temp files (cleared on open)
  // When another process holds the directory, retries until `lock_wait` and then fails with
  // Unavailable naming the directory.
  static absl::StatusOr<std::unique_ptr<LocalCas>> Open(const std::string& root,
                                                        const LocalCasOptions& options);
  ~LocalCas();
  LocalCas(const LocalCas&) = delete;
  LocalCas& operator=(const LocalCas&) = delete;

  BlobStore& blobs();
  ActionCache& actions();
  // Evicts least-recently-used blobs until the total fits max_bytes.
  absl::Status EvictToFit();
  // Sum of the sizes of all indexed blobs.
  uint64_t total_bytes();

 private:
  LocalCas() = default;

  // Destruction order matters: the stores use the handles, the handles belong to the DB.
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<FileBlobStore> blobs_;
  std::unique_ptr<RocksDbActionCache> actions_;
};

}  // namespace tempa::cas
