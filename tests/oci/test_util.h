// Helpers for the OCI tests: temp dirs, files on disk, running external tools, and reading a
// layer back with libarchive.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace tempa::oci::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(absl::string_view rel) const;

 private:
  std::string path_;
};

// Writes `contents` to `path` (parents created) with `mode`.
void WriteFile(const std::string& path, absl::string_view contents, unsigned mode = 0644);
void MakeDirs(const std::string& path);
std::string ReadWholeFile(const std::string& path);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs `command` with /bin/sh; output captured.
CommandResult Run(const std::string& command);
// True when `tool` is on PATH.
bool HaveTool(const std::string& tool);
std::string ShellQuote(absl::string_view s);

// One tar entry as libarchive reads it back.
struct ReadEntry {
  std::string path;
  unsigned type = 0;  // AE_IFREG, AE_IFDIR, AE_IFLNK
  unsigned perm = 0;
  int64_t mtime = 0;
  int64_t uid = -1;
  int64_t gid = -1;
  std::string uname;
  std::string gname;
  bool atime_set = false;
  bool ctime_set = false;
  std::string symlink;
  std::string hardlink;
  std::string contents;
};
// Reads a tar.gz (or plain tar) held in memory; fails the current test on error.
std::vector<ReadEntry> ReadLayer(const std::string& bytes);

}  // namespace tempa::oci::testing
