// What the kernel counted in a container's memory cgroup: OOM kills, and how often usage hit
// the limit. Read while the cgroup still exists (runc removes it on `delete`), to tell an exit
// caused by the memory limit from any other. cgroup v1 (memory.oom_control, memory.failcnt)
// and v2 (memory.events) are both understood.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace tempa::deploy {

struct MemoryEvents {
  int64_t oom_kills = 0;   // processes the memory limit's OOM killer killed
  int64_t limit_hits = 0;  // times usage reached the limit (v1 failcnt, v2 "max")
};

// `cgroup_path` is the path runc was given ("/tempa/<id>"); `cgroup_root` the cgroup mount
// root (/sys/fs/cgroup). NotFound when the cgroup does not exist.
absl::StatusOr<MemoryEvents> ReadMemoryEvents(const std::string& cgroup_path,
                                              const std::string& cgroup_root = "/sys/fs/cgroup");

}  // namespace tempa::deploy
