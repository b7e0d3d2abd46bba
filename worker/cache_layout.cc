#include "worker/cache_layout.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

namespace tempa::worker {

absl::StatusOr<CacheLayout> PrepareCacheDir(const std::string& cache_dir, DirOwner build_owner) {
  const mode_t parent_mode = ParentModeFor(build_owner);
  ASSIGN_OR_RETURN(UniqueFd cache, OpenNamedDir(cache_dir, parent_mode));
  ASSIGN_OR_RETURN(std::string real, PathOfFd(cache.get()));
  // A directory another user can change could have its CAS pre-seeded (a planted layer for a
  // known key) or swapped for a link: then nothing of ours lives there.
  const bool ours = build_owner.uid == ::geteuid() || CheckOnlyWeCanChange(real).ok();
  if (ours) {
    ASSIGN_OR_RETURN(UniqueFd cas,
                     EnsurePrivateDir(cache.get(), "cas", real + "/cas", CurrentOwner(), 0700));
  }
  // Only where the build user can pass and nobody but root can swap a directory for a link.
  if (ours && (build_owner.uid == ::geteuid() ||
               CheckReachableBy(real + "/cas", build_owner.uid, build_owner.gid).ok())) {
    return CacheLayout{real + "/cas", real};
  }
  // The areas live in a root-owned 0711 directory of the system cache; it must be reachable.
  std::string root_path = kDefaultPrivateRoot;
  size_t slash = root_path.rfind('/');
  ASSIGN_OR_RETURN(UniqueFd system, OpenNamedDir(root_path.substr(0, slash), 0711));
  ASSIGN_OR_RETURN(UniqueFd root, EnsurePrivateDir(system.get(), root_path.substr(slash + 1),
                                                   root_path, CurrentOwner(), 0711));
  if (absl::Status s = CheckOnlyWeCanChange(root_path); !s.ok()) {
    return Annotate(s, absl::StrCat("the cache directory ", cache_dir,
                                    " is not root's alone, and neither is the fallback for it"));
  }
  ASSIGN_OR_RETURN(std::string area, PrivateAreaFor(real, root_path));
  std::string name = area.substr(area.rfind('/') + 1);
  ASSIGN_OR_RETURN(UniqueFd made, EnsurePrivateDir(root.get(), name, area, CurrentOwner(), 0711));
  ASSIGN_OR_RETURN(UniqueFd apps,
                   EnsurePrivateDir(made.get(), "apps", area + "/apps", CurrentOwner(), 0711));
  if (absl::Status s = CheckReachableBy(area + "/apps", build_owner.uid, build_owner.gid);
      !s.ok()) {
    return Annotate(s, absl::StrCat("the cache directory ", cache_dir,
                                    " is private, and so is the fallback for it"));
  }
  if (ours) return CacheLayout{real + "/cas", area};
  ASSIGN_OR_RETURN(UniqueFd cas,
                   EnsurePrivateDir(made.get(), "cas", area + "/cas", CurrentOwner(), 0700));
  return CacheLayout{area + "/cas", area};
}

}  // namespace tempa::worker
