// BuildCgroup: the cgroup a sandboxed command runs in, whichever cgroup version provides it.
// Limits set here hold for the whole process tree whatever uid it runs as; a limit hit is read
// from the kernel's own counters instead of being guessed from the command's output; and every
// process of the build can be found and killed before the group is removed.
//
// CgroupBackend makes them: CgroupV1Backend (cgroup_v1_build_cgroup.h: memory, pids and cpuacct
// hierarchies) or CgroupV2Backend (cgroup_v2_build_cgroup.h: the unified hierarchy, delegated
// below the worker's own group). DetectCgroupBackend picks one at start-up; without either the
// sandbox falls back to rlimits.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tempa {

struct CgroupLimits {
  uint64_t memory_bytes = 0;  // 0: no limit (usage is still measured)
  int64_t max_tasks = 0;      // pids.max; counts threads as well as processes. 0: no limit
  double cpu_cores = 0;       // cpu.max (cgroup v2 only): cores' worth of CPU time. 0: no limit
};

struct CgroupUsage {
  bool oom_killed = false;         // the kernel's OOM killer killed a task of the group
  uint64_t peak_memory_bytes = 0;  // the group's peak usage, where the kernel reports it
  uint64_t task_limit_hits = 0;    // forks refused by pids.max (pids.events "max")
  absl::Duration cpu_time;         // user + system time of every task, dead or alive
};

class BuildCgroup {
 public:
  // Kills whatever is left and removes the group.
  virtual ~BuildCgroup() = default;

  // Open (close-on-exec) fds of the group's cgroup.procs files (one per v1 hierarchy, one for
  // v2). A forked child joins by writing "0" to each, which is async-signal-safe and needs no
  // path handling after fork.
  virtual const std::vector<int>& procs_fds() const = 0;

  // Whether the group enforces the memory / task limit it was created with; when not, the
  // caller applies its rlimit fallback.
  virtual bool limits_memory() const = 0;
  virtual bool limits_tasks() const = 0;
  virtual bool counts_cpu() const = 0;

  virtual CgroupUsage Usage() const = 0;
  virtual absl::Duration CpuTime() const = 0;  // cheaper than Usage(), for polling

  // Kills every task in the group until it is empty or `patience` runs out. Returns whether it
  // emptied.
  virtual bool KillAll(absl::Duration patience) = 0;
};

class CgroupBackend {
 public:
  virtual ~CgroupBackend() = default;

  // "cgroup v2 under /sys/fs/cgroup/worker", for logs.
  virtual std::string Describe() const = 0;

  // Creates the group `name` with `limits`. A limit its controller cannot enforce is left to
  // the caller (see BuildCgroup::limits_memory); failing to configure one it can is an error,
  // because the limit would silently not hold.
  virtual absl::StatusOr<std::unique_ptr<BuildCgroup>> Create(const std::string& name,
                                                              const CgroupLimits& limits) = 0;

  // Removes groups named "<prefix><pid>-..." whose creating process <pid> no longer exists (a
  // worker that crashed mid-build), killing anything still in them first. Groups of live
  // processes are left alone. Returns how many groups were removed.
  virtual int SweepAbandoned(const std::string& prefix) = 0;
};

// Makes one group directory; the kernel fills it with its interface files. Tests substitute a
// function that writes them into a fake cgroupfs tree.
using MakeCgroupDir = std::function<absl::Status(const std::string& dir)>;
absl::Status MakeRealCgroupDir(const std::string& dir);

struct CgroupDetectOptions {
  std::string root = "/sys/fs/cgroup";  // where the hierarchies are mounted
  std::string proc_self_cgroup = "/proc/self/cgroup";
  MakeCgroupDir make_dir = MakeRealCgroupDir;
};

// cgroup v2 when the unified hierarchy (at `root` or `root`/unified) has the memory and pids
// controllers delegated to this process's group (enabling them below it, see
// DelegateCgroupV2); else cgroup v1 when writable memory/pids/cpuacct groups exist; else
// nullptr: the sandbox uses rlimits.
std::unique_ptr<CgroupBackend> DetectCgroupBackend(const CgroupDetectOptions& options = {});

}  // namespace tempa
