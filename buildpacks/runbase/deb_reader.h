// Reads a Debian binary package (.deb): an `ar` archive holding debian-binary, control.tar.* and
// data.tar.{xz,zst,gz,bz2}. libarchive reads the ar; the data.tar member is streamed straight
// into a second libarchive reader, so no member is ever held in memory whole (data.tar can be
// tens of MB). The entries come back as the package lists them, paths normalised ("./usr/bin"
// → "usr/bin"); layout decisions (merged /usr, exclusions, modes) are the caller's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tempa::buildpacks::runbase {

// One filesystem entry of a package (from a .deb or from the host's dpkg database).
struct PackageEntry {
  enum class Type { kFile, kDirectory, kSymlink, kHardlink };
  std::string path;  // relative to the root, '/'-separated, no "." / ".." parts
  Type type = Type::kFile;
  uint32_t mode = 0644;     // permission bits as packaged (setuid/setgid/sticky included)
  int64_t size = 0;         // kFile: bytes
  std::string link_target;  // kSymlink: target as written; kHardlink: path of the linked file
  std::string source_path;  // kFile: where the bytes are on disk (empty: see `contents`)
  std::optional<std::string> contents;  // kFile: bytes in memory
};

struct DebReadOptions {
  // Regular files are written under this directory at their package path and referenced by
  // source_path. Empty: contents are kept in memory (small packages, tests).
  std::string extract_dir;
  // With extract_dir: the files are already there from an earlier complete extraction of the
  // same .deb; only the entry list is read back (the data is decompressed, not written).
  bool files_already_extracted = false;
};

// The data.tar entries of `deb_path` in archive order. InvalidArgument for a malformed package
// (not an ar, no data.tar, paths escaping the root, device nodes), naming the package file.
absl::StatusOr<std::vector<PackageEntry>> ReadDebData(const std::string& deb_path,
                                                      const DebReadOptions& options = {});

// "./usr/bin/x", "usr//bin/x/" → "usr/bin/x"; "." and "./" → "" (the root). nullopt when the
// path contains ".." (it would leave the root). Leading "/" is stripped like dpkg does.
std::optional<std::string> NormalizePackagePath(const std::string& raw);

}  // namespace tempa::buildpacks::runbase
