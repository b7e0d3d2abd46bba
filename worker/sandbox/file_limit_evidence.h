// Evidence that a build process hit the file-size limit (RLIMIT_FSIZE), whichever process it
// was: the kernel cuts a write at exactly the limit and sends SIGXFSZ, so the file is left with
// exactly `limit` bytes. A grandchild's death (cargo running build.rs, a compiler under go) shows
// in the log only as whatever its parent prints, so the sandbox also looks at what was written.
// Internal to worker/sandbox.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tempa::sandbox_internal {

struct WrittenTree {
  std::string host_path;     // a writable mount's source on the host
  std::string sandbox_path;  // where the build saw it
};

// The sandbox path of a regular file beneath one of `trees` whose size is exactly `limit` and
// that was modified at or after `since`; nullopt when there is none. Walks with openat and
// O_NOFOLLOW (never following a link the build planted), stays on each tree's file system and
// gives up after `max_entries` directory entries.
std::optional<std::string> FindFileCutAtLimit(const std::vector<WrittenTree>& trees, uint64_t limit,
                                              absl::Time since, int max_entries = 200000);

// Whether the output of a failed build says a process died of SIGXFSZ or got EFBIG: the
// shell's "File size limit exceeded", cargo's "(signal: 25)", Go's "signal: file size limit
// exceeded", "File too large".
bool OutputSaysFileTooLarge(absl::string_view log_tail);

}  // namespace tempa::sandbox_internal
