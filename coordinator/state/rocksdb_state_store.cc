#include "coordinator/state/rocksdb_state_store.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "coordinator/state/state_keys.h"

namespace tempa::coordinator {
namespace {

using state_keys::FromRocksdb;
using state_keys::Printable;
using state_keys::View;

// Parses a stored record; a value that does not parse is DataLoss naming where it lies.
template <typename Message>
absl::StatusOr<Message> ParseRecord(rocksdb::ColumnFamilyHandle* family, absl::string_view key_name,
                                    const rocksdb::Slice& value) {
  Message message;
  if (!message.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(
        absl::StrCat("state store: the ", family->GetName(), " record ", key_name, " (",
                     value.size(), " bytes) is not a valid ", message.GetTypeName(),
                     ": the database is damaged; restore the data dir from a backup"));
  }
  return message;
}

std::string BuildName(uint64_t sequence) { return BuildIdFor(sequence); }

// The build stored under `sequence`; DataLoss when the value does not parse or names another id.
absl::StatusOr<v1::Build> ParseBuildAt(rocksdb::ColumnFamilyHandle* builds, uint64_t sequence,
                                       const rocksdb::Slice& value) {
  ASSIGN_OR_RETURN(v1::Build build, ParseRecord<v1::Build>(builds, BuildName(sequence), value));
  if (build.id() != BuildName(sequence)) {
    return absl::DataLossError(absl::StrCat(
        "state store: the builds record ", BuildName(sequence), " holds build ",
        Printable(build.id()), ": the database is damaged; restore the data dir from a backup"));
  }
  return build;
}

// A consistent view for a listing that reads an index and then the records it names.
class ScopedSnapshot {
 public:
  explicit ScopedSnapshot(rocksdb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {}
  ~ScopedSnapshot() { db_->ReleaseSnapshot(snapshot_); }
  ScopedSnapshot(const ScopedSnapshot&) = delete;
  ScopedSnapshot& operator=(const ScopedSnapshot&) = delete;
  const rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

int Capped(int limit, int cap) { return limit <= 0 ? cap : std::min(limit, cap); }

}  // namespace

RocksdbStateStore::RocksdbStateStore(std::unique_ptr<rocksdb::DB> db,
                                     std::vector<rocksdb::ColumnFamilyHandle*> handles,
                                     StateColumnFamilies families, StateStoreOptions options)
    : db_(std::move(db)),
      handles_(std::move(handles)),
      families_(families),
      writer_(db_.get(), handles_, GroupCommitOptions{.sync = options.sync}) {}

RocksdbStateStore::~RocksdbStateStore() {
  writer_.Close();
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  db_->Close().PermitUncheckedError();
}

std::unique_ptr<StateBatch> RocksdbStateStore::NewBatch() {
  return std::make_unique<RocksdbStateBatch>(families_);
}

absl::Status RocksdbStateStore::Commit(std::unique_ptr<StateBatch> batch) {
  auto* ours = dynamic_cast<RocksdbStateBatch*>(batch.get());
  if (ours == nullptr) {
    return absl::InvalidArgumentError("state store: commit of a batch another store made");
  }
  if (!ours->error().ok()) return ours->error();
  return writer_.Write(std::move(ours->write_batch()));
}

void RocksdbStateStore::CommitAsync(std::unique_ptr<StateBatch> batch,
                                    std::function<void(absl::Status)> done) {
  auto* ours = dynamic_cast<RocksdbStateBatch*>(batch.get());
  absl::Status refused;
  if (ours == nullptr) {
    refused = absl::InvalidArgumentError("state store: commit of a batch another store made");
  } else {
    refused = ours->error();
  }
  if (!refused.ok()) {
    // An empty write in the batch's place keeps callbacks in submission order.
    writer_.Submit(rocksdb::WriteBatch(),
                   [refused, done = std::move(done)](absl::Status) { done(refused); });
    return;
  }
  writer_.Submit(std::move(ours->write_batch()), std::move(done));
}

absl::StatusOr<std::optional<std::string>> RocksdbStateStore::Get(
    rocksdb::ColumnFamilyHandle* family, const std::string& key,
    const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  std::string value;
  rocksdb::Status status = db_->Get(read_options, family, key, &value);
  if (status.IsNotFound()) return std::nullopt;
  RETURN_IF_ERROR(FromRocksdb(
      status, absl::StrCat("state store: read ", family->GetName(), " ", Printable(key))));
  return value;
}

absl::StatusOr<std::optional<v1::App>> RocksdbStateStore::GetApp(absl::string_view name) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, Get(families_.apps, std::string(name)));
  if (!value) return std::nullopt;
  ASSIGN_OR_RETURN(v1::App app, ParseRecord<v1::App>(families_.apps, Printable(name), *value));
  return app;
}

absl::StatusOr<std::vector<v1::App>> RocksdbStateStore::ListApps() {
  std::vector<v1::App> apps;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), families_.apps));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ASSIGN_OR_RETURN(v1::App app,
                     ParseRecord<v1::App>(families_.apps, Printable(View(it->key())), it->value()));
    apps.push_back(std::move(app));
  }
  RETURN_IF_ERROR(FromRocksdb(it->status(), "state store: list apps"));
  return apps;
}

