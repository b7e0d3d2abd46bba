#include "buildpacks/go/go_std_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "buildpacks/go/go_build.h"
#include "common/beneath.h"
#include "common/digest.h"
#include "common/posix_status.h"
#include "common/status_macros.h"
#include "common/tree_copy.h"

namespace tempa::buildpacks::go {
namespace {

// Bump when the seed's layout or the way it is made changes: old seeds are then never used.
constexpr char kSeedFormat[] = "tempa-go-std-seed-v1";
constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
// What `go build std` writes is a few hundred MiB at most; more is not a standard library.
constexpr size_t kMaxSeedEntries = 100000;
constexpr uint64_t kMaxSeedBytes = 4ull << 30;

// The names in the open directory `dir_fd` (not "." or "..").
absl::StatusOr<std::vector<std::string>> NamesIn(int dir_fd, const std::string& path) {
  int list_fd = ::dup(dir_fd);
  if (list_fd < 0) return ErrnoStatus(errno, "dup", path);
  DIR* dir = ::fdopendir(list_fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(list_fd);
    return ErrnoStatus(err, "read directory", path);
  }
  ::rewinddir(dir);
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    struct dirent* entry = ::readdir(dir);
    if (entry == nullptr) break;
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return ErrnoStatus(err, "read directory", path);
  return names;
}

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(c) && (c < 'a' || c > 'f')) return false;
  }
  return !s.empty();
}

// go's cache layout: <xx>/ directories, and in them <64 hex>-a (action) and -d (output) files.
bool IsSubdirName(absl::string_view name) { return name.size() == 2 && IsHex(name); }
bool IsEntryName(absl::string_view name) {
  return name.size() == 66 && IsHex(name.substr(0, 64)) &&
         (absl::EndsWith(name, "-a") || absl::EndsWith(name, "-d"));
}

std::string Identity(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return absl::StrCat(path, " missing");
  return absl::StrCat(path, " size=", st.st_size, " mtime=", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec, " ino=", st.st_ino);
}

// Creates (if missing) and opens `name` in `parent_fd` as a directory, never through a link;
// gives it `uid`/`gid` when it has another owner.
absl::StatusOr<UniqueFd> OwnedDir(int parent_fd, const std::string& name, const std::string& path,
                                  uid_t uid, gid_t gid, mode_t mode) {
  if (::mkdirat(parent_fd, name.c_str(), mode) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "create directory", path);
  }
  UniqueFd fd(::openat(parent_fd, name.c_str(), kDirFlags));
  if (!fd.valid()) return ErrnoStatus(errno, "open directory", path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  if ((st.st_uid != uid || st.st_gid != gid) && ::fchown(fd.get(), uid, gid) != 0) {
    return ErrnoStatus(errno, "chown", path);
  }
  return fd;
}

absl::StatusOr<UniqueFd> LockKey(int seeds_fd, const std::string& name, const std::string& path) {
  UniqueFd fd(::openat(seeds_fd, name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, "open lock file", path);
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return ErrnoStatus(errno, "lock", path);
  }
  return fd;
}

// Copies `from_fd` (a regular file) into a new file `name` of `dir_fd`, root's and 0444.
absl::Status CopyInto(int from_fd, int dir_fd, const std::string& name, const std::string& path,
                      uint64_t& budget) {
  UniqueFd out(
      ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444));
  if (!out.valid()) return ErrnoStatus(errno, "create", path);
  // A file system that shares extents (btrfs, xfs) copies for free.
  struct stat st;
  if (::fstat(from_fd, &st) == 0 && static_cast<uint64_t>(st.st_size) <= budget &&
      ::ioctl(out.get(), FICLONE, from_fd) == 0) {
    budget -= static_cast<uint64_t>(st.st_size);
    if (::fchmod(out.get(), 0444) != 0) return ErrnoStatus(errno, "chmod", path);
    return absl::OkStatus();
  }
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(from_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read the toolchain's output for", path);
    if (n == 0) break;
    if (static_cast<uint64_t>(n) > budget) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the standard library's build cache is larger than ", kMaxSeedBytes,
                       " bytes; not a seed"));
    }
    budget -= static_cast<uint64_t>(n);
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out.get(), buf + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return ErrnoStatus(errno, "write", path);
      done += w;
    }
  }
  if (::fchmod(out.get(), 0444) != 0) return ErrnoStatus(errno, "chmod", path);
  return absl::OkStatus();
}

