// The Go standard library compiled once per toolchain and shared, read-only, by every app's build
// cache. With an empty GOCACHE an app's first `go build` compiles the whole standard library
// (tens of seconds); instead Tempa compiles `std` itself, once per toolchain and build settings
// (the toolchain on its own standard library only, with Tempa's flags and env, never a build's),
// keeps the result as a root-owned seed (files 0444, directories 0700, published by rename
// under a lock) and hard-links the seed's entries into each app's GOCACHE before its build.
//
// Why a build cannot alter it: the app's GOCACHE directories belong to the build user, so go
// adds entries and may unlink any (its trim), but a linked file stays root's and read-only: the
// build user can neither write it nor chmod it, and the daemon's hand-over walk leaves files
// with other names that the build user does not own as they are. Go's own attempt to bump the
// mtime of an entry it uses fails quietly (it ignores the error); Tempa refreshes the seed's
// mtimes itself instead, so go's trim (entries unused for 5 days) leaves the links be.
//
// Layout under the seeds directory (root's, 0711): go-<key>/ the seed (root's, 0700) with
// go-build/<xx>/<hash>-{a,d} and INFO; go-<key>.lock; while one is made, .work-go-<key>/ (the
// build user's: the sandbox writes there) and .staging-go-<key>/ (root's copy before the rename).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "buildpacks/buildpack.h"
#include "buildpacks/go/go_toolchain.h"
#include "common/sandbox/sandbox.h"

namespace tempa::buildpacks::go {

struct GoStdSeedOptions {
  // Root's seeds directory (made by the pipeline: BuildDirs::toolchain_seeds()).
  std::string seeds_dir;
  // Runs `go build std` as the build user.
  Sandbox* sandbox = nullptr;
  // Owner of the work directory the sandboxed toolchain writes (the build user).
  uid_t build_uid = 0;
  gid_t build_gid = 0;
  std::function<void(absl::string_view line)> log;
  // The seed's files get a fresh mtime when its last refresh is older than this, so that go's
  // trim (which drops entries unused for 5 days) never removes them from an app's cache.
  absl::Duration refresh_after = absl::Hours(24);
  // When a new seed is made, other seeds not used for this long (an older toolchain's) are
  // removed. A seed in use is refreshed every refresh_after, so it never looks this old.
  absl::Duration remove_unused_after = absl::Hours(24 * 30);
  // The limits of the one `go build std` run (trusted code: only the time is bounded).
  SandboxLimits limits;
};

// A seed ready to link from.
struct GoStdSeed {
  std::string dir;  // seeds_dir/go-<key>
  std::string key;
  bool produced = false;  // made by this call (else found)
};

// Hex key of the seed for `toolchain`: the seed format, the toolchain (binary path, GOROOT,
// version, and the size, mtime and inode of `go` and of its `compile`, so a rebuilt toolchain
// with the same version string is a new key), and the flags and env Tempa's builds use.
std::string GoStdSeedKey(const GoToolchain& toolchain);

// The sandbox command that compiles the standard library into `work_host`/go-build, the way an
// app's build would (GoBuildEnv with no user env, GoBuildFlags, GOCACHE=/cache/go-build).
SandboxCommand MakeGoStdSeedCommand(const GoToolchain& toolchain, const std::string& work_host);

// Returns the seed for `toolchain`, producing it first when there is none: under the key's lock
// (a concurrent caller waits, then finds it), in a fresh work directory, then copied (read
// beneath the work directory, never following a link; only cache entry files) into a root-owned
// staging directory, synced and renamed into place; then removes seeds unused for
// remove_unused_after. Refreshes the seed's mtimes when due.
// Errors name what failed; a failed `go build std` is Internal with its output's last lines.
absl::StatusOr<GoStdSeed> EnsureGoStdSeed(const GoToolchain& toolchain,
                                          const GoStdSeedOptions& options);

struct SeedLinkStats {
  size_t added = 0;    // entries linked (or copied) into the cache now
  size_t present = 0;  // entries the cache already had under the seed's names
};

// Puts every entry of the seed `seed_dir` into the GOCACHE `gocache_dir` (created when missing,
// owned like its parent; its <xx> directories too), reached through descriptors without
// following a link. Entries the cache already has are left alone. `hard_link`: link the seed's
// root-owned read-only files (builds run as another user); else copy them (builds run as this
// process's user, who could otherwise chmod a shared file). EXDEV (another file system) is
// FailedPrecondition.
absl::StatusOr<SeedLinkStats> SeedGoCache(const std::string& seed_dir,
                                          const std::string& gocache_dir, bool hard_link);

// What the Go build calls before `go build`: when context.toolchain_seed_dir is set, ensures the
// seed (the sandbox runs as the owner of context.scratch_dir) and seeds `gocache_dir` from it,
// logging one line. Never fails the build: a seed problem is logged and costs only time.
void SeedAppGoCache(const GoToolchain& toolchain, const BuildContext& context,
                    const std::string& gocache_dir);

}  // namespace tempa::buildpacks::go
