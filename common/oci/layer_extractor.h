// Applies image layers (tar, tar+gzip, tar+zstd) one after another onto a root filesystem with
// libarchive, treating every layer as hostile:
//  - entry paths are normalized and confined: absolute paths and ".." are refused, and every
//    write happens through a directory descriptor walked with O_NOFOLLOW, so an entry "through"
//    a symlink (even one an earlier layer planted) is refused, never followed;
//  - symlinks are created as they are (their targets are never followed by us); hard links may
//    only name a regular file an earlier entry put inside the rootfs;
//  - device nodes, fifos and sockets are refused (the error names the entry);
//  - setuid, setgid and sticky bits are dropped and nothing is left writable by others (o+w is
//    stripped from files and directories alike: the rootfs is mounted read-only, and a
//    world-writable directory on the host would let any local user plant files in it);
//    xattrs (file capabilities included) are not applied; owners are the image's uid/gid
//    numbers when we run as root, set on the entry itself (fchown / AT_SYMLINK_NOFOLLOW);
//  - OCI whiteouts: ".wh.NAME" removes NAME of lower layers, ".wh..wh..opq" empties its
//    directory of what lower layers put there; removal never follows a symlink;
//  - the declared size of all regular files and the number of entries across all layers are
//    bounded; the uncompressed stream is hashed as it is read, giving the layer's diff_id.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/digest.h"
#include "common/posix_status.h"

struct archive;
struct archive_entry;

namespace tempa::oci {

struct ExtractLimits {
  // Sum of the declared sizes of every regular file of every layer.
  uint64_t max_total_bytes = 8ull << 30;
  // Entries (whiteouts included) across all layers.
  uint64_t max_entries = 1'000'000;
};

class LayerExtractor {
 public:
  // `rootfs_fd` is the directory layers are applied to (it must outlive this); `rootfs_name` is
  // its path, for messages. Owners are applied only when `apply_owners` (root).
  LayerExtractor(int rootfs_fd, std::string rootfs_name, ExtractLimits limits, bool apply_owners);

  // Applies the layer blob at `blob_path` on top of what earlier calls extracted and returns the
  // sha256 of its uncompressed tar (its diff_id). `layer_name` ("layer 2/3 sha256:ab12…")
  // prefixes every error. Hostile or malformed entries are InvalidArgument, a passed limit
  // ResourceExhausted naming the limit; on any error the rootfs is half-written and must be
  // discarded by the caller.
  absl::StatusOr<Digest> Apply(const std::string& blob_path, absl::string_view layer_name);

  uint64_t total_bytes() const { return total_bytes_; }
  uint64_t total_entries() const { return total_entries_; }

 private:
  absl::Status ApplyEntry(archive* a, archive_entry* e);
  absl::Status ApplyWhiteout(const std::vector<std::string>& parts, const std::string& path);
  // Removes from `dir_fd` (the directory at `dir_path`) everything this layer did not put there.
  absl::Status RemoveLowerEntries(int dir_fd, const std::string& dir_path, size_t depth);
  absl::Status WriteRegular(archive* a, archive_entry* e, int parent_fd, const std::string& name,
                            const std::string& path);
  // `fresh`: made by us just now (owned by our euid/egid).
  absl::Status ApplyOwnerAndMode(int fd, archive_entry* e, const std::string& path, bool fresh);
  // The directory holding the entry `parts`, made when missing. The last one is kept open: tar
  // entries come grouped by directory. Whiteouts (which may remove it) drop it.
  absl::StatusOr<int> Parent(const std::vector<std::string>& parts);
  void NoteInThisLayer(const std::vector<std::string>& parts);

  const int rootfs_fd_;
  const std::string rootfs_name_;
  const ExtractLimits limits_;
  const bool apply_owners_;
  const int64_t euid_, egid_;
  UniqueFd parent_fd_;
  std::string parent_path_;
  uint64_t total_bytes_ = 0;
  uint64_t total_entries_ = 0;
  // Paths (and their ancestors) the current layer created: whiteouts leave them alone.
  absl::flat_hash_set<std::string> this_layer_;
};

// The mode an entry gets: permission bits only, without setuid/setgid/sticky or o+w.
inline mode_t SanitizedMode(mode_t mode) { return mode & 0775; }

}  // namespace tempa::oci