// Copies the cache entries of work/go-build into staging/go-build: only <xx>/<hash>-{a,d}
// regular files, each opened beneath the work directory without following a link.
absl::StatusOr<size_t> CopyProducedCache(int work_fd, const std::string& work, int staging_fd,
                                         const std::string& staging) {
  ASSIGN_OR_RETURN(UniqueFd from, OpenBeneath(work_fd, "go-build", O_RDONLY | O_DIRECTORY, work));
  std::string to_path = staging + "/go-build";
  ASSIGN_OR_RETURN(UniqueFd to,
                   OwnedDir(staging_fd, "go-build", to_path, ::geteuid(), ::getegid(), 0700));
  ASSIGN_OR_RETURN(std::vector<std::string> subdirs, NamesIn(from.get(), work + "/go-build"));
  size_t entries = 0;
  uint64_t budget = kMaxSeedBytes;
  for (const std::string& sub : subdirs) {
    if (!IsSubdirName(sub)) continue;
    std::string sub_path = absl::StrCat(work, "/go-build/", sub);
    absl::StatusOr<UniqueFd> from_sub =
        OpenBeneath(from.get(), sub, O_RDONLY | O_DIRECTORY, work + "/go-build");
    if (!from_sub.ok()) continue;  // not a directory: nothing of a cache
    ASSIGN_OR_RETURN(UniqueFd to_sub,
                     OwnedDir(to.get(), sub, to_path + "/" + sub, ::geteuid(), ::getegid(), 0700));
    ASSIGN_OR_RETURN(std::vector<std::string> names, NamesIn(from_sub->get(), sub_path));
    for (const std::string& name : names) {
      if (!IsEntryName(name)) continue;
      absl::StatusOr<UniqueFd> file = OpenRegularFileBeneath(from_sub->get(), name, sub_path);
      if (!file.ok()) continue;  // a link or a fifo is no cache entry: left out
      if (++entries > kMaxSeedEntries) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "the standard library's build cache has more than ", kMaxSeedEntries, " entries"));
      }
      RETURN_IF_ERROR(CopyInto(file->get(), to_sub.get(), name,
                               absl::StrCat(to_path, "/", sub, "/", name), budget));
    }
  }
  return entries;
}

absl::Status WriteInfo(int staging_fd, const std::string& staging, const std::string& text) {
  UniqueFd fd(
      ::openat(staging_fd, "INFO", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444));
  if (!fd.valid()) return ErrnoStatus(errno, "create", staging + "/INFO");
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return ErrnoStatus(errno, "write", staging + "/INFO");
  }
  return absl::OkStatus();
}

std::string KeyText(const GoToolchain& toolchain) {
  std::string text = absl::StrCat(kSeedFormat, "\ngo ", Identity(toolchain.go_binary), "\ngoroot ",
                                  toolchain.goroot, "\nversion ", toolchain.version, "\n");
  // The compiler itself: a rebuilt toolchain keeps its version string but not its build ids.
  std::string tool_dir = toolchain.goroot + "/pkg/tool";
  if (DIR* dir = ::opendir(tool_dir.c_str())) {
    std::vector<std::string> platforms;
    while (struct dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..") platforms.push_back(name);
    }
    ::closedir(dir);
    std::sort(platforms.begin(), platforms.end());
    for (const std::string& p : platforms) {
      absl::StrAppend(&text, "compile ", Identity(tool_dir + "/" + p + "/compile"), "\n");
    }
  }
  SandboxCommand command = MakeGoStdSeedCommand(toolchain, "/");
  for (const std::string& arg : command.argv) absl::StrAppend(&text, "arg ", arg, "\n");
  for (const auto& [name, value] : command.env)
    absl::StrAppend(&text, "env ", name, "=", value, "\n");
  return text;
}

