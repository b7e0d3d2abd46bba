// The coordinator's durable state in RocksDB: apps, sealed secrets, builds (with an index of
// the unfinished ones and one per app), log lines, workers, the fleet layer-cache index and
// webhook deliveries, each in its own column family. Every change goes through a StateBatch
// committed with a synced WAL write; concurrent commits share one write (group commit).
// Nothing is acknowledged to anyone before Commit returned OK (or CommitAsync's callback ran).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tempa/v1/control.pb.h"
#include "tempa/v1/deploy.pb.h"
#include "tempa/v1/farm.pb.h"
#include "tempa/v1/layer_cache.pb.h"

namespace tempa::coordinator {

struct StateStoreOptions {
  // false only in tests and the bench's "unsynced" column: a crash may then lose acknowledged
  // writes.
  bool sync = true;
};

// Build ids are "b-<sequence>" (decimal); the sequence orders builds by acceptance.
std::string BuildIdFor(uint64_t sequence);
std::optional<uint64_t> SequenceOfBuildId(absl::string_view id);

// PENDING and DEPLOYING: the intent still has to reach the deployer or be followed to its end.
inline bool DeployUnfinished(v1::DeployStatus status) {
  return status == v1::DEPLOY_PENDING || status == v1::DEPLOYING;
}

// A set of changes applied atomically. Made by StateStore::NewBatch; not thread-safe.
class StateBatch {
 public:
  virtual ~StateBatch() = default;
  virtual void PutApp(const v1::App& app) = 0;
  // Removes the app and its secrets (its builds and logs stay, as history).
  virtual void DeleteApp(absl::string_view name) = 0;
  // `kind`: "webhook_secret", "git_credentials"; the value is already sealed by the caller.
  virtual void PutSecret(absl::string_view app, absl::string_view kind,
                         absl::string_view sealed) = 0;
  virtual void DeleteSecret(absl::string_view app, absl::string_view kind) = 0;
  // Also maintains the unfinished-builds index (QUEUED/RUNNING in, terminal out) and the
  // per-app index.
  virtual void PutBuild(const v1::Build& build) = 0;
  virtual void AppendLog(absl::string_view build_id, const v1::LogLine& line) = 0;
  virtual void PutWorker(const v1::Worker& worker) = 0;
  virtual void PutLayer(const v1::LayerCacheEntry& entry) = 0;
  // Records a webhook delivery and the builds it made (dedup across restarts).
  virtual void PutDelivery(absl::string_view delivery_id, const std::vector<std::string>& build_ids,
                           int64_t unix_ms) = 0;
  virtual void PutCounter(absl::string_view name, uint64_t value) = 0;
  // A deploy intent (by id); also maintains the index of unfinished ones.
  virtual void PutDeploy(const v1::Deploy& deploy) = 0;
  virtual bool empty() const = 0;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  virtual std::unique_ptr<StateBatch> NewBatch() = 0;
  // Durable when it returns OK. After a failed write every later commit fails too: the caller
  // must stop (memory and disk may disagree).
  virtual absl::Status Commit(std::unique_ptr<StateBatch> batch) = 0;
  // As Commit, but returns at once; `done` runs on the writer thread once the batch is durable
  // (or failed), in submission order. Batches submitted earlier are durable first.
  virtual void CommitAsync(std::unique_ptr<StateBatch> batch,
                           std::function<void(absl::Status)> done) = 0;

  virtual absl::StatusOr<std::optional<v1::App>> GetApp(absl::string_view name) = 0;
  virtual absl::StatusOr<std::vector<v1::App>> ListApps() = 0;
  virtual absl::StatusOr<std::optional<std::string>> GetSecret(absl::string_view app,
                                                               absl::string_view kind) = 0;
  virtual absl::StatusOr<std::optional<v1::Build>> GetBuild(absl::string_view id) = 0;
  // Newest first; `app` empty: all apps.
  virtual absl::StatusOr<std::vector<v1::Build>> ListBuilds(absl::string_view app, int limit) = 0;
  // QUEUED and RUNNING builds in acceptance order, from the index (no scan of history).
  virtual absl::StatusOr<std::vector<v1::Build>> ListUnfinishedBuilds() = 0;
  virtual absl::StatusOr<std::vector<v1::LogLine>> ReadLog(absl::string_view build_id,
                                                           int64_t from_line, int limit) = 0;
  // The build ids a delivery made, when it was recorded.
  virtual absl::StatusOr<std::optional<std::vector<std::string>>> GetDelivery(
      absl::string_view delivery_id) = 0;
  virtual absl::StatusOr<std::optional<v1::LayerCacheEntry>> GetLayer(absl::string_view key) = 0;
  virtual absl::StatusOr<std::vector<v1::Worker>> ListWorkers() = 0;
  virtual absl::StatusOr<uint64_t> GetCounter(absl::string_view name) = 0;
  virtual absl::StatusOr<std::optional<v1::Deploy>> GetDeploy(absl::string_view id) = 0;
  // Newest first (by creation time, then id); `app` empty: all apps. Reads every intent.
  virtual absl::StatusOr<std::vector<v1::Deploy>> ListDeploys(absl::string_view app, int limit) = 0;
  // PENDING and DEPLOYING intents, from the index, oldest first.
  virtual absl::StatusOr<std::vector<v1::Deploy>> ListUnfinishedDeploys() = 0;

  // Group-commit figures for /metrics and the bench.
  struct WriteStats {
    uint64_t batches = 0;
    uint64_t groups = 0;  // synced writes
  };
  virtual WriteStats write_stats() const = 0;
};

// Opens (creating when missing) the RocksDB at `dir` (0700).
absl::StatusOr<std::unique_ptr<StateStore>> OpenRocksdbStateStore(const std::string& dir,
                                                                  StateStoreOptions options = {});

}  // namespace tempa::coordinator
