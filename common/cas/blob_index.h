// The blob index: digest → (size, last use), kept in a RocksDB column family and mirrored in
// memory so least-recently-used eviction and total size need no scans.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace tempa::cas {

// Not thread-safe: FileBlobStore serialises access under its mutex.
class BlobIndex {
 public:
  struct Entry {
    uint64_t size = 0;
    absl::Time last_use;
  };

  // `db` and `cf` must outlive the index.
  BlobIndex(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) : db_(db), cf_(cf) {}

  // Reads every entry of the column family into memory. Entries that do not decode are deleted.
  absl::Status Load();

  std::optional<Entry> Lookup(absl::string_view hex) const;
  // Inserts or replaces an entry.
  absl::Status Put(absl::string_view hex, uint64_t size, absl::Time last_use);
  // Moves an existing entry's last use forward; a no-op when absent. The write is not synced:
  // losing a last-use update in a crash only makes eviction slightly less precise.
  absl::Status Touch(absl::string_view hex, absl::Time now);
  absl::Status Erase(absl::string_view hex);

  // Least recently used first, skipping those `spared` says to keep, enough that removing them
  // all brings the total to at most `max_bytes` (or every other entry, when that is not enough).
  std::vector<std::string> EvictionCandidates(
      uint64_t max_bytes, const std::function<bool(const std::string& hex)>& spared) const;

  // Every indexed digest hex, for reconciliation with the files on disk.
  std::vector<std::string> AllHex() const;
  uint64_t total_bytes() const { return total_bytes_; }
  size_t size() const { return entries_.size(); }

 private:
  void PutInMemory(const std::string& hex, Entry entry);
  void EraseInMemory(const std::string& hex);

  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  absl::flat_hash_map<std::string, Entry> entries_;
  // (last use in µs since epoch, hex): begin() is the least recently used blob.
  std::set<std::pair<int64_t, std::string>> lru_;
  uint64_t total_bytes_ = 0;
};

}  // namespace tempa::cas