absl::StatusOr<std::optional<std::string>> RocksdbStateStore::GetSecret(absl::string_view app,
                                                                        absl::string_view kind) {
  return Get(families_.secrets, state_keys::SecretKey(app, kind));
}

absl::StatusOr<std::optional<v1::Build>> RocksdbStateStore::GetBuildAt(
    uint64_t sequence, const rocksdb::Snapshot* snapshot) {
  ASSIGN_OR_RETURN(std::optional<std::string> value,
                   Get(families_.builds, state_keys::BuildKey(sequence), snapshot));
  if (!value) return std::nullopt;
  ASSIGN_OR_RETURN(v1::Build build, ParseBuildAt(families_.builds, sequence, *value));
  return build;
}

absl::StatusOr<std::optional<v1::Build>> RocksdbStateStore::GetBuild(absl::string_view id) {
  std::optional<uint64_t> sequence = SequenceOfBuildId(id);
  if (!sequence) {
    return absl::InvalidArgumentError(
        absl::StrCat("build id ", Printable(id), " is not of the form b-<number>"));
  }
  return GetBuildAt(*sequence, nullptr);
}

absl::StatusOr<std::vector<v1::Build>> RocksdbStateStore::ListBuilds(absl::string_view app,
                                                                     int limit) {
  limit = Capped(limit, kMaxBuildsPerList);
  std::vector<v1::Build> builds;
  if (app.empty()) {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), families_.builds));
    for (it->SeekToLast(); it->Valid() && static_cast<int>(builds.size()) < limit; it->Prev()) {
      std::optional<uint64_t> sequence = state_keys::ParseBigEndian64(View(it->key()));
      if (!sequence) {
        return absl::DataLossError(absl::StrCat("state store: builds key ",
                                                Printable(View(it->key())), " is not a sequence"));
      }
      ASSIGN_OR_RETURN(v1::Build build, ParseBuildAt(families_.builds, *sequence, it->value()));
      builds.push_back(std::move(build));
    }
    RETURN_IF_ERROR(FromRocksdb(it->status(), "state store: list builds"));
    return builds;
  }
  // Newest first through the per-app index, every read from one snapshot.
  ScopedSnapshot scoped(db_.get());
  const rocksdb::Snapshot* snapshot = scoped.get();
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  std::string prefix = state_keys::AppPrefix(app);
  std::string end = prefix;
  end.back() = '\1';
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, families_.builds_by_app));
  for (it->SeekForPrev(end); it->Valid() && static_cast<int>(builds.size()) < limit; it->Prev()) {
    absl::string_view key = View(it->key());
    if (!absl::ConsumePrefix(&key, prefix)) break;
    std::optional<uint64_t> sequence = state_keys::ParseBigEndian64(key);
    if (!sequence) {
      return absl::DataLossError(absl::StrCat("state store: builds_by_app key ",
                                              Printable(View(it->key())),
                                              " does not end in a sequence"));
    }
    ASSIGN_OR_RETURN(std::optional<v1::Build> build, GetBuildAt(*sequence, snapshot));
    if (!build) {
      return absl::DataLossError(absl::StrCat("state store: the index of app ", Printable(app),
                                              " names build ", BuildName(*sequence),
                                              ", which is missing"));
    }
    builds.push_back(*std::move(build));
  }
  RETURN_IF_ERROR(FromRocksdb(it->status(), absl::StrCat("state store: list builds of ", app)));
  return builds;
}

