// BuildCgroup: the cgroup v1 groups (memory, pids, cpuacct) that one sandboxed command runs in.
// Limits set here hold for the whole process tree whatever uid it runs as; a limit hit is read
// from the kernel's own counters instead of being guessed from the command's output; and every
// process of the build can be found and killed before the groups are removed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tempa {

// The directories new groups are created under, one per controller; an empty one is skipped.
struct CgroupParents {
  std::string memory;
  std::string pids;
  std::string cpuacct;
};

// The daemon's own groups (from /proc/self/cgroup) under `root`/<controller>, for each v1
// controller mounted there and writable by this process. Builds nest under the daemon, so the
// daemon's own limits still bound all its builds together.
CgroupParents DetectCgroupParents(const std::string& root = "/sys/fs/cgroup");

// Removes groups named "<prefix><pid>-..." under `parents` whose creating process <pid> no longer
// exists (a worker that crashed mid-build), killing anything still in them first. Groups of live
// processes are left alone. Returns how many groups were removed.
int SweepAbandonedCgroups(const CgroupParents& parents,
                          const std::string& prefix = "tempa-sandbox-");

struct CgroupLimits {
  uint64_t memory_bytes = 0;  // 0: no limit (usage is still measured)
  int64_t max_tasks = 0;      // pids.max; counts threads as well as processes. 0: no limit
};

struct CgroupUsage {
  bool oom_killed = false;         // the kernel's OOM killer killed a task of the group
  uint64_t peak_memory_bytes = 0;  // memory.max_usage_in_bytes
  uint64_t task_limit_hits = 0;    // forks refused by pids.max (pids.events "max")
  absl::Duration cpu_time;         // user + system time of every task, dead or alive
};

class BuildCgroup {
 public:
  // Creates `name` under each parent and applies `limits`. A controller whose parent is empty is
  // skipped; failing to create or configure one that was asked for is an error, because the
  // limit would silently not hold.
  static absl::StatusOr<std::unique_ptr<BuildCgroup>> Create(const CgroupParents& parents,
                                                             const std::string& name,
                                                             const CgroupLimits& limits);
  // Kills whatever is left and removes the groups.
  ~BuildCgroup();
  BuildCgroup(const BuildCgroup&) = delete;
  BuildCgroup& operator=(const BuildCgroup&) = delete;

  // Open (close-on-exec) fds of each group's cgroup.procs. A forked child joins every group by
  // writing "0" to each, which is async-signal-safe and needs no path handling after fork.
  const std::vector<int>& procs_fds() const { return procs_fds_; }

  bool limits_memory() const { return !memory_.empty(); }
  bool limits_tasks() const { return !pids_.empty(); }
  bool counts_cpu() const { return !cpuacct_.empty(); }

  CgroupUsage Usage() const;
  absl::Duration CpuTime() const;  // cheaper than Usage(), for polling

  // SIGKILLs every task in the groups until they are empty or `patience` runs out. Returns
  // whether they emptied.
  bool KillAll(absl::Duration patience = absl::Seconds(5));

 private:
  BuildCgroup() = default;

  std::string memory_;  // full paths of the created groups; empty when not used
  std::string pids_;
  std::string cpuacct_;
  std::vector<int> procs_fds_;
};

}  // namespace tempa
