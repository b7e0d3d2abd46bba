#include "deploy/core/rocksdb_deploy_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/posix_status.h"
#include "common/status_macros.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace tempa::deploy {
namespace {

constexpr const char* kFamilies[] = {"deploys",    "order",      "by_app",
                                     "unfinished", "sealed_env", "hosts"};
enum Family { kDeploys, kOrder, kByApp, kUnfinished, kSealedEnv, kHosts, kFamilyCount };

absl::Status FromRocksdb(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  absl::StatusCode code = s.IsCorruption() ? absl::StatusCode::kDataLoss
                          : s.IsNotFound() ? absl::StatusCode::kNotFound
                                           : absl::StatusCode::kUnavailable;
  return absl::Status(code, absl::StrCat("deploy store: ", what, ": ", s.ToString()));
}

std::string OrderKey(uint64_t seq) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i, seq >>= 8) key[i] = static_cast<char>(seq & 0xff);
  return key;
}

uint64_t ParseOrderKey(absl::string_view key) {
  uint64_t seq = 0;
  for (size_t i = 0; i < 8 && i < key.size(); ++i) seq = (seq << 8) | static_cast<uint8_t>(key[i]);
  return seq;
}

// App names are DNS labels (no NUL), so "APP\0" is a prefix no other app's keys share.
std::string AppPrefix(absl::string_view app) {
  return absl::StrCat(app, absl::string_view("\0", 1));
}

std::string EnvRecord(absl::string_view id) { return absl::StrCat("deploy/", id, "/env"); }

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
absl::string_view FromSlice(const rocksdb::Slice& s) {
  return absl::string_view(s.data(), s.size());
}