absl::StatusOr<std::vector<v1::Build>> RocksdbStateStore::ListUnfinishedBuilds() {
  ScopedSnapshot scoped(db_.get());
  const rocksdb::Snapshot* snapshot = scoped.get();
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  std::vector<v1::Build> builds;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, families_.unfinished));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::optional<uint64_t> sequence = state_keys::ParseBigEndian64(View(it->key()));
    if (!sequence) {
      return absl::DataLossError(absl::StrCat("state store: unfinished key ",
                                              Printable(View(it->key())), " is not a sequence"));
    }
    ASSIGN_OR_RETURN(std::optional<v1::Build> build, GetBuildAt(*sequence, snapshot));
    if (!build) {
      return absl::DataLossError(absl::StrCat("state store: the unfinished index names build ",
                                              BuildName(*sequence), ", which is missing"));
    }
    builds.push_back(*std::move(build));
  }
  RETURN_IF_ERROR(FromRocksdb(it->status(), "state store: list unfinished builds"));
  return builds;
}

absl::StatusOr<std::vector<v1::LogLine>> RocksdbStateStore::ReadLog(absl::string_view build_id,
                                                                    int64_t from_line, int limit) {
  std::optional<uint64_t> sequence = SequenceOfBuildId(build_id);
  if (!sequence) {
    return absl::InvalidArgumentError(
        absl::StrCat("build id ", Printable(build_id), " is not of the form b-<number>"));
  }
  limit = Capped(limit, kMaxLogLinesPerRead);
  std::string prefix = state_keys::BigEndian64(*sequence);
  std::vector<v1::LogLine> lines;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), families_.logs));
  for (it->Seek(state_keys::LogKey(*sequence, std::max<int64_t>(from_line, 0)));
       it->Valid() && static_cast<int>(lines.size()) < limit; it->Next()) {
    absl::string_view key = View(it->key());
    if (!absl::ConsumePrefix(&key, prefix)) break;
    std::optional<uint64_t> number = state_keys::ParseBigEndian64(key);
    std::string name =
        absl::StrCat(build_id, " line ", number ? absl::StrCat(*number) : Printable(key));
    ASSIGN_OR_RETURN(v1::LogLine line, ParseRecord<v1::LogLine>(families_.logs, name, it->value()));
    lines.push_back(std::move(line));
  }
  RETURN_IF_ERROR(
      FromRocksdb(it->status(), absl::StrCat("state store: read the log of ", build_id)));
  return lines;
}

absl::StatusOr<std::optional<std::vector<std::string>>> RocksdbStateStore::GetDelivery(
    absl::string_view delivery_id) {
  ASSIGN_OR_RETURN(std::optional<std::string> value,
                   Get(families_.deliveries, std::string(delivery_id)));
  if (!value) return std::nullopt;
  ASSIGN_OR_RETURN(
      v1::WebhookDelivery delivery,
      ParseRecord<v1::WebhookDelivery>(families_.deliveries, Printable(delivery_id), *value));
  return std::vector<std::string>(delivery.build_ids().begin(), delivery.build_ids().end());
}

absl::StatusOr<std::optional<v1::LayerCacheEntry>> RocksdbStateStore::GetLayer(
    absl::string_view key) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, Get(families_.layer_cache, std::string(key)));
  if (!value) return std::nullopt;
  ASSIGN_OR_RETURN(v1::LayerCacheEntry entry,
                   ParseRecord<v1::LayerCacheEntry>(families_.layer_cache, Printable(key), *value));
  return entry;
}

