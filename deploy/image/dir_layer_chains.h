// LayerChains in a directory (WORK/chains): <chainid-hex>/ is the rootfs after that chain of
// layers, cloned by hard links (tree_clone.h) into each image that shares it; <hex>.synced
// marks one flushed to disk. Snapshots are made while an image unpacks and removed by Prune once
// no kept image is built on them.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/posix_status.h"
#include "deploy/image/image_pull.h"

namespace tempa::deploy {

class DirLayerChains : public LayerChains {
 public:
  // `dir` is WORK/chains, open (`dir_name` its path). With `require_synced`, a snapshot is used
  // only once marked synced or when this instance saved it; `saved` is called with the hex of
  // each new snapshot (to have it flushed and then MarkSynced).
  DirLayerChains(UniqueFd dir, std::string dir_name, bool require_synced,
                 std::function<void(const std::string& hex)> saved);

  absl::StatusOr<size_t> CloneLongest(const std::vector<Digest>& chain_ids, size_t max_layers,
                                      int rootfs_fd) override;
  void Save(const Digest& chain_id, int rootfs_fd) override;

  // Marks the snapshot `hex` as on disk (the caller flushed the filesystem).
  void MarkSynced(const std::string& hex);
  // Removes every snapshot (and leftover) whose hex is not in `keep`.
  absl::Status Prune(const absl::flat_hash_set<std::string>& keep);

 private:
  bool Usable(const std::string& hex) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const UniqueFd dir_;
  const std::string dir_name_;
  const bool require_synced_;
  const std::function<void(const std::string&)> saved_;
  absl::Mutex mu_;  // held across clones, saves and prunes: none sees another half done
  absl::flat_hash_set<std::string> saved_here_ ABSL_GUARDED_BY(mu_);
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tempa::deploy
