#include "common/cas/local_cas.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/cas/file_blob_store.h"
#include "common/cas/rocksdb_action_cache.h"
#include "common/status_macros.h"
#include "rocksdb/db.h"

namespace tempa::cas {
namespace {

constexpr char kBlobsFamily[] = "blobs";
constexpr char kActionsFamily[] = "actions";
constexpr absl::Duration kLockRetryInterval = absl::Milliseconds(100);

// RocksDB reports a held LOCK as an IOError: "While lock file: …/LOCK: Resource temporarily
// unavailable" from another process, "lock hold by current process" from this one.
bool IsLockHeld(const rocksdb::Status& s) {
  return s.IsIOError() && absl::StrContains(absl::AsciiStrToLower(s.ToString()), "lock");
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalCas>> LocalCas::Open(const std::string& root,
                                                         const LocalCasOptions& options) {
  std::error_code ec;
  for (const char* sub : {"/index", "/blobs/sha256", "/tmp"}) {
    std::filesystem::create_directories(root + sub, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("create cache directory ", root, sub, ": ", ec.message()));
    }
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.keep_log_file_num = 3;  // RocksDB's info logs would otherwise pile up per restart
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kBlobsFamily, rocksdb::ColumnFamilyOptions()},
      {kActionsFamily, rocksdb::ColumnFamilyOptions()},
  };

  std::unique_ptr<LocalCas> cas(new LocalCas());
  const absl::Time deadline = absl::Now() + options.lock_wait;
  bool told_waiting = false;
  while (true) {
    rocksdb::DB* db = nullptr;
    cas->handles_.clear();
    rocksdb::Status s =
        rocksdb::DB::Open(db_options, root + "/index", families, &cas->handles_, &db);
    if (s.ok()) {
      cas->db_.reset(db);
      break;
    }
    if (!IsLockHeld(s)) {
      return absl::InternalError(absl::StrCat("open cache index ", root, "/index: ", s.ToString()));
    }
    // Another tempa process (typically a previous worker still shutting down) owns the
    // directory; RocksDB allows one process per DB, so wait for it a bounded time.
    if (options.on_wait && !told_waiting) options.on_wait();
    told_waiting = true;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::UnavailableError(absl::StrCat(
          "cache directory ", root,
          " is in use by another tempa process; wait for it or pass a different --cache-dir"));
    }
    absl::SleepFor(std::min(left, kLockRetryInterval));
  }

  FileBlobStoreOptions blob_options;
  blob_options.max_bytes = options.max_bytes;
  blob_options.now = options.now;
  ASSIGN_OR_RETURN(cas->blobs_,
                   FileBlobStore::Open(root, cas->db_.get(), cas->handles_[1], blob_options));
  cas->actions_ = std::make_unique<RocksDbActionCache>(cas->db_.get(), cas->handles_[2]);
  return cas;
}

LocalCas::~LocalCas() {
  blobs_.reset();
  actions_.reset();
  if (db_) {
    for (rocksdb::ColumnFamilyHandle* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
    db_->Close();
  }
}

BlobStore& LocalCas::blobs() { return *blobs_; }
ActionCache& LocalCas::actions() { return *actions_; }
absl::Status LocalCas::EvictToFit() { return blobs_->EvictToFit(); }
uint64_t LocalCas::total_bytes() { return blobs_->total_bytes(); }

}  // namespace tempa::cas
