// cgroup v2 build groups: one group in the unified hierarchy per build, below the worker's own
// group. Limits are memory.max (+ memory.swap.max 0), pids.max and cpu.max; an OOM kill is
// memory.events "oom_kill", a refused fork pids.events "max", CPU time cpu.stat "usage_usec".
// The group is emptied with cgroup.kill (SIGKILL to every pid in cgroup.procs where the kernel
// lacks it) and is empty once cgroup.events reads "populated 0".
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/sandbox/build_cgroup.h"

namespace tempa {

// The leaf the worker moves itself into when its own group must hold build groups with
// controllers enabled (cgroup v2 allows no processes in such an inner group).
inline constexpr char kWorkerLeafGroup[] = "tempa-worker";

// The worker's group in the unified hierarchy: the path of the "0::" line of a
// /proc/<pid>/cgroup text ("/" for the root); nullopt when there is none.
std::optional<std::string> UnifiedGroupOf(const std::string& proc_self_cgroup_text);

// Prepares the v2 group `mount` + `own_group` to hold build groups and returns its directory:
// requires the memory and pids controllers in its cgroup.controllers (FailedPrecondition naming
// what is missing otherwise), moves the processes in it into its `kWorkerLeafGroup` leaf (unless
// it is the hierarchy's real root, which may hold both; a container's namespace root may not)
// and enables memory, pids and, when present, cpu in its cgroup.subtree_control. An `own_group`
// that is already that leaf means the group above it. Idempotent: a second call changes nothing.
absl::StatusOr<std::string> DelegateCgroupV2(const std::string& mount, const std::string& own_group,
                                             const MakeCgroupDir& make_dir = MakeRealCgroupDir);

class CgroupV2BuildCgroup : public BuildCgroup {
 public:
  // Creates `parent`/`name` (with `make_dir`) and writes the limits its controllers can hold:
  // memory.max and memory.swap.max when the memory controller is enabled for it, pids.max with
  // pids, cpu.max with cpu. A limit without its controller is left to the caller (limits_memory
  // and limits_tasks say false).
  static absl::StatusOr<std::unique_ptr<CgroupV2BuildCgroup>> Create(
      const std::string& parent, const std::string& name, const CgroupLimits& limits,
      const MakeCgroupDir& make_dir = MakeRealCgroupDir);
  ~CgroupV2BuildCgroup() override;
  CgroupV2BuildCgroup(const CgroupV2BuildCgroup&) = delete;
  CgroupV2BuildCgroup& operator=(const CgroupV2BuildCgroup&) = delete;

  const std::vector<int>& procs_fds() const override { return procs_fds_; }
  bool limits_memory() const override { return memory_; }
  bool limits_tasks() const override { return pids_; }
  bool counts_cpu() const override { return true; }  // cpu.stat needs no controller
  CgroupUsage Usage() const override;
  absl::Duration CpuTime() const override;
  bool KillAll(absl::Duration patience) override;

  const std::string& path() const { return path_; }
  // cgroup.events "populated": whether any process is left in the group or below it.
  bool Populated() const;

 private:
  CgroupV2BuildCgroup() = default;

  std::string path_;
  bool memory_ = false;
  bool pids_ = false;
  std::vector<int> procs_fds_;
};

// Kills everything in the v2 group `dir` (cgroup.kill, else SIGKILL to each pid) until
// cgroup.events says it is unpopulated or `patience` runs out. Returns whether it emptied.
bool KillCgroupV2(const std::string& dir, absl::Duration patience);

class CgroupV2Backend : public CgroupBackend {
 public:
  // `parent`: a group prepared by DelegateCgroupV2 (or any v2 group this process may write).
  explicit CgroupV2Backend(std::string parent, MakeCgroupDir make_dir = MakeRealCgroupDir)
      : parent_(std::move(parent)), make_dir_(std::move(make_dir)) {}
  std::string Describe() const override;
  absl::StatusOr<std::unique_ptr<BuildCgroup>> Create(const std::string& name,
                                                      const CgroupLimits& limits) override;
  int SweepAbandoned(const std::string& prefix) override;

 private:
  std::string parent_;
  MakeCgroupDir make_dir_;
};

}  // namespace tempa
