#include "worker/build_pipeline_dirs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/status_macros.h"
#include "common/tree_copy.h"

namespace tempa::worker {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

absl::Status SetOwnerAndMode(int fd, const std::string& path, DirOwner owner, mode_t mode) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "stat", path);
  if ((st.st_uid != owner.uid || st.st_gid != owner.gid) &&
      ::fchown(fd, owner.uid, owner.gid) != 0) {
    return ErrnoStatus(errno, "chown", path);
  }
  if ((st.st_mode & 07777) != mode && ::fchmod(fd, mode) != 0) {
    return ErrnoStatus(errno, "chmod", path);
  }
  return absl::OkStatus();
}

}  // namespace

DirOwner CurrentOwner() { return DirOwner{::geteuid(), ::getegid()}; }

mode_t ParentModeFor(DirOwner build_owner) { return build_owner.uid == ::geteuid() ? 0700 : 0711; }

absl::StatusOr<UniqueFd> EnsurePrivateDir(int parent_fd, const std::string& name,
                                          const std::string& path, DirOwner owner, mode_t mode) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("not one directory name: ", path));
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (::mkdirat(parent_fd, name.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, "create directory", path);
    }
    UniqueFd fd(::openat(parent_fd, name.c_str(), kDirFlags));
    if (fd.valid()) {
      RETURN_IF_ERROR(SetOwnerAndMode(fd.get(), path, owner, mode));
      return fd;
    }
    if (errno != ELOOP && errno != ENOTDIR) return ErrnoStatus(errno, "open directory", path);
    // A symlink or a file where our directory belongs: remove the entry itself (unlinkat never
    // follows a link) and make the directory afresh.
    if (::unlinkat(parent_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "remove the non-directory", path);
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat(path, " keeps being replaced by something that is not a directory"));
}

absl::StatusOr<UniqueFd> OpenNamedDir(const std::string& path, mode_t mode_if_created) {
  std::error_code ec;
  bool created = std::filesystem::create_directories(path, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("create directory ", path, ": ", ec.message()));
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open directory", path);
  if (created && ::fchmod(fd.get(), mode_if_created) != 0) {
    return ErrnoStatus(errno, "chmod", path);
  }
  return fd;
}

absl::StatusOr<std::string> PathOfFd(int fd) {
  std::string link = absl::StrCat("/proc/self/fd/", fd);
  char buf[PATH_MAX];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buf || buf[0] != '/') {
    return ErrnoStatus(n < 0 ? errno : ENAMETOOLONG, "resolve", link);
  }
  return std::string(buf, static_cast<size_t>(n));
}

std::string AppCacheKey(absl::string_view repository) {
  std::string prefix;
  for (char c : repository.substr(0, 48)) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.';
    prefix.push_back(safe ? c : '_');
  }
  if (prefix.empty() || prefix[0] == '.') prefix.insert(0, "app");
  return absl::StrCat(prefix, "-", Sha256Of(repository).hex().substr(0, 16));
}

