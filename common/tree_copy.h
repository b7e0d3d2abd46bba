// Copies a directory tree that is untrusted input (a repository checkout, a build's output)
// without ever following a link in it: the walk holds directory descriptors opened with
// O_NOFOLLOW, symlinks are recreated as symlinks with their target text unchanged, and files
// are read through descriptors only. Nothing outside `from` is ever read.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tempa {

struct TreeCopyOptions {
  // Single path components skipped wherever they appear (".git", "target").
  std::vector<std::string> exclude_names;
  // Keep files' and directories' modification times (tools such as cargo compare them).
  bool keep_mtimes = true;
  // Give everything copied the owner of the directory `to` is made in (a build user's scratch
  // directory), instead of the caller's: set on each new entry's descriptor (links themselves).
  bool owner_from_parent = false;
  // Asked for each entry below `from` (its path relative to `from`, and whether it is a
  // directory), parents before their entries: true leaves it out (a directory is not walked).
  std::function<bool(const std::string& rel, bool is_dir)> skip;
};

// Copies the tree under the directory `from` into `to`, which must not exist yet (its parent
// must). Directories are created 0755, files 0755 when any execute bit was set else 0644, all
// owned by the caller (or see owner_from_parent); sockets, fifos and devices are skipped. `from`
// itself is opened as given (the caller vouches for it); below it nothing is followed.
absl::Status CopyTree(const std::string& from, const std::string& to,
                      const TreeCopyOptions& options = {});

// Names in the open directory `fd` (not "." or ".."), sorted; `path` names it in errors.
absl::StatusOr<std::vector<std::string>> ListDirectoryNames(int fd, const std::string& path);

// How deep a tree the walkers here (and the layer walk) descend; deeper is refused, since a
// build could otherwise nest directories until the walk runs out of descriptors.
inline constexpr int kMaxTreeDepth = 256;

// Removes the entry `name` of the directory `parent_fd` and everything under it, never following
// a symlink (a link is removed, not what it points at); `path` names it in errors. A missing
// entry is OK. Trees of any depth go: parts deeper than kMaxTreeDepth are moved up into
// `parent_fd` first and removed from there.
absl::Status RemoveTreeAt(int parent_fd, const std::string& name, const std::string& path);

}  // namespace tempa
