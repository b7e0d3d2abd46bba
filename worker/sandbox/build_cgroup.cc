#include "worker/sandbox/build_cgroup.h"

#include <sys/stat.h>

#include <cerrno>
#include <optional>

#include "common/posix_status.h"
#include "worker/sandbox/cgroup_files.h"
#include "worker/sandbox/cgroup_v1_build_cgroup.h"
#include "worker/sandbox/cgroup_v2_build_cgroup.h"

namespace tempa {

absl::Status MakeRealCgroupDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0) return ErrnoStatus(errno, "create cgroup", dir);
  return absl::OkStatus();
}

std::unique_ptr<CgroupBackend> DetectCgroupBackend(const CgroupDetectOptions& options) {
  // The unified hierarchy: mounted at the root on a pure v2 host, at root/unified on a hybrid.
  std::optional<std::string> mount;
  for (const std::string& dir : {options.root, options.root + "/unified"}) {
    if (cgroup_internal::Exists(dir + "/cgroup.controllers")) {
      mount = dir;
      break;
    }
  }
  std::optional<std::string> self = cgroup_internal::ReadSmallFile(options.proc_self_cgroup);
  std::optional<std::string> own = self ? UnifiedGroupOf(*self) : std::nullopt;
  if (mount && own) {
    absl::StatusOr<std::string> parent = DelegateCgroupV2(*mount, *own, options.make_dir);
    if (parent.ok()) return std::make_unique<CgroupV2Backend>(*parent, options.make_dir);
  }
  CgroupParents parents = DetectCgroupParents(options.root, options.proc_self_cgroup);
  if (!parents.empty()) return std::make_unique<CgroupV1Backend>(parents);
  return nullptr;
}

}  // namespace tempa