absl::StatusOr<std::vector<v1::Worker>> RocksdbStateStore::ListWorkers() {
  std::vector<v1::Worker> workers;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), families_.workers));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ASSIGN_OR_RETURN(
        v1::Worker worker,
        ParseRecord<v1::Worker>(families_.workers, Printable(View(it->key())), it->value()));
    workers.push_back(std::move(worker));
  }
  RETURN_IF_ERROR(FromRocksdb(it->status(), "state store: list workers"));
  return workers;
}

absl::StatusOr<uint64_t> RocksdbStateStore::GetCounter(absl::string_view name) {
  std::string key = state_keys::CounterKey(name);
  ASSIGN_OR_RETURN(std::optional<std::string> value, Get(families_.meta, key));
  if (!value) return 0;
  std::optional<uint64_t> counter = state_keys::ParseBigEndian64(*value);
  if (!counter) {
    return absl::DataLossError(absl::StrCat("state store: the meta record ", Printable(key), " (",
                                            value->size(), " bytes) is not an 8-byte counter"));
  }
  return *counter;
}

absl::StatusOr<std::optional<v1::Deploy>> RocksdbStateStore::GetDeploy(absl::string_view id) {
  std::string key(id);
  ASSIGN_OR_RETURN(std::optional<std::string> value, Get(families_.deploys, key));
  if (!value) return std::optional<v1::Deploy>();
  ASSIGN_OR_RETURN(v1::Deploy deploy,
                   ParseRecord<v1::Deploy>(families_.deploys, Printable(key), *value));
  return std::optional<v1::Deploy>(std::move(deploy));
}

absl::StatusOr<std::vector<v1::Deploy>> RocksdbStateStore::ListDeploys(absl::string_view app,
                                                                       int limit) {
  std::vector<v1::Deploy> deploys;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), families_.deploys));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ASSIGN_OR_RETURN(
        v1::Deploy deploy,
        ParseRecord<v1::Deploy>(families_.deploys, Printable(View(it->key())), it->value()));
    if (app.empty() || deploy.app() == app) deploys.push_back(std::move(deploy));
  }
  RETURN_IF_ERROR(FromRocksdb(it->status(), "state store: list deploys"));
  std::sort(deploys.begin(), deploys.end(), [](const v1::Deploy& a, const v1::Deploy& b) {
    if (a.created_unix_ms() != b.created_unix_ms()) {
      return a.created_unix_ms() > b.created_unix_ms();
    }
    return a.id() > b.id();
  });
  size_t cap = static_cast<size_t>(Capped(limit, kMaxBuildsPerList));
  if (deploys.size() > cap) deploys.resize(cap);
  return deploys;
}

absl::StatusOr<std::vector<v1::Deploy>> RocksdbStateStore::ListUnfinishedDeploys() {
  ScopedSnapshot snapshot(db_.get());
  rocksdb::ReadOptions read;
  read.snapshot = snapshot.get();
  std::vector<v1::Deploy> deploys;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, families_.unfinished_deploys));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string key(View(it->key()));
    ASSIGN_OR_RETURN(std::optional<std::string> value, Get(families_.deploys, key, snapshot.get()));
    if (!value) {
      return absl::DataLossError(absl::StrCat(
          "state store: the unfinished deploy ", Printable(key),
          " has no record: the database is damaged; restore the data dir from a backup"));
    }
    ASSIGN_OR_RETURN(v1::Deploy deploy,
                     ParseRecord<v1::Deploy>(families_.deploys, Printable(key), *value));
    deploys.push_back(std::move(deploy));
  }
  RETURN_IF_ERROR(FromRocksdb(it->status(), "state store: list unfinished deploys"));
  std::sort(deploys.begin(), deploys.end(), [](const v1::Deploy& a, const v1::Deploy& b) {
    return a.created_unix_ms() < b.created_unix_ms();
  });
  return deploys;
}

StateStore::WriteStats RocksdbStateStore::write_stats() const {
  GroupCommitWriter::Stats stats = writer_.stats();
  return WriteStats{.batches = stats.batches, .groups = stats.groups};
}

}  // namespace tempa::coordinator
