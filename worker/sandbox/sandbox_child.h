// The sandbox's child process between fork and exec of bwrap: joins the build's cgroups, sets
// rlimits, drops host root and lets no inherited descriptor through. Internal to worker/sandbox.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <vector>

namespace tempa::sandbox_internal {

// Everything the forked child needs, prepared before fork: in a multithreaded daemon the child
// may only make async-signal-safe calls (no allocation, no locks, no glibc setxid broadcast).
struct ChildPlan {
  const char* bwrap = nullptr;
  char** argv = nullptr;
  int stdin_fd = -1;
  int output_fd = -1;
  int error_fd = -1;
  std::vector<int> cgroup_fds;
  rlim_t address_space = 0;  // RLIMIT_AS; 0: unset
  rlim_t processes = 0;      // RLIMIT_NPROC; 0: unset
  rlim_t cpu_seconds = 0;    // RLIMIT_CPU; 0: unset
  rlim_t file_bytes = 0;     // RLIMIT_FSIZE; 0: unset
  bool drop_privileges = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

enum ChildStage { kStageCgroup = 1, kStageLimits, kStagePrivileges, kStageExec };
struct ChildFailure {
  int stage;
  int err;
};

// What went wrong, for the daemon's error message.
const char* StageName(int stage);

// Never returns: execs bwrap, or writes a ChildFailure to plan.error_fd and exits 127.
// Async-signal-safe.
[[noreturn]] void RunChild(const ChildPlan& plan);

}  // namespace tempa::sandbox_internal
