#include "coordinator/state/rocksdb_state_batch.h"

#include "absl/strings/str_cat.h"
#include "coordinator/state/state_keys.h"

namespace tempa::coordinator {

using state_keys::Printable;

bool RocksdbStateBatch::Fail(absl::Status problem) {
  if (error_.ok()) error_ = std::move(problem);
  return false;
}

bool RocksdbStateBatch::CheckName(absl::string_view what, absl::string_view name) {
  if (name.empty())
    return Fail(absl::InvalidArgumentError(absl::StrCat("state store: empty ", what)));
  if (name.find('\0') != absl::string_view::npos) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("state store: ", what, " ", Printable(name), " contains a NUL byte")));
  }
  return true;
}

void RocksdbStateBatch::Put(rocksdb::ColumnFamilyHandle* family, const std::string& key,
                            const std::string& value) {
  rocksdb::Status status = batch_.Put(family, key, value);
  if (!status.ok()) {
    Fail(state_keys::FromRocksdb(
        status, absl::StrCat("state store: put ", family->GetName(), " ", Printable(key))));
  }
  ++operations_;
}

void RocksdbStateBatch::Delete(rocksdb::ColumnFamilyHandle* family, const std::string& key) {
  rocksdb::Status status = batch_.Delete(family, key);
  if (!status.ok()) {
    Fail(state_keys::FromRocksdb(
        status, absl::StrCat("state store: delete ", family->GetName(), " ", Printable(key))));
  }
  ++operations_;
}

void RocksdbStateBatch::PutMessage(rocksdb::ColumnFamilyHandle* family, const std::string& key,
                                   const google::protobuf::MessageLite& message) {
  std::string value;
  if (!message.SerializeToString(&value)) {
    Fail(absl::InternalError(absl::StrCat("state store: cannot serialize the ",
                                          message.GetTypeName(), " for ", Printable(key))));
    return;
  }
  Put(family, key, value);
}

void RocksdbStateBatch::PutApp(const v1::App& app) {
  if (!CheckName("app name", app.name())) return;
  PutMessage(families_.apps, app.name(), app);
}

void RocksdbStateBatch::DeleteApp(absl::string_view name) {
  if (!CheckName("app name", name)) return;
  Delete(families_.apps, std::string(name));
  // Every secret of the app, whatever its kind: keys "<app>\0<kind>" lie in ["<app>\0", "<app>\1").
  std::string begin = state_keys::AppPrefix(name);
  std::string end = begin;
  end.back() = '\1';
  rocksdb::Status status = batch_.DeleteRange(families_.secrets, begin, end);
  if (!status.ok()) {
    Fail(state_keys::FromRocksdb(
        status, absl::StrCat("state store: delete the secrets of app ", Printable(name))));
  }
  ++operations_;
}

void RocksdbStateBatch::PutSecret(absl::string_view app, absl::string_view kind,
                                  absl::string_view sealed) {
  if (!CheckName("app name", app) || !CheckName("secret kind", kind)) return;
  Put(families_.secrets, state_keys::SecretKey(app, kind), std::string(sealed));
}

void RocksdbStateBatch::DeleteSecret(absl::string_view app, absl::string_view kind) {
  if (!CheckName("app name", app) || !CheckName("secret kind", kind)) return;
  Delete(families_.secrets, state_keys::SecretKey(app, kind));
}

void RocksdbStateBatch::PutBuild(const v1::Build& build) {
  std::optional<uint64_t> sequence = SequenceOfBuildId(build.id());
  if (!sequence) {
    Fail(absl::InvalidArgumentError(absl::StrCat("state store: build id ", Printable(build.id()),
                                                 " is not of the form b-<sequence>")));
    return;
  }
  if (build.sequence() != 0 && build.sequence() != *sequence) {
    Fail(absl::InvalidArgumentError(
        absl::StrCat("state store: build ", build.id(), " carries sequence ", build.sequence())));
    return;
  }
  if (!CheckName("app name of build", build.app())) return;
  std::string key = state_keys::BuildKey(*sequence);
  PutMessage(families_.builds, key, build);
  // A build never changes app, so its per-app entry is written once and stays.
  Put(families_.builds_by_app, state_keys::BuildByAppKey(build.app(), *sequence), "");
  if (build.status() == v1::QUEUED || build.status() == v1::RUNNING) {
    Put(families_.unfinished, key, "");
  } else {
    Delete(families_.unfinished, key);
  }
}

void RocksdbStateBatch::AppendLog(absl::string_view build_id, const v1::LogLine& line) {
  std::optional<uint64_t> sequence = SequenceOfBuildId(build_id);
  if (!sequence) {
    Fail(absl::InvalidArgumentError(absl::StrCat("state store: log line for build id ",
                                                 Printable(build_id), ", not b-<sequence>")));
    return;
  }
  if (line.number() < 0) {
    Fail(absl::InvalidArgumentError(
        absl::StrCat("state store: log line ", line.number(), " of ", build_id, " is negative")));
    return;
  }
  PutMessage(families_.logs, state_keys::LogKey(*sequence, line.number()), line);
}

void RocksdbStateBatch::PutWorker(const v1::Worker& worker) {
  if (!CheckName("worker id", worker.id())) return;
  PutMessage(families_.workers, worker.id(), worker);
}

void RocksdbStateBatch::PutLayer(const v1::LayerCacheEntry& entry) {
  if (!CheckName("layer cache key", entry.key())) return;
  PutMessage(families_.layer_cache, entry.key(), entry);
}

void RocksdbStateBatch::PutDelivery(absl::string_view delivery_id,
                                    const std::vector<std::string>& build_ids, int64_t unix_ms) {
  if (!CheckName("webhook delivery id", delivery_id)) return;
  v1::WebhookDelivery delivery;
  delivery.set_id(std::string(delivery_id));
  for (const std::string& id : build_ids) delivery.add_build_ids(id);
  delivery.set_received_unix_ms(unix_ms);
  PutMessage(families_.deliveries, delivery.id(), delivery);
}

void RocksdbStateBatch::PutCounter(absl::string_view name, uint64_t value) {
  if (!CheckName("counter name", name)) return;
  Put(families_.meta, state_keys::CounterKey(name), state_keys::BigEndian64(value));
}

void RocksdbStateBatch::PutDeploy(const v1::Deploy& deploy) {
  if (!CheckName("deploy id", deploy.id()) || !CheckName("app name of deploy", deploy.app())) {
    return;
  }
  PutMessage(families_.deploys, deploy.id(), deploy);
  if (DeployUnfinished(deploy.status())) {
    Put(families_.unfinished_deploys, deploy.id(), "");
  } else {
    Delete(families_.unfinished_deploys, deploy.id());
  }
}

}  // namespace tempa::coordinator
