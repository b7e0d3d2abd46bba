// Where the deployer keeps its deploys: every record (tempa.v1.Deploy, which holds env names
// only) and, for a deploy that has not finished, the env values it needs to run again after a
// restart, sealed. The RocksDB implementation (rocksdb_deploy_store.h) syncs every write.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tempa/v1/deploy.pb.h"

namespace tempa::deploy {

using EnvMap = std::map<std::string, std::string>;

inline bool IsTerminal(tempa::v1::DeployStatus status) {
  return status == tempa::v1::DEPLOYED || status == tempa::v1::DEPLOY_FAILED ||
         status == tempa::v1::DEPLOY_SUPERSEDED;
}

class DeployStore {
 public:
  virtual ~DeployStore() = default;

  // Writes `deploy` (a new record, or a new state of a known one: the id is the key), durably
  // before returning. A new record is listed after every record written before it. A record
  // that is terminal (DEPLOYED, DEPLOY_FAILED, DEPLOY_SUPERSEDED) drops its env in the same
  // write: it will not run again.
  virtual absl::Status Put(const tempa::v1::Deploy& deploy) = 0;
  // Put, and the env values the deploy runs with, kept sealed, in one write.
  virtual absl::Status PutWithEnv(const tempa::v1::Deploy& deploy, const EnvMap& env) = 0;
  // NotFound when `id` was never written.
  virtual absl::StatusOr<tempa::v1::Deploy> Get(absl::string_view id) = 0;
  // The env PutWithEnv kept for `id`: empty when none was kept or the deploy finished.
  // DataLoss when the sealed value does not open (another key, tampering).
  virtual absl::StatusOr<EnvMap> GetEnv(absl::string_view id) = 0;
  // Up to `limit` records of `app` ("": every app), newest first.
  virtual absl::StatusOr<std::vector<tempa::v1::Deploy>> List(absl::string_view app, int limit) = 0;
  // Every record neither DEPLOYED, DEPLOY_FAILED nor DEPLOY_SUPERSEDED, oldest first.
  virtual absl::StatusOr<std::vector<tempa::v1::Deploy>> ListUnfinished() = 0;

  // Records, durably, that `hosts` belong to `app`. A host is one app's for good once claimed
  // (app "web" with preview branch "api" and app "web-api" would both want web-api.DOMAIN):
  // FailedPrecondition naming the host and its app when another app holds one of them, and
  // then nothing is claimed.
  virtual absl::Status ClaimHosts(absl::string_view app, const std::vector<std::string>& hosts) = 0;
};

}  // namespace tempa::deploy
