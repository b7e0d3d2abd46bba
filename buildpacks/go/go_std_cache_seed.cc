// Seeding an app's GOCACHE from the standard-library seed: see go_std_cache.h.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "buildpacks/go/go_cache_files.h"
#include "buildpacks/go/go_std_cache.h"
#include "common/beneath.h"
#include "common/posix_status.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::go {

using internal::CopyInto;
using internal::IsSubdirName;
using internal::kMaxSeedBytes;
using internal::NamesIn;
using internal::OwnedDir;

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
