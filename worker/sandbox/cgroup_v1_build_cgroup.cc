#include "worker/sandbox/cgroup_v1_build_cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/posix_status.h"
#include "worker/sandbox/cgroup_files.h"

namespace tempa {
namespace {

using cgroup_internal::Exists;
using cgroup_internal::Procs;
using cgroup_internal::ReadKeyed;
using cgroup_internal::ReadNumber;
using cgroup_internal::ReadSmallFile;
using cgroup_internal::RemoveGroup;
using cgroup_internal::WriteValue;

bool IsWritableDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && ::access(path.c_str(), W_OK) == 0;
}

}  // namespace

CgroupParents DetectCgroupParents(const std::string& root, const std::string& proc_self_cgroup) {
  CgroupParents parents;
  std::optional<std::string> self = ReadSmallFile(proc_self_cgroup);
  if (!self) return parents;
  for (absl::string_view line : absl::StrSplit(*self, '\n', absl::SkipEmpty())) {
    // "4:memory:/process_api/4d62..."; co-mounted controllers read "3:cpu,cpuacct:/".
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (fields.size() != 3 || fields[1].empty()) continue;
    for (absl::string_view controller : absl::StrSplit(fields[1], ',')) {
      std::string* slot = controller == "memory"    ? &parents.memory
                          : controller == "pids"    ? &parents.pids
                          : controller == "cpuacct" ? &parents.cpuacct
                                                    : nullptr;
      if (slot == nullptr) continue;
      std::string path(absl::StripSuffix(fields[2], "/"));
      for (absl::string_view mount : {fields[1], controller}) {
        std::string dir = absl::StrCat(root, "/", mount, path);
        if (IsWritableDir(dir)) {
          *slot = dir;
          break;
        }
      }
    }
  }
  return parents;
}

absl::StatusOr<std::unique_ptr<CgroupV1BuildCgroup>> CgroupV1BuildCgroup::Create(
    const CgroupParents& parents, const std::string& name, const CgroupLimits& limits) {
  std::unique_ptr<CgroupV1BuildCgroup> group(new CgroupV1BuildCgroup());
  auto make = [&](const std::string& parent, std::string* out) -> absl::Status {
    if (parent.empty()) return absl::OkStatus();
    std::string dir = absl::StrCat(parent, "/", name);
    if (::mkdir(dir.c_str(), 0755) != 0) return ErrnoStatus(errno, "create cgroup", dir);
    *out = dir;  // from here on the destructor removes it
    int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open", dir + "/cgroup.procs");
    group->procs_fds_.push_back(fd);
    return absl::OkStatus();
  };
  if (absl::Status s = make(parents.memory, &group->memory_); !s.ok()) return s;
  if (absl::Status s = make(parents.pids, &group->pids_); !s.ok()) return s;
  if (absl::Status s = make(parents.cpuacct, &group->cpuacct_); !s.ok()) return s;

  if (!group->memory_.empty() && limits.memory_bytes > 0) {
    std::string bytes = absl::StrCat(limits.memory_bytes);
    if (absl::Status s = WriteValue(group->memory_ + "/memory.limit_in_bytes", bytes); !s.ok()) {
      return s;
    }
    // Memory + swap at the same figure, so the build cannot page out past its limit. The file
    // only exists when the kernel accounts swap.
    std::string memsw = group->memory_ + "/memory.memsw.limit_in_bytes";
    if (Exists(memsw)) {
      if (absl::Status s = WriteValue(memsw, bytes); !s.ok()) return s;
    }
  }
  if (!group->pids_.empty() && limits.max_tasks > 0) {
    if (absl::Status s = WriteValue(group->pids_ + "/pids.max", absl::StrCat(limits.max_tasks));
        !s.ok()) {
      return s;
    }
  }
  return group;
}

int SweepAbandonedCgroups(const CgroupParents& parents, const std::string& prefix) {
  int removed = 0;
  for (const std::string& parent : {parents.memory, parents.pids, parents.cpuacct}) {
    if (parent.empty()) continue;
    for (const std::string& dir : cgroup_internal::AbandonedGroups(parent, prefix)) {
      for (int attempt = 0; attempt < 100; ++attempt) {
        for (pid_t pid : Procs(dir)) ::kill(pid, SIGKILL);
        if (::rmdir(dir.c_str()) == 0) {
          ++removed;
          break;
        }
        if (errno != EBUSY) break;
        absl::SleepFor(absl::Milliseconds(10));
      }
    }
  }
  return removed;
}

CgroupV1BuildCgroup::~CgroupV1BuildCgroup() {
  for (int fd : procs_fds_) ::close(fd);
  KillAll(absl::Seconds(5));
  for (const std::string& dir : {memory_, pids_, cpuacct_}) {
    if (!dir.empty()) RemoveGroup(dir);
  }
}

absl::Duration CgroupV1BuildCgroup::CpuTime() const {
  if (cpuacct_.empty()) return absl::ZeroDuration();
  return absl::Nanoseconds(ReadNumber(cpuacct_ + "/cpuacct.usage"));
}

CgroupUsage CgroupV1BuildCgroup::Usage() const {
  CgroupUsage usage;
  if (!memory_.empty()) {
    usage.peak_memory_bytes = ReadNumber(memory_ + "/memory.max_usage_in_bytes");
    // oom_kill is counted since Linux 4.13; before that, a hit limit is the best evidence.
    if (std::optional<uint64_t> kills = ReadKeyed(memory_ + "/memory.oom_control", "oom_kill")) {
      usage.oom_killed = *kills > 0;
    } else {
      usage.oom_killed = ReadNumber(memory_ + "/memory.failcnt") > 0;
    }
  }
  if (!pids_.empty()) usage.task_limit_hits = ReadKeyed(pids_ + "/pids.events", "max").value_or(0);
  usage.cpu_time = CpuTime();
  return usage;
}

bool CgroupV1BuildCgroup::KillAll(absl::Duration patience) {
  const absl::Time give_up = absl::Now() + patience;
  while (true) {
    bool empty = true;
    for (const std::string& dir : {pids_, memory_, cpuacct_}) {
      if (dir.empty()) continue;
      for (pid_t pid : Procs(dir)) {
        empty = false;
        ::kill(pid, SIGKILL);
      }
    }
    if (empty) return true;
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

std::string CgroupV1Backend::Describe() const {
  return absl::StrCat("cgroup v1 (memory: ", parents_.memory.empty() ? "-" : parents_.memory,
                      ", pids: ", parents_.pids.empty() ? "-" : parents_.pids,
                      ", cpuacct: ", parents_.cpuacct.empty() ? "-" : parents_.cpuacct, ")");
}

absl::StatusOr<std::unique_ptr<BuildCgroup>> CgroupV1Backend::Create(const std::string& name,
                                                                     const CgroupLimits& limits) {
  absl::StatusOr<std::unique_ptr<CgroupV1BuildCgroup>> group =
      CgroupV1BuildCgroup::Create(parents_, name, limits);
  if (!group.ok()) return group.status();
  return std::unique_ptr<BuildCgroup>(*std::move(group));
}

int CgroupV1Backend::SweepAbandoned(const std::string& prefix) {
  return SweepAbandonedCgroups(parents_, prefix);
}

}  // namespace tempa