class RocksdbDeployStore final : public DeployStore {
 public:
  RocksdbDeployStore(std::unique_ptr<rocksdb::DB> db,
                     std::vector<rocksdb::ColumnFamilyHandle*> handles, crypto::SecretBox box)
      : db_(std::move(db)), handles_(std::move(handles)), box_(std::move(box)) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kOrder)));
    it->SeekToLast();
    next_seq_ = it->Valid() ? ParseOrderKey(FromSlice(it->key())) + 1 : 1;
  }

  ~RocksdbDeployStore() override {
    for (rocksdb::ColumnFamilyHandle* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
    db_->Close();
  }

  absl::Status Put(const tempa::v1::Deploy& deploy) override { return Write(deploy, nullptr); }

  absl::Status PutWithEnv(const tempa::v1::Deploy& deploy, const EnvMap& env) override {
    return Write(deploy, &env);
  }

  absl::StatusOr<tempa::v1::Deploy> Get(absl::string_view id) override {
    uint64_t seq = 0;
    return Read(id, &seq);
  }

  absl::StatusOr<EnvMap> GetEnv(absl::string_view id) override {
    std::string sealed;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kSealedEnv), ToSlice(id), &sealed);
    if (s.IsNotFound()) return EnvMap();
    RETURN_IF_ERROR(FromRocksdb(s, absl::StrCat("read the env of ", id)));
    absl::StatusOr<std::string> plain = box_.Open(sealed, EnvRecord(id));
    if (!plain.ok()) {
      return absl::DataLossError(absl::StrCat(
          "deploy store: the sealed env of ", id, " does not open (", plain.status().message(),
          "): was deployer.key replaced? submit the deploy again under a new id"));
    }
    tempa::v1::DeployRequest holder;
    if (!holder.ParseFromString(*plain)) {
      return absl::DataLossError(absl::StrCat("deploy store: the env of ", id, " is garbled"));
    }
    return EnvMap(holder.env().begin(), holder.env().end());
  }

  absl::StatusOr<std::vector<tempa::v1::Deploy>> List(absl::string_view app, int limit) override {
    std::vector<tempa::v1::Deploy> deploys;
    if (limit <= 0) return deploys;
    if (app.empty()) {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kOrder)));
      for (it->SeekToLast(); it->Valid() && static_cast<int>(deploys.size()) < limit; it->Prev()) {
        RETURN_IF_ERROR(Collect(FromSlice(it->value()), &deploys));
      }
      return deploys;
    }
    std::string prefix = AppPrefix(app);
    std::string end = prefix + std::string(9, '\xff');
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kByApp)));
    for (it->SeekForPrev(end);
         it->Valid() && it->key().starts_with(prefix) && static_cast<int>(deploys.size()) < limit;
         it->Prev()) {
      RETURN_IF_ERROR(Collect(FromSlice(it->value()), &deploys));
    }
    return deploys;
  }

  absl::StatusOr<std::vector<tempa::v1::Deploy>> ListUnfinished() override {
    std::vector<tempa::v1::Deploy> deploys;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kUnfinished)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      RETURN_IF_ERROR(Collect(FromSlice(it->value()), &deploys));
    }
    RETURN_IF_ERROR(FromRocksdb(it->status(), "list unfinished deploys"));
    return deploys;
  }

  absl::Status ClaimHosts(absl::string_view app, const std::vector<std::string>& hosts) override {
    absl::MutexLock lock(&mu_);
    rocksdb::WriteBatch batch;
    for (const std::string& host : hosts) {
      std::string owner;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kHosts), host, &owner);
      if (s.ok()) {
        if (owner == app) continue;
        return absl::FailedPreconditionError(absl::StrCat(
            "host ", host, " already belongs to app ", owner, ", so app ", app,
            " cannot answer on it: rename the branch (or the app) so their host names differ"));
      }
      if (!s.IsNotFound()) return FromRocksdb(s, "read the owner of host " + host);
      batch.Put(cf(kHosts), host, ToSlice(app));
    }
    if (batch.Count() == 0) return absl::OkStatus();
    rocksdb::WriteOptions options;
    options.sync = true;
    return FromRocksdb(db_->Write(options, &batch), absl::StrCat("claim the hosts of ", app));
  }

 private:
  rocksdb::ColumnFamilyHandle* cf(Family family) const { return handles_[family + 1]; }

  absl::StatusOr<tempa::v1::Deploy> Read(absl::string_view id, uint64_t* seq) {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kDeploys), ToSlice(id), &value);
    if (s.IsNotFound()) {
      return absl::NotFoundError(absl::StrCat("no deploy ", id));
    }
    RETURN_IF_ERROR(FromRocksdb(s, absl::StrCat("read deploy ", id)));
    tempa::v1::Deploy deploy;
    if (value.size() < 8 || !deploy.ParseFromArray(value.data() + 8, value.size() - 8)) {
      return absl::DataLossError(absl::StrCat("deploy store: the record of ", id, " is garbled"));
    }
    *seq = ParseOrderKey(value);
    return deploy;
  }

  absl::Status Collect(absl::string_view id, std::vector<tempa::v1::Deploy>* out) {
    absl::StatusOr<tempa::v1::Deploy> deploy = Get(id);
    if (!deploy.ok()) return deploy.status();
    out->push_back(*std::move(deploy));
    return absl::OkStatus();
  }

  absl::Status Write(const tempa::v1::Deploy& deploy, const EnvMap* env) {
    if (deploy.id().empty() || deploy.app().empty()) {
      return absl::InvalidArgumentError("deploy store: a deploy needs an id and an app");
    }
    absl::MutexLock lock(&mu_);
    uint64_t seq = 0;
    absl::StatusOr<tempa::v1::Deploy> old = Read(deploy.id(), &seq);
    rocksdb::WriteBatch batch;
    if (absl::IsNotFound(old.status())) {
      seq = next_seq_;
      batch.Put(cf(kOrder), OrderKey(seq), deploy.id());
      batch.Put(cf(kByApp), AppPrefix(deploy.app()) + OrderKey(seq), deploy.id());
    } else if (!old.ok()) {
      return old.status();
    } else if (old->app() != deploy.app()) {
      return absl::FailedPreconditionError(absl::StrCat("deploy store: deploy ", deploy.id(),
                                                        " belongs to app ", old->app(), ", not ",
                                                        deploy.app()));
    }
    batch.Put(cf(kDeploys), deploy.id(), OrderKey(seq) + deploy.SerializeAsString());
    if (IsTerminal(deploy.status())) {
      batch.Delete(cf(kUnfinished), OrderKey(seq));
      batch.Delete(cf(kSealedEnv), deploy.id());
    } else {
      batch.Put(cf(kUnfinished), OrderKey(seq), deploy.id());
      if (env != nullptr) {
        tempa::v1::DeployRequest holder;
        holder.mutable_env()->insert(env->begin(), env->end());
        std::string plain = holder.SerializeAsString();
        batch.Put(cf(kSealedEnv), deploy.id(), box_.Seal(plain, EnvRecord(deploy.id())));
        std::fill(plain.begin(), plain.end(), '\0');
      }
    }
    rocksdb::WriteOptions options;
    options.sync = true;
    RETURN_IF_ERROR(FromRocksdb(db_->Write(options, &batch), "write deploy " + deploy.id()));
    if (seq == next_seq_) ++next_seq_;
    return absl::OkStatus();
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // [0] is the default family
  const crypto::SecretBox box_;
  absl::Mutex mu_;  // serializes writes (order numbers)
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
};

