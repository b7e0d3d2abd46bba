// FileBlobStore: the BlobStore on plain files (root/blobs/sha256/<hex>) with a RocksDB index,
// an optional size cap enforced by least-recently-used eviction, and startup reconciliation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/cas/blob_index.h"
#include "common/cas/blob_store.h"

namespace tempa::cas {

struct FileBlobStoreOptions {
  uint64_t max_bytes = 0;  // 0: no cap
  // The clock behind last-use times; tests pass a scripted one so LRU order needs no sleeping.
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

class FileBlobStore : public BlobStore {
 public:
  // `root` must hold blobs/sha256/ and tmp/, and the caller must hold the exclusive lock on the
  // store (LocalCas does, through the RocksDB LOCK): Open deletes every file in tmp/ as stale.
  // `db` and `cf` (the blob index column family) must outlive the store.
  static absl::StatusOr<std::unique_ptr<FileBlobStore>> Open(std::string root, rocksdb::DB* db,
                                                             rocksdb::ColumnFamilyHandle* cf,
                                                             FileBlobStoreOptions options);

  // Writers must be destroyed before the store.
  absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter() override;
  absl::StatusOr<Digest> Put(absl::string_view data) override;
  absl::StatusOr<bool> Contains(const Digest& digest) override;
  absl::StatusOr<uint64_t> Size(const Digest& digest) override;
  absl::StatusOr<std::string> Path(const Digest& digest) override;
  absl::StatusOr<std::string> Read(const Digest& digest) override;
  absl::Status Verify(const Digest& digest) override;
  // Pinned blobs are never evicted, even when the store stays over its cap because of them.
  absl::StatusOr<BlobPin> Pin(const Digest& digest) override;

  // Evicts least-recently-used unpinned blobs until the total fits the cap (no-op without one).
  absl::Status EvictToFit();
  uint64_t total_bytes();

 private:
  friend class FileBlobWriter;

  FileBlobStore(std::string root, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                FileBlobStoreOptions options);

  std::string BlobPath(absl::string_view hex) const;
  // Moves a hashed, fsynced temp file into place as `digest` and indexes it; pins it before
  // anything is evicted when `pin` is set.
  absl::Status Publish(const std::string& temp_path, const Digest& digest, uint64_t size,
                       BlobPin* pin);
  BlobPin PinLocked(const std::string& hex) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes startup leftovers and makes the index and the blob directory agree.
  absl::Status Reconcile();
  // Checks the file still exists with the indexed size; drops the entry (and file) otherwise.
  absl::StatusOr<bool> CheckPresentLocked(absl::string_view hex) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RemoveLocked(absl::string_view hex) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status EvictLocked(absl::string_view keep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks use and returns the path, or NotFound.
  absl::StatusOr<std::string> AcquirePath(const Digest& digest);
  // Called after hashing found `digest`'s file to hash to `actual`.
  absl::Status ReportCorruption(const Digest& digest, const Digest& actual);

  const std::string root_;
  const std::string blob_dir_;
  const std::string tmp_dir_;
  const FileBlobStoreOptions options_;
  absl::Mutex mu_;
  BlobIndex index_ ABSL_GUARDED_BY(mu_);
  // Digest hex → how many pins hold it.
  absl::flat_hash_map<std::string, int> pins_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tempa::cas
