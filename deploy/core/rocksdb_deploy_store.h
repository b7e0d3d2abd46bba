// DeployStore on RocksDB in the deployer's work dir. Column families: "deploys" (id → order
// number and the Deploy record), "order" and "by_app" (listing newest first), "unfinished"
// (what Start runs again), "sealed_env" (id → the env values of an unfinished deploy,
// sealed with SecretBox under associated data "deploy/ID/env") and "hosts" (host → app). Every
// write is one synced WriteBatch. Env values never appear in clear in any file.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/crypto/secret_box.h"
#include "deploy/core/deploy_store.h"

namespace tempa::deploy {

// Opens (creating when missing) the store in `db_dir`, sealing env values with `box`.
absl::StatusOr<std::unique_ptr<DeployStore>> OpenRocksdbDeployStore(const std::string& db_dir,
                                                                    crypto::SecretBox box);

// The deployer's store in its work dir: WORK_DIR/deploys (the database) and
// WORK_DIR/deployer.key (the sealing key, made with mode 0600 on first use; keep a copy, or
// the env of deploys that were running when it was lost cannot be read). Creates WORK_DIR
// (0700) when missing; refuses one that group or others may write or another user owns.
absl::StatusOr<std::unique_ptr<DeployStore>> OpenDeployStoreInWorkDir(const std::string& work_dir);

}  // namespace tempa::deploy
