// Opening the state store: the data dir's checks, RocksDB's options for a small control-plane
// database, the column families.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/posix_status.h"
#include "common/status_macros.h"
#include "coordinator/state/rocksdb_state_store.h"
#include "coordinator/state/state_keys.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/statistics.h"
#include "rocksdb/table.h"

namespace tempa::coordinator {
namespace {

constexpr const char* kFamilies[] = {
    state_keys::kApps,        state_keys::kSecrets,    state_keys::kBuilds,
    state_keys::kBuildsByApp, state_keys::kUnfinished, state_keys::kLogs,
    state_keys::kWorkers,     state_keys::kLayerCache, state_keys::kDeliveries,
    state_keys::kMeta,        state_keys::kDeploys,    state_keys::kUnfinishedDeploys};

// Creates `dir` (0700) when missing; refuses one that is not a directory, belongs to another
// user or that group or others may write (they could replace the database under us).
absl::Status PrepareDataDir(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("state store: empty --data-dir");
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "state store: create the data dir", dir);
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return ErrnoStatus(errno, "state store: stat the data dir", dir);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("state store: data dir ", dir, " is not a directory"));
  }
  if (st.st_uid != geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "state store: data dir ", dir, " belongs to uid ", st.st_uid, ", not to uid ", geteuid(),
        " that runs the coordinator: chown it or choose another --data-dir"));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "state store: data dir %s is writable by group or others (mode %04o), who could alter "
        "the coordinator's state: chmod 700 %s",
        dir, st.st_mode & 07777, dir));
  }
  return absl::OkStatus();
}

rocksdb::DBOptions DatabaseOptions() {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.paranoid_checks = true;
  // A crash can tear only the WAL record being written when it struck, and that write was never
  // acknowledged (its fsync had not returned). Point-in-time recovery replays up to the last
  // intact record — every acknowledged write — and drops the torn tail; kAbsoluteConsistency
  // would refuse to open after any power cut mid-write, turning a routine crash into an outage
  // that needs an operator. (A torn record in the middle of the log, i.e. real corruption,
  // still stops replay there and RocksDB reports the column families it cannot bring forward.)
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // A small control-plane database: bounded memory and WAL, few background threads.
  options.db_write_buffer_size = 64 << 20;
  options.max_total_wal_size = 64 << 20;
  options.max_background_jobs = 2;
  options.keep_log_file_num = 4;
  options.max_log_file_size = 8 << 20;
  // Tickers only (no timers): write_stats() reads how many WAL writes the commits took.
  options.statistics = rocksdb::CreateDBStatistics();
  options.statistics->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  return options;
}

rocksdb::ColumnFamilyOptions FamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions options;
  options.write_buffer_size = 8 << 20;
  options.max_write_buffer_number = 2;
  options.target_file_size_base = 8 << 20;
  options.max_bytes_for_level_base = 64 << 20;
  options.level_compaction_dynamic_level_bytes = true;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StateStore>> OpenRocksdbStateStore(const std::string& dir,
                                                                  StateStoreOptions options) {
  RETURN_IF_ERROR(PrepareDataDir(dir));
  rocksdb::DBOptions db_options = DatabaseOptions();
  rocksdb::ColumnFamilyOptions family_options = FamilyOptions(rocksdb::NewLRUCache(32 << 20));

  // Every family the database already has must be opened, ours and any a later version added.
  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName};
  for (const char* name : kFamilies) names.push_back(name);
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, dir, &existing).ok()) {
    for (const std::string& name : existing) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) descriptors.emplace_back(name, family_options);

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status opened = rocksdb::DB::Open(db_options, dir, descriptors, &handles, &raw);
  if (!opened.ok()) {
    std::string context = absl::StrCat("state store: open the database in ", dir);
    if (opened.IsIOError() && absl::StrContains(opened.ToString(), "lock")) {
      absl::StrAppend(&context, " (is another tempa-coordinator using this data dir?)");
    }
    return state_keys::FromRocksdb(opened, context);
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  StateColumnFamilies families;
  rocksdb::ColumnFamilyHandle** slots[] = {
      &families.apps,       &families.secrets, &families.builds,  &families.builds_by_app,
      &families.unfinished, &families.logs,    &families.workers, &families.layer_cache,
      &families.deliveries, &families.meta,    &families.deploys, &families.unfinished_deploys};
  for (size_t i = 0; i < std::size(slots); ++i) *slots[i] = handles[i + 1];
  return std::unique_ptr<StateStore>(
      new RocksdbStateStore(std::move(db), std::move(handles), families, options));
}

}  // namespace tempa::coordinator
