// What goes into one layer: entries from disk or memory, at paths inside the image. The layer
// writer turns a spec into a deterministic tar.gz; the spec itself does no I/O beyond AddTree's
// directory walk.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/posix_status.h"

namespace tempa::oci {

struct LayerEntry {
  enum class Type { kFile, kDirectory, kSymlink, kHardlink };

  // Path inside the image, relative, '/'-separated, no "." or ".." parts: "app/server".
  std::string path;
  Type type = Type::kFile;
  // Permission bits written as given (including setuid/sticky), e.g. 0755, 01777.
  uint32_t mode = 0644;
  // kFile: a file on disk whose bytes are copied; empty when `contents` is set. Relative to
  // `source_root` when that is set.
  std::string source_path;
  // kFile: in-memory contents (used when source_path is empty).
  std::optional<std::string> contents;
  // kSymlink: the link target as written. kHardlink: the image path of the earlier entry.
  std::string link_target;
  // Owner written for this entry; unset: the writer's default (LayerWriteOptions uid/gid).
  std::optional<int> uid;
  std::optional<int> gid;
  // kFile: when set, `source_path` is relative to this directory and is opened beneath it
  // without following any symlink (a build's output: a planted link fails, naming it).
  std::string source_root;
};

// Opens the bytes of a kFile entry read from disk (beneath its source_root when set) and fills
// `size`. A symlink or anything but a regular file there is InvalidArgument naming the path.
absl::StatusOr<UniqueFd> OpenEntrySource(const LayerEntry& entry, int64_t* size);

struct TreeOptions {
  // Names (single path components) skipped wherever they appear, e.g. ".git".
  std::vector<std::string> exclude_names;
  // Files whose names end with one of these are skipped (".pyc").
  std::vector<std::string> exclude_suffixes;
  // Symlinks are always kept as links. By default one that is absolute or resolves outside the
  // tree is refused; with this set it goes into the layer as written (a build output such as a
  // venv's bin/python -> /usr/bin/python3.11 points into the image, never at the host).
  bool allow_links_out = false;
  // Called for each entry below the root (its path relative to the root; is_dir: a directory,
  // not a link to one) before it is examined further: true leaves it out, and a directory left
  // out is not walked (so what it holds, even a fifo, is never looked at).
  std::function<bool(const std::string& rel, bool is_dir)> skip;
};

// An unordered set of entries; the writer sorts them. Parent directories that are not added
// explicitly are written as 0755 directories.
class LayerSpec {
 public:
  // Adds one entry; a later entry with the same path replaces an earlier one.
  void Add(LayerEntry entry);
  // Adds the tree under `src_root` at `dest_prefix` ("app" → "app/..."), modes normalised
  // (directories 0755, files 0755 when any execute bit is set else 0644), hard links kept as hard
  // links. Symlinks are kept as links but refused with InvalidArgument when absolute or when
  // they resolve outside `src_root` (unless options.allow_links_out); sockets, fifos and devices
  // are refused too. The walk never follows a link below `src_root` (which the caller vouches
  // for: a source root or a directory mounted into the sandbox), and every file entry is read
  // later beneath it (LayerEntry::source_root).
  absl::Status AddTree(const std::string& src_root, const std::string& dest_prefix,
                       const TreeOptions& options = {});

  const std::vector<LayerEntry>& entries() const { return entries_; }

 private:
  std::vector<LayerEntry> entries_;
  // path → index in entries_, so Add's replace-by-path stays O(1) for trees of 100k files.
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace tempa::oci
