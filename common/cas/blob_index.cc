#include "common/cas/blob_index.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"

namespace tempa::cas {
namespace {

// Value layout: 8 bytes size, 8 bytes last use (µs since the Unix epoch), both little-endian.
// Fixed-width and tiny: this is read for every blob at startup.
constexpr size_t kValueSize = 16;

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::string EncodeEntry(const BlobIndex::Entry& e) {
  std::string out;
  out.reserve(kValueSize);
  PutFixed64(&out, e.size);
  PutFixed64(&out, static_cast<uint64_t>(absl::ToUnixMicros(e.last_use)));
  return out;
}

std::optional<BlobIndex::Entry> DecodeEntry(const rocksdb::Slice& value) {
  if (value.size() != kValueSize) return std::nullopt;
  BlobIndex::Entry e;
  e.size = GetFixed64(value.data());
  e.last_use = absl::FromUnixMicros(static_cast<int64_t>(GetFixed64(value.data() + 8)));
  return e;
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("blob index: ", what, ": ", s.ToString()));
}

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

}  // namespace

absl::Status BlobIndex::Load() {
  entries_.clear();
  lru_.clear();
  total_bytes_ = 0;
  std::vector<std::string> malformed;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::optional<Entry> e = DecodeEntry(it->value());
    if (!e) {
      malformed.push_back(it->key().ToString());
      continue;
    }
    PutInMemory(it->key().ToString(), *e);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "load");
  for (const std::string& key : malformed) {
    if (auto s = db_->Delete(rocksdb::WriteOptions(), cf_, key); !s.ok()) {
      return FromRocks(s, "delete malformed entry");
    }
  }
  return absl::OkStatus();
}

std::optional<BlobIndex::Entry> BlobIndex::Lookup(absl::string_view hex) const {
  auto it = entries_.find(hex);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

absl::Status BlobIndex::Put(absl::string_view hex, uint64_t size, absl::Time last_use) {
  Entry e{size, last_use};
  // Not synced: the blob file itself is fsynced, and reconciliation on open re-indexes any file
  // whose entry a crash lost.
  auto s = db_->Put(rocksdb::WriteOptions(), cf_, ToSlice(hex), EncodeEntry(e));
  if (!s.ok()) return FromRocks(s, "put");
  PutInMemory(std::string(hex), e);
  return absl::OkStatus();
}

absl::Status BlobIndex::Touch(absl::string_view hex, absl::Time now) {
  auto it = entries_.find(hex);
  if (it == entries_.end() || it->second.last_use >= now) return absl::OkStatus();
  return Put(hex, it->second.size, now);
}

absl::Status BlobIndex::Erase(absl::string_view hex) {
  auto s = db_->Delete(rocksdb::WriteOptions(), cf_, ToSlice(hex));
  if (!s.ok()) return FromRocks(s, "delete");
  EraseInMemory(std::string(hex));
  return absl::OkStatus();
}

std::vector<std::string> BlobIndex::EvictionCandidates(
    uint64_t max_bytes, const std::function<bool(const std::string& hex)>& spared) const {
  std::vector<std::string> out;
  uint64_t total = total_bytes_;
  for (auto it = lru_.begin(); it != lru_.end() && total > max_bytes; ++it) {
    if (spared(it->second)) continue;
    out.push_back(it->second);
    total -= entries_.at(it->second).size;
  }
  return out;
}

std::vector<std::string> BlobIndex::AllHex() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [hex, e] : entries_) out.push_back(hex);
  return out;
}

void BlobIndex::PutInMemory(const std::string& hex, Entry entry) {
  EraseInMemory(hex);
  entries_[hex] = entry;
  lru_.emplace(absl::ToUnixMicros(entry.last_use), hex);
  total_bytes_ += entry.size;
}

void BlobIndex::EraseInMemory(const std::string& hex) {
  auto it = entries_.find(hex);
  if (it == entries_.end()) return;
  lru_.erase({absl::ToUnixMicros(it->second.last_use), hex});
  total_bytes_ -= it->second.size;
  entries_.erase(it);
}

}  // namespace tempa::cas