absl::Status PrepareDir(const std::string& dir, absl::string_view what) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, absl::StrCat("create the ", what), dir);
  }
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0)
    return ErrnoStatus(errno, "stat the " + std::string(what), dir);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", dir, " is not a directory: choose another --work-dir"));
  }
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", dir, " belongs to uid ", st.st_uid, ", not to uid ", ::geteuid(),
                     " that runs the deployer: chown it or choose another --work-dir"));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s %s is writable by group or others (mode %04o), who could alter what the deployer "
        "runs: chmod 700 %s",
        what, dir, st.st_mode & 07777, dir));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<DeployStore>> OpenRocksdbDeployStore(const std::string& db_dir,
                                                                    crypto::SecretBox box) {
  RETURN_IF_ERROR(PrepareDir(db_dir, "deploy store dir"));
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.paranoid_checks = true;
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  options.max_background_jobs = 1;
  options.keep_log_file_num = 2;
  options.max_total_wal_size = 16 << 20;
  rocksdb::ColumnFamilyOptions family;
  family.write_buffer_size = 4 << 20;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, family}};
  for (const char* name : kFamilies) descriptors.emplace_back(name, family);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status opened = rocksdb::DB::Open(options, db_dir, descriptors, &handles, &raw);
  if (!opened.ok()) {
    return FromRocksdb(
        opened, absl::StrCat("open ", db_dir, " (is another tempa-deployer using this work dir?)"));
  }
  static_assert(std::size(kFamilies) == kFamilyCount);
  return std::unique_ptr<DeployStore>(new RocksdbDeployStore(std::unique_ptr<rocksdb::DB>(raw),
                                                             std::move(handles), std::move(box)));
}

absl::StatusOr<std::unique_ptr<DeployStore>> OpenDeployStoreInWorkDir(const std::string& work_dir) {
  if (work_dir.empty()) {
    return absl::InvalidArgumentError("--work-dir is required: where the deployer keeps its state");
  }
  RETURN_IF_ERROR(PrepareDir(work_dir, "work dir"));
  std::string key_path = work_dir + "/deployer.key";
  struct stat st;
  if (::lstat(key_path.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoStatus(errno, "stat the key file", key_path);
    RETURN_IF_ERROR(crypto::SecretBox::GenerateKeyFile(key_path));
  }
  ASSIGN_OR_RETURN(crypto::SecretBox box, crypto::SecretBox::FromKeyFile(key_path));
  return OpenRocksdbDeployStore(work_dir + "/deploys", std::move(box));
}

}  // namespace tempa::deploy
