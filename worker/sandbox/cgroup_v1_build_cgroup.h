// cgroup v1 build groups: one group per controller hierarchy (memory, pids, cpuacct), nested
// under the daemon's own groups so the daemon's limits still bound all its builds together.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/sandbox/build_cgroup.h"

namespace tempa {

// The directories new groups are created under, one per controller; an empty one is skipped.
struct CgroupParents {
  std::string memory;
  std::string pids;
  std::string cpuacct;

  bool empty() const { return memory.empty() && pids.empty() && cpuacct.empty(); }
};

// The daemon's own groups (from `proc_self_cgroup`) under `root`/<controller>, for each v1
// controller mounted there and writable by this process.
CgroupParents DetectCgroupParents(const std::string& root = "/sys/fs/cgroup",
                                  const std::string& proc_self_cgroup = "/proc/self/cgroup");

// CgroupBackend::SweepAbandoned for v1 parents.
int SweepAbandonedCgroups(const CgroupParents& parents,
                          const std::string& prefix = "tempa-sandbox-");

class CgroupV1BuildCgroup : public BuildCgroup {
 public:
  // Creates `name` under each parent and applies `limits` (cpu_cores is not enforced on v1). A
  // controller whose parent is empty is skipped; failing to create or configure one that was
  // asked for is an error.
  static absl::StatusOr<std::unique_ptr<CgroupV1BuildCgroup>> Create(const CgroupParents& parents,
                                                                     const std::string& name,
                                                                     const CgroupLimits& limits);
  ~CgroupV1BuildCgroup() override;
  CgroupV1BuildCgroup(const CgroupV1BuildCgroup&) = delete;
  CgroupV1BuildCgroup& operator=(const CgroupV1BuildCgroup&) = delete;

  const std::vector<int>& procs_fds() const override { return procs_fds_; }
  bool limits_memory() const override { return !memory_.empty(); }
  bool limits_tasks() const override { return !pids_.empty(); }
  bool counts_cpu() const override { return !cpuacct_.empty(); }
  CgroupUsage Usage() const override;
  absl::Duration CpuTime() const override;
  // SIGKILLs every task in the groups until they are empty.
  bool KillAll(absl::Duration patience) override;

 private:
  CgroupV1BuildCgroup() = default;

  std::string memory_;  // full paths of the created groups; empty when not used
  std::string pids_;
  std::string cpuacct_;
  std::vector<int> procs_fds_;
};

class CgroupV1Backend : public CgroupBackend {
 public:
  explicit CgroupV1Backend(CgroupParents parents) : parents_(std::move(parents)) {}
  std::string Describe() const override;
  absl::StatusOr<std::unique_ptr<BuildCgroup>> Create(const std::string& name,
                                                      const CgroupLimits& limits) override;
  int SweepAbandoned(const std::string& prefix) override;

 private:
  CgroupParents parents_;
};

}  // namespace tempa
