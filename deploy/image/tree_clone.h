// Cloning an unpacked tree by hard links: directories are made anew (owner and mode copied),
// files and symlinks become new names of the same inodes. Unpacking never writes into an
// existing inode (an entry replacing a file unlinks it and creates a new one), so a clone of a
// base's snapshot can take an image's upper layers without touching the snapshot, and rootfs
// trees of one work directory share their base's files: they are read-only to everyone after.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tempa::deploy {

// Fills the empty directory `dst_fd` with a clone of the directory `src_fd` (never following a
// symlink). A file whose link count is exhausted is copied instead. `what` names `src` in errors.
absl::Status CloneTree(int src_fd, int dst_fd, absl::string_view what);

}  // namespace tempa::deploy
