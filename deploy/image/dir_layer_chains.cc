#include "deploy/image/dir_layer_chains.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "deploy/image/beneath_tree.h"
#include "deploy/image/tree_clone.h"

namespace tempa::deploy {
namespace {

constexpr char kSyncedSuffix[] = ".synced";

UniqueFd OpenDir(int at, const std::string& name) {
  return UniqueFd(::openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

}  // namespace

DirLayerChains::DirLayerChains(UniqueFd dir, std::string dir_name, bool require_synced,
                               std::function<void(const std::string& hex)> saved)
    : dir_(std::move(dir)),
      dir_name_(std::move(dir_name)),
      require_synced_(require_synced),
      saved_(std::move(saved)) {}

bool DirLayerChains::Usable(const std::string& hex) {
  if (!require_synced_ || saved_here_.contains(hex)) return true;
  struct stat st;
  std::string marker = hex + kSyncedSuffix;
  return ::fstatat(dir_.get(), marker.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISREG(st.st_mode);
}

absl::StatusOr<size_t> DirLayerChains::CloneLongest(const std::vector<Digest>& chain_ids,
                                                    size_t max_layers, int rootfs_fd) {
  absl::MutexLock lock(&mu_);
  for (size_t k = std::min(max_layers, chain_ids.size()); k > 0; --k) {
    const std::string& hex = chain_ids[k - 1].hex();
    UniqueFd snapshot = OpenDir(dir_.get(), hex);
    if (!snapshot.valid() || !Usable(hex)) continue;
    absl::Status cloned = CloneTree(snapshot.get(), rootfs_fd, absl::StrCat(dir_name_, "/", hex));
    if (cloned.ok()) return k;
    // Start over from nothing: the snapshot only saves time.
    absl::Status emptied = EmptyDirectory(rootfs_fd, "rootfs");
    if (!emptied.ok()) return emptied;
    return 0;
  }
  return 0;
}

void DirLayerChains::Save(const Digest& chain_id, int rootfs_fd) {
  absl::MutexLock lock(&mu_);
  const std::string& hex = chain_id.hex();
  if (OpenDir(dir_.get(), hex).valid()) return;
  // Made beside the snapshots and renamed into place whole; a leftover is removed by Prune.
  std::string temp = absl::StrCat(".tmp-", hex, "-", ::getpid(), "-", ++sequence_);
  if (::mkdirat(dir_.get(), temp.c_str(), 0700) != 0) return;
  UniqueFd out = OpenDir(dir_.get(), temp);
  bool ok = out.valid() && ::fchmod(out.get(), 0755) == 0 &&
            CloneTree(rootfs_fd, out.get(), "rootfs").ok() &&
            ::renameat(dir_.get(), temp.c_str(), dir_.get(), hex.c_str()) == 0;
  if (!ok) {
    RemoveBeneath(dir_.get(), temp, absl::StrCat(dir_name_, "/", temp)).IgnoreError();
    return;
  }
  saved_here_.insert(hex);
  if (saved_) saved_(hex);
}

void DirLayerChains::MarkSynced(const std::string& hex) {
  absl::MutexLock lock(&mu_);
  if (!OpenDir(dir_.get(), hex).valid()) return;  // pruned meanwhile
  std::string marker = hex + kSyncedSuffix;
  int fd = ::openat(dir_.get(), marker.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
  ::fsync(dir_.get());
}

absl::Status DirLayerChains::Prune(const absl::flat_hash_set<std::string>& keep) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(dir_.get(), dir_name_);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    std::string hex = name;
    if (absl::EndsWith(hex, kSyncedSuffix)) hex.resize(hex.size() - (sizeof(kSyncedSuffix) - 1));
    if (keep.contains(hex)) continue;
    absl::Status removed = RemoveBeneath(dir_.get(), name, absl::StrCat(dir_name_, "/", name));
    if (!removed.ok()) return removed;
    saved_here_.erase(hex);
  }
  return absl::OkStatus();
}

}  // namespace tempa::deploy