absl::Status CheckOnlyWeCanChange(const std::string& path) {
  const uid_t self = ::geteuid();
  std::string prefix;
  for (size_t end = 0; end != std::string::npos;) {
    end = path.find('/', end + 1);
    prefix = end == std::string::npos ? path : path.substr(0, end);
    if (prefix.empty()) prefix = "/";
    struct stat st;
    if (::lstat(prefix.c_str(), &st) != 0) return ErrnoStatus(errno, "stat", prefix);
    bool ours = st.st_uid == self && !S_ISLNK(st.st_mode);
    bool shared_writable = (st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0;
    if (!ours || shared_writable) {
      return absl::FailedPreconditionError(
          absl::StrCat(prefix, " can be changed by uid ", st.st_uid,
                       ours ? " and others (it is group/other-writable)" : " (not ours)",
                       ", so build directories are not kept under it"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PrivateAreaFor(const std::string& cache_dir,
                                           const std::string& private_root) {
  char* resolved = ::realpath(cache_dir.c_str(), nullptr);
  if (resolved == nullptr) return ErrnoStatus(errno, "resolve", cache_dir);
  std::string real(resolved);
  std::free(resolved);
  return absl::StrCat(private_root, "/", Sha256Of(real).hex().substr(0, 32));
}

absl::StatusOr<UniqueFd> LockFile(int dir_fd, const std::string& name, const std::string& path,
                                  const std::function<void()>& on_wait, const CancelToken* cancel) {
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, "open lock file", path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return fd;
  if (errno != EWOULDBLOCK) return ErrnoStatus(errno, "lock", path);
  if (on_wait) on_wait();
  if (cancel != nullptr) {  // polled, so a cancel ends the wait at once
    while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) return ErrnoStatus(errno, "lock", path);
      if (cancel->WaitFor(absl::Milliseconds(100))) {
        return absl::CancelledError(absl::StrCat("cancelled while waiting for the lock ", path));
      }
    }
    return fd;
  }
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return ErrnoStatus(errno, "lock", path);
  }
  return fd;
}

namespace {

// The machine-wide seeds directory, when only root can change what leads to it and it shares the
// area's file system.
absl::StatusOr<std::string> OpenSharedSeeds(const std::string& shared_root, int area_fd) {
  size_t slash = shared_root.rfind('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == shared_root.size()) {
    return absl::InvalidArgumentError("not an absolute directory path: " + shared_root);
  }
  std::string parent = shared_root.substr(0, slash);
  ASSIGN_OR_RETURN(UniqueFd parent_fd, OpenNamedDir(parent, 0711));
  ASSIGN_OR_RETURN(std::string real_parent, PathOfFd(parent_fd.get()));
  RETURN_IF_ERROR(CheckOnlyWeCanChange(real_parent));
  std::string seeds = absl::StrCat(real_parent, "/", shared_root.substr(slash + 1));
  ASSIGN_OR_RETURN(UniqueFd fd, EnsurePrivateDir(parent_fd.get(), shared_root.substr(slash + 1),
                                                 seeds, CurrentOwner(), 0711));
  struct stat seeds_st, area_st;
  if (::fstat(fd.get(), &seeds_st) != 0) return ErrnoStatus(errno, "stat", seeds);
  if (::fstat(area_fd, &area_st) != 0) return ErrnoStatus(errno, "stat", "the work area");
  if (seeds_st.st_dev != area_st.st_dev) {
    return absl::FailedPreconditionError(seeds + " is on another file system than the work area");
  }
  return seeds;
}

absl::StatusOr<std::string> SeedsFor(int area_fd, const std::string& area_path,
                                     const std::string& shared_root) {
  if (!shared_root.empty() && ::geteuid() == 0) {
    absl::StatusOr<std::string> shared = OpenSharedSeeds(shared_root, area_fd);
    if (shared.ok()) return shared;
  }
  std::string seeds = area_path + "/seeds";
  ASSIGN_OR_RETURN(UniqueFd fd, EnsurePrivateDir(area_fd, "seeds", seeds, CurrentOwner(), 0711));
  return seeds;
}

}  // namespace

absl::StatusOr<std::string> OpenToolchainSeeds(const std::string& area,
                                               const std::string& shared_root) {
  ASSIGN_OR_RETURN(UniqueFd area_fd, OpenNamedDir(area, 0711));
  ASSIGN_OR_RETURN(std::string area_path, PathOfFd(area_fd.get()));
  return SeedsFor(area_fd.get(), area_path, shared_root);
}

absl::StatusOr<BuildDirs> BuildDirs::Open(const Options& options, absl::string_view repository,
                                          const std::function<void(absl::string_view)>& log) {
  const DirOwner root = CurrentOwner();
  const mode_t parent_mode = ParentModeFor(options.build_owner);
  BuildDirs dirs;
  dirs.owner_ = options.build_owner;

  // The scratch directory: a fresh name in the root-owned tmp/.
  ASSIGN_OR_RETURN(UniqueFd tmp, OpenNamedDir(options.scratch_parent, parent_mode));
  RETURN_IF_ERROR(SetOwnerAndMode(tmp.get(), options.scratch_parent, root, parent_mode));
  ASSIGN_OR_RETURN(std::string tmp_path, PathOfFd(tmp.get()));
  for (int attempt = 0; !dirs.scratch_fd_.valid(); ++attempt) {
    uint64_t random = 0;
    if (::getrandom(&random, sizeof random, 0) != sizeof random) {
      return ErrnoStatus(errno, "getrandom for a scratch directory name in", tmp_path);
    }
    std::string name = absl::StrCat("build-", absl::Hex(random, absl::kZeroPad16));
    if (::mkdirat(tmp.get(), name.c_str(), 0700) != 0) {
      if (errno == EEXIST && attempt < 10) continue;
      return ErrnoStatus(errno, "create scratch directory in", tmp_path);
    }
    dirs.scratch_fd_.Reset(::openat(tmp.get(), name.c_str(), kDirFlags));
    if (!dirs.scratch_fd_.valid()) return ErrnoStatus(errno, "open", tmp_path + "/" + name);
    dirs.scratch_name_ = name;
    dirs.scratch_ = absl::StrCat(tmp_path, "/", name);
  }
  dirs.scratch_parent_fd_ = std::move(tmp);

  // The app's cache: apps/<key> owned by the build user; its lock in root's own locks/ (0700),
  // where the build user can neither reach nor replace it.
  ASSIGN_OR_RETURN(UniqueFd area, OpenNamedDir(options.cache_parent, parent_mode));
  ASSIGN_OR_RETURN(std::string area_path, PathOfFd(area.get()));
  std::string apps_path = area_path + "/apps";
  ASSIGN_OR_RETURN(UniqueFd apps,
                   EnsurePrivateDir(area.get(), "apps", apps_path, root, parent_mode));
  ASSIGN_OR_RETURN(UniqueFd locks,
                   EnsurePrivateDir(area.get(), "locks", area_path + "/locks", root, 0700));
  std::string key = AppCacheKey(repository);
  ASSIGN_OR_RETURN(dirs.cache_lock_,
                   LockFile(
                       locks.get(), key + ".lock", absl::StrCat(area_path, "/locks/", key, ".lock"),
                       [&] {
                         if (log) {
                           log(absl::StrCat("waiting for another build of ", repository,
                                            " to finish with its cache"));
                         }
                       },
                       options.cancel));
  // Tempa's own caches shared by every app (fetched .debs, checked against their digests): the
  // build user never writes there, and apt's _apt user only passes through to its own download
  // directory.
  dirs.shared_cache_ = area_path + "/debs";
  ASSIGN_OR_RETURN(UniqueFd shared,
                   EnsurePrivateDir(area.get(), "debs", dirs.shared_cache_, root, 0711));
  ASSIGN_OR_RETURN(dirs.seeds_, SeedsFor(area.get(), area_path, options.shared_seeds_root));
  dirs.app_cache_ = absl::StrCat(apps_path, "/", key);
  ASSIGN_OR_RETURN(UniqueFd cache,
                   EnsurePrivateDir(apps.get(), key, dirs.app_cache_, options.build_owner, 0700));
  return dirs;
}

absl::Status BuildDirs::HandOverScratch() {
  return SetOwnerAndMode(scratch_fd_.get(), scratch_, owner_, 0700);
}

BuildDirs::~BuildDirs() {
  if (!scratch_parent_fd_.valid() || scratch_name_.empty()) return;
  scratch_fd_.Reset();
  (void)RemoveTreeAt(scratch_parent_fd_.get(), scratch_name_, scratch_);
}

}  // namespace tempa::worker
