#include "buildpacks/go/go_std_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "buildpacks/go/go_build.h"
#include "buildpacks/go/go_cache_files.h"
#include "common/beneath.h"
#include "common/digest.h"
#include "common/posix_status.h"
#include "common/status_macros.h"
#include "common/tree_copy.h"

namespace tempa::buildpacks::go {
namespace {

// Bump when the seed's layout or the way it is made changes: old seeds are then never used.
constexpr char kSeedFormat[] = "tempa-go-std-seed-v1";

using internal::CopyInto;
using internal::IsEntryName;
using internal::IsSubdirName;
using internal::kDirFlags;
using internal::kMaxSeedBytes;
using internal::kMaxSeedEntries;
using internal::NamesIn;
using internal::OwnedDir;

std::string Identity(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return absl::StrCat(path, " missing");
  return absl::StrCat(path, " size=", st.st_size, " mtime=", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec, " ino=", st.st_ino);
}

absl::StatusOr<UniqueFd> LockKey(int seeds_fd, const std::string& name, const std::string& path) {
  UniqueFd fd(::openat(seeds_fd, name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, "open lock file", path);
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return ErrnoStatus(errno, "lock", path);
  }
  return fd;
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

// Removes the seeds other than `keep` whose last refresh is older than `after`: an app cache
// still holding links to one keeps its files (they are its own then); a build that was about to
// link from one finds it gone and compiles the standard library itself.
absl::Status RemoveUnusedSeeds(int seeds_fd, const std::string& seeds, const std::string& keep,
                               absl::Duration after) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, NamesIn(seeds_fd, seeds));
  for (const std::string& name : names) {
    if (name == keep || !absl::StartsWith(name, "go-") || absl::EndsWith(name, ".lock")) continue;
    UniqueFd seed(::openat(seeds_fd, name.c_str(), kDirFlags));
    struct stat info;
    if (!seed.valid() || ::fstatat(seed.get(), "INFO", &info, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (absl::Now() - absl::FromUnixSeconds(info.st_mtim.tv_sec) < after) continue;
    // Out of the way under a name no user looks for first, then removed.
    std::string trash = ".trash-" + name;
    RETURN_IF_ERROR(RemoveTreeAt(seeds_fd, trash, seeds + "/" + trash));
    if (::renameat(seeds_fd, name.c_str(), seeds_fd, trash.c_str()) != 0) continue;
    RETURN_IF_ERROR(RemoveTreeAt(seeds_fd, trash, seeds + "/" + trash));
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
      RETURN_IF_ERROR(
          RemoveUnusedSeeds(seeds.get(), options.seeds_dir, name, options.remove_unused_after));
      seed.produced = true;
      found.Reset(::openat(seeds.get(), name.c_str(), kDirFlags));
      if (!found.valid()) return ErrnoStatus(errno, "open", seed.dir);
    }
  }
  RETURN_IF_ERROR(RefreshIfDue(found.get(), seed.dir, options.refresh_after));
  return seed;
}

}  // namespace tempa::buildpacks::go