// Gives every file of the seed a fresh mtime when the last refresh (INFO's mtime) is older than
// `after`; root owns them, so this works where go's own attempt from the build fails.
absl::Status RefreshIfDue(int seed_fd, const std::string& seed, absl::Duration after) {
  struct stat info;
  if (::fstatat(seed_fd, "INFO", &info, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(errno, "stat", seed + "/INFO");
  }
  absl::Time refreshed = absl::FromUnixSeconds(info.st_mtim.tv_sec);
  if (absl::Now() - refreshed < after) return absl::OkStatus();
  ASSIGN_OR_RETURN(UniqueFd cache, OpenBeneath(seed_fd, "go-build", O_RDONLY | O_DIRECTORY, seed));
  ASSIGN_OR_RETURN(std::vector<std::string> subdirs, NamesIn(cache.get(), seed + "/go-build"));
  for (const std::string& sub : subdirs) {
    ASSIGN_OR_RETURN(UniqueFd dir, OpenBeneath(cache.get(), sub, O_RDONLY | O_DIRECTORY, seed));
    ASSIGN_OR_RETURN(std::vector<std::string> names, NamesIn(dir.get(), seed + "/" + sub));
    for (const std::string& name : names) {
      (void)::utimensat(dir.get(), name.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);
    }
  }
  if (::utimensat(seed_fd, "INFO", nullptr, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(errno, "touch", seed + "/INFO");
  }
  return absl::OkStatus();
}

// Runs the toolchain on std in a fresh work directory and publishes the copy as `name`. The
// caller holds the key's lock.
absl::Status Produce(const GoToolchain& toolchain, const GoStdSeedOptions& options, int seeds_fd,
                     const std::string& name, const std::string& key_text) {
  const std::string& seeds = options.seeds_dir;
  std::string work_name = ".work-" + name, staging_name = ".staging-" + name;
  std::string work = seeds + "/" + work_name, staging = seeds + "/" + staging_name;
  // Whatever a crashed run left under these names goes first.
  RETURN_IF_ERROR(RemoveTreeAt(seeds_fd, work_name, work));
  RETURN_IF_ERROR(RemoveTreeAt(seeds_fd, staging_name, staging));
  ASSIGN_OR_RETURN(UniqueFd work_fd,
                   OwnedDir(seeds_fd, work_name, work, options.build_uid, options.build_gid, 0700));
  if (::fchmod(work_fd.get(), 0700) != 0) return ErrnoStatus(errno, "chmod", work);

  SandboxCommand command = MakeGoStdSeedCommand(toolchain, work);
  command.limits = options.limits;
  // `go build std` prints nothing when it works; whatever it says goes to the log.
  command.on_output = [&options](absl::string_view line) {
    if (options.log) options.log(absl::StrCat("go build std: ", line));
  };
  ASSIGN_OR_RETURN(SandboxResult result, options.sandbox->Run(command));
  if (!result.ok()) {
    (void)RemoveTreeAt(seeds_fd, work_name, work);
    return absl::InternalError(
        absl::StrCat("go build std (", toolchain.version, ") failed: ", result.log_tail));
  }

  ASSIGN_OR_RETURN(UniqueFd staging_fd,
                   OwnedDir(seeds_fd, staging_name, staging, ::geteuid(), ::getegid(), 0700));
  if (::fchmod(staging_fd.get(), 0700) != 0) return ErrnoStatus(errno, "chmod", staging);
  ASSIGN_OR_RETURN(size_t entries,
                   CopyProducedCache(work_fd.get(), work, staging_fd.get(), staging));
  RETURN_IF_ERROR(RemoveTreeAt(seeds_fd, work_name, work));
  if (entries == 0) {
    (void)RemoveTreeAt(seeds_fd, staging_name, staging);
    return absl::InternalError(
        absl::StrCat("go build std (", toolchain.version, ") left no cache entries in ", work));
  }
  RETURN_IF_ERROR(
      WriteInfo(staging_fd.get(), staging, absl::StrCat(key_text, "entries ", entries, "\n")));
  // Everything on disk before the name appears: a crash leaves no seed or a whole one.
  if (::syncfs(staging_fd.get()) != 0) return ErrnoStatus(errno, "sync", staging);
  if (::renameat(seeds_fd, staging_name.c_str(), seeds_fd, name.c_str()) != 0) {
    int err = errno;
    (void)RemoveTreeAt(seeds_fd, staging_name, staging);
    return ErrnoStatus(err, "publish the seed", seeds + "/" + name);
  }
  if (::fsync(seeds_fd) != 0) return ErrnoStatus(errno, "sync", seeds);
  return absl::OkStatus();
}

}  // namespace

std::string GoStdSeedKey(const GoToolchain& toolchain) {
  return Sha256Of(KeyText(toolchain)).hex().substr(0, 32);
}

SandboxCommand MakeGoStdSeedCommand(const GoToolchain& toolchain, const std::string& work_host) {
  GoBuildParams params;
  params.toolchain = toolchain;
  SandboxCommand command;
  command.argv = {toolchain.go_binary, "build"};
  for (std::string& flag : GoBuildFlags()) command.argv.push_back(std::move(flag));
  command.argv.push_back("std");
  command.env = GoBuildEnv(params, {});
  command.cwd = kSandboxCache;
  command.mounts = {{work_host, kSandboxCache, true}};
  if (!absl::StartsWith(toolchain.goroot, "/usr/")) {
    command.mounts.push_back({toolchain.goroot, toolchain.goroot, false});
  }
  return command;
}

absl::StatusOr<GoStdSeed> EnsureGoStdSeed(const GoToolchain& toolchain,
                                          const GoStdSeedOptions& options) {
  if (options.sandbox == nullptr) return absl::InvalidArgumentError("go std seed: no sandbox");
  ASSIGN_OR_RETURN(UniqueFd seeds, OpenRootDirectory(options.seeds_dir));
  GoStdSeed seed;
  std::string key_text = KeyText(toolchain);
  seed.key = Sha256Of(key_text).hex().substr(0, 32);
  std::string name = "go-" + seed.key;
  seed.dir = options.seeds_dir + "/" + name;
  UniqueFd found(::openat(seeds.get(), name.c_str(), kDirFlags));
  if (!found.valid()) {
    if (errno != ENOENT) return ErrnoStatus(errno, "open", seed.dir);
    ASSIGN_OR_RETURN(UniqueFd lock, LockKey(seeds.get(), name + ".lock", seed.dir + ".lock"));
    found.Reset(::openat(seeds.get(), name.c_str(), kDirFlags));  // made while we waited?
    if (!found.valid()) {
      if (errno != ENOENT) return ErrnoStatus(errno, "open", seed.dir);
      if (options.log) {
        options.log(absl::StrCat("go: compiling the standard library once for ", toolchain.version,
                                 " (kept read-only for every app's build cache)"));
      }
      RETURN_IF_ERROR(Produce(toolchain, options, seeds.get(), name, key_text));
      seed.produced = true;
      found.Reset(::openat(seeds.get(), name.c_str(), kDirFlags));
      if (!found.valid()) return ErrnoStatus(errno, "open", seed.dir);
    }
  }
  RETURN_IF_ERROR(RefreshIfDue(found.get(), seed.dir, options.refresh_after));
  return seed;
}

absl::StatusOr<SeedLinkStats> SeedGoCache(const std::string& seed_dir,
                                          const std::string& gocache_dir, bool hard_link) {
  ASSIGN_OR_RETURN(UniqueFd seed_root, OpenRootDirectory(seed_dir));
  ASSIGN_OR_RETURN(UniqueFd seed,
                   OpenBeneath(seed_root.get(), "go-build", O_RDONLY | O_DIRECTORY, seed_dir));
  size_t slash = gocache_dir.rfind('/');
  if (slash == std::string::npos || slash + 1 == gocache_dir.size()) {
    return absl::InvalidArgumentError("GOCACHE must be an absolute path: " + gocache_dir);
  }
  // The parent is the app's cache mount (its own, the build user's); below it nothing is
  // followed, so a link a build planted for go-build or an <xx> fails instead of leading out.
  std::string parent = slash == 0 ? "/" : gocache_dir.substr(0, slash);
  ASSIGN_OR_RETURN(UniqueFd parent_fd, OpenRootDirectory(parent));
  struct stat owner;
  if (::fstat(parent_fd.get(), &owner) != 0) return ErrnoStatus(errno, "stat", parent);
  ASSIGN_OR_RETURN(UniqueFd cache, OwnedDir(parent_fd.get(), gocache_dir.substr(slash + 1),
                                            gocache_dir, owner.st_uid, owner.st_gid, 0700));
  SeedLinkStats stats;
  ASSIGN_OR_RETURN(std::vector<std::string> subdirs, NamesIn(seed.get(), seed_dir + "/go-build"));
  for (const std::string& sub : subdirs) {
    if (!IsSubdirName(sub)) continue;
    std::string from_path = absl::StrCat(seed_dir, "/go-build/", sub);
    std::string to_path = absl::StrCat(gocache_dir, "/", sub);
    ASSIGN_OR_RETURN(UniqueFd from, OpenBeneath(seed.get(), sub, O_RDONLY | O_DIRECTORY, seed_dir));
    ASSIGN_OR_RETURN(UniqueFd to,
                     OwnedDir(cache.get(), sub, to_path, owner.st_uid, owner.st_gid, 0700));
    ASSIGN_OR_RETURN(std::vector<std::string> names, NamesIn(from.get(), from_path));
    for (const std::string& name : names) {
      if (hard_link) {
        if (::linkat(from.get(), name.c_str(), to.get(), name.c_str(), 0) == 0) {
          ++stats.added;
        } else if (errno == EEXIST) {
          ++stats.present;
        } else {
          return ErrnoStatus(errno, "link the seed entry into", to_path + "/" + name);
        }
        continue;
      }
      struct stat st;
      if (::fstatat(to.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        ++stats.present;
        continue;
      }
      ASSIGN_OR_RETURN(UniqueFd file, OpenRegularFileBeneath(from.get(), name, from_path));
      uint64_t budget = kMaxSeedBytes;
      RETURN_IF_ERROR(CopyInto(file.get(), to.get(), name, to_path + "/" + name, budget));
      ++stats.added;
    }
  }
  return stats;
}

void SeedAppGoCache(const GoToolchain& toolchain, const BuildContext& context,
                    const std::string& gocache_dir) {
  if (context.toolchain_seed_dir.empty() || context.sandbox == nullptr) return;
  auto note = [&context](absl::string_view line) {
    if (context.log) context.log(line);
  };
  struct stat build_user;
  if (::stat(context.scratch_dir.c_str(), &build_user) != 0) {
    note(absl::StrCat("go: standard library cache not seeded: ",
                      ErrnoStatus(errno, "stat", context.scratch_dir).message()));
    return;
  }
  GoStdSeedOptions options;
  options.seeds_dir = context.toolchain_seed_dir;
  options.sandbox = context.sandbox;
  options.build_uid = build_user.st_uid;
  options.build_gid = build_user.st_gid;
  options.log = context.log;
  absl::StatusOr<GoStdSeed> seed = EnsureGoStdSeed(toolchain, options);
  if (!seed.ok()) {
    note(absl::StrCat("go: standard library cache not seeded (", seed.status().message(),
                      "); this build compiles it"));
    return;
  }
  // Shared inodes only when builds run as another user, who cannot change root's files.
  bool hard_link = build_user.st_uid != ::geteuid();
  absl::StatusOr<SeedLinkStats> stats = SeedGoCache(seed->dir, gocache_dir, hard_link);
  if (!stats.ok()) {
    note(absl::StrCat("go: standard library cache not seeded (", stats.status().message(),
                      "); this build compiles what is missing"));
    return;
  }
  note(absl::StrCat("go: standard library from the ", toolchain.version, " seed (", stats->added,
                    " cache entries ", hard_link ? "linked" : "copied", ", ", stats->present,
                    " already there)"));
}

}  // namespace tempa::buildpacks::go
