// The build pipeline's private directories: the root-owned work area (tmp/ and apps/), one
// scratch directory per build and one tool cache per app, both owned by the build user with
// mode 0700. Everything is made and handed over through descriptors (mkdirat/openat with
// O_NOFOLLOW, fchown, fchmod), so a symlink planted by a build or another local user is removed
// or refused, never followed; and an app's cache is locked (flock) for a whole build.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/cancel_token.h"
#include "common/posix_status.h"

namespace tempa::worker {

// Who owns a directory the build writes.
struct DirOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// The process's own effective uid/gid.
DirOwner CurrentOwner();

// The mode of the root-owned parents (work area, tmp/, apps/): 0711 when builds run as another
// user (who must pass through them but not list or write them), else 0700.
mode_t ParentModeFor(DirOwner build_owner);

// Opens the directory `name` of the directory `parent_fd`, creating it when missing, without
// following a symlink, and sets its owner and mode through the opened descriptor. An entry that
// is not a directory (a symlink or file left by someone) is removed and replaced by a directory.
// `path` names it in errors.
absl::StatusOr<UniqueFd> EnsurePrivateDir(int parent_fd, const std::string& name,
                                          const std::string& path, DirOwner owner, mode_t mode);

// Opens a directory the operator named (its symlinks are theirs, so they are followed), creating
// it and its parents when missing; a directory made here gets `mode_if_created`, an existing one
// keeps its mode and owner.
absl::StatusOr<UniqueFd> OpenNamedDir(const std::string& path, mode_t mode_if_created);

// The absolute path, without symlinks, of the open directory `fd`.
absl::StatusOr<std::string> PathOfFd(int fd);

// The per-app cache directory name for `repository`: a readable sanitised prefix, '-', and 16
// hex digits of the SHA-256 of the exact name, so "team/app" and "team_app" never share one.
std::string AppCacheKey(absl::string_view repository);

// OK when only this process's user (root, when builds run as another user) can change what
// `path` (a real path) names: it and every ancestor belong to that user and are writable by no
// one else, or are sticky (/tmp). FailedPrecondition naming the first that is not: another
// user could then swap a directory Tempa made there for a link.
absl::Status CheckOnlyWeCanChange(const std::string& path);

// Where builds keep their writable directories for the cache directory `cache_dir` when the build
// user cannot reach it (a 0700 `mktemp -d`): a directory under `private_root` named by the
// SHA-256 of cache_dir's real path.
absl::StatusOr<std::string> PrivateAreaFor(const std::string& cache_dir,
                                           const std::string& private_root);
// The root of those areas; root-owned 0711.
inline constexpr char kDefaultPrivateRoot[] = "/var/cache/tempa/private";

// Takes the exclusive flock on the lock file `name` in `dir_fd` (created 0600, opened
// O_NOFOLLOW|O_CLOEXEC), calling `on_wait` first when another process holds it. The lock lasts
// as long as the returned descriptor.
// While waiting, a set `cancel` ends the wait with Cancelled.
absl::StatusOr<UniqueFd> LockFile(int dir_fd, const std::string& name, const std::string& path,
                                  const std::function<void()>& on_wait,
                                  const CancelToken* cancel = nullptr);

// The machine-wide toolchain seeds directory: one seed per toolchain for every Tempa process on
// the machine (each CLI cache directory, each worker), so a fresh cache directory's first Go build
// compiles no standard library either.
inline constexpr char kDefaultSharedSeedsRoot[] = "/var/cache/tempa/seeds";

// Opens (making it when missing) the root-owned toolchain seeds directory (0711, never through a
// link) for the work area `area`: `shared_root` when it is usable (this process is root, only
// root can change its parent, and it is on the area's file system, since seeds are hard-linked
// into app caches), else `area`/seeds. Returns its path. For BuildDirs and for a daemon that
// prepares seeds before its first build.
absl::StatusOr<std::string> OpenToolchainSeeds(
    const std::string& area, const std::string& shared_root = kDefaultSharedSeedsRoot);

// One build's scratch directory and its app's cache, made, locked and removed as the build
// goes. Paths are real (no symlinks), as the buildpacks' MakeDirs requires.
class BuildDirs {
 public:
  struct Options {
    std::string scratch_parent;  // tmp/ of the work area
    std::string cache_parent;    // the work area: app caches go in its apps/, locks in locks/
    DirOwner build_owner;
    // See OpenToolchainSeeds; empty: always the area's own seeds/.
    std::string shared_seeds_root = kDefaultSharedSeedsRoot;
    // Ends a wait for the app's cache (another build of the app holds it) with Cancelled.
    const CancelToken* cancel = nullptr;
  };
  // Makes a scratch directory (root's until HandOverScratch, so a source copy can be made in it
  // first), then opens and locks the cache of `repository`: `log` says so when it has to wait.
  static absl::StatusOr<BuildDirs> Open(const Options& options, absl::string_view repository,
                                        const std::function<void(absl::string_view)>& log);
  BuildDirs(BuildDirs&& other) noexcept = default;
  ~BuildDirs();

  const std::string& scratch() const { return scratch_; }
  const std::string& app_cache() const { return app_cache_; }
  // Root's own cache of fetched Debian packages, shared by all apps (0711: apt's _apt user
  // passes through to its download directory); no build mounts or writes it.
  const std::string& shared_debs() const { return shared_cache_; }
  // Root's toolchain seeds (0711: the build user passes through to the work directory
  // a seed is compiled in), shared by all apps; builds see only read-only links to them.
  const std::string& toolchain_seeds() const { return seeds_; }
  // Gives the scratch directory itself to the build owner, mode 0700.
  absl::Status HandOverScratch();

 private:
  BuildDirs() = default;

  DirOwner owner_;
  UniqueFd scratch_parent_fd_;
  UniqueFd scratch_fd_;
  std::string scratch_name_;
  std::string scratch_;
  std::string app_cache_;
  std::string shared_cache_;
  std::string seeds_;
  UniqueFd cache_lock_;
};

}  // namespace tempa::worker
