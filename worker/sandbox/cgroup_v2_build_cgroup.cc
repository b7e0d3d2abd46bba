#include "worker/sandbox/cgroup_v2_build_cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/posix_status.h"
#include "common/status_macros.h"
#include "worker/sandbox/cgroup_files.h"

namespace tempa {
namespace {

using cgroup_internal::Exists;
using cgroup_internal::Procs;
using cgroup_internal::ReadKeyed;
using cgroup_internal::ReadNumber;
using cgroup_internal::ReadWords;
using cgroup_internal::RemoveGroup;
using cgroup_internal::WriteValue;

// The period cpu.max quotas are expressed in (the kernel's default).
constexpr int64_t kCpuPeriodMicros = 100000;

}  // namespace

std::optional<std::string> UnifiedGroupOf(const std::string& proc_self_cgroup_text) {
  for (absl::string_view line : absl::StrSplit(proc_self_cgroup_text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "0::")) return std::string(line);
  }
  return std::nullopt;
}

absl::StatusOr<std::string> DelegateCgroupV2(const std::string& mount,
                                             const std::string& own_group_in,
                                             const MakeCgroupDir& make_dir) {
  // A worker already moved into its leaf (by an earlier sandbox of this process, or by a
  // previous run) delegates from the group above it again, never from a leaf below the leaf.
  std::string own_group = own_group_in;
  if (absl::string_view trimmed = own_group;
      absl::ConsumeSuffix(&trimmed, absl::StrCat("/", kWorkerLeafGroup))) {
    own_group = trimmed.empty() ? "/" : std::string(trimmed);
  }
  const std::string dir = own_group.empty() || own_group == "/"
                              ? mount
                              : absl::StrCat(mount, "/", absl::StripPrefix(own_group, "/"));
  // Only the hierarchy's real root has no cgroup.type; the root of a container's cgroup
  // namespace ("0::/" there) is an ordinary group, bound by the rule below.
  const bool is_root = !Exists(dir + "/cgroup.type");
  std::set<std::string> available = ReadWords(dir + "/cgroup.controllers");
  std::vector<std::string> want;
  for (const char* controller : {"memory", "pids"}) {
    if (available.count(controller) == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cgroup v2 group ", dir, " has no ", controller, " controller delegated (", dir,
          "/cgroup.controllers lists \"", absl::StrJoin(available, " "),
          "\"); enable it in the parent's cgroup.subtree_control, or run the worker with "
          "Delegate=yes"));
    }
    want.push_back(controller);
  }
  if (available.count("cpu") > 0) want.push_back("cpu");
  std::set<std::string> enabled = ReadWords(dir + "/cgroup.subtree_control");
  bool all_enabled = true;
  for (const std::string& c : want) all_enabled = all_enabled && enabled.count(c) > 0;
  if (all_enabled) return dir;

  // "No internal processes": a non-root group with controllers enabled for its children may
  // hold no process itself, so the worker (and whatever shares its group) moves to a leaf.
  if (!is_root) {
    std::vector<pid_t> procs = Procs(dir);
    if (!procs.empty()) {
      const std::string leaf = absl::StrCat(dir, "/", kWorkerLeafGroup);
      if (absl::Status s = make_dir(leaf); !s.ok() && !absl::IsAlreadyExists(s)) {
        return Annotate(s, "move the worker out of its own cgroup");
      }
      // One pid per write(2), as the kernel takes them.
      UniqueFd leaf_procs(::open((leaf + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
      if (!leaf_procs.valid()) {
        return Annotate(ErrnoStatus(errno, "open", leaf + "/cgroup.procs"),
                        "move the worker out of its own cgroup");
      }
      for (pid_t pid : procs) {
        std::string text = absl::StrCat(pid);
        ssize_t n = ::write(leaf_procs.get(), text.data(), text.size());
        // A process that exited meanwhile (ESRCH) needs no moving; a short write is an error.
        if (n < 0 ? errno != ESRCH : n != static_cast<ssize_t>(text.size())) {
          if (n >= 0) errno = EIO;
          return Annotate(
              ErrnoStatus(errno, absl::StrCat("write ", pid, " to"), leaf + "/cgroup.procs"),
              "move the worker out of its own cgroup");
        }
      }
    }
  }
  std::vector<std::string> plus;
  for (const std::string& c : want) plus.push_back("+" + c);
  if (absl::Status s = WriteValue(dir + "/cgroup.subtree_control", absl::StrJoin(plus, " "));
      !s.ok()) {
    return Annotate(s, "enable the build controllers");
  }
  return dir;
}

absl::StatusOr<std::unique_ptr<CgroupV2BuildCgroup>> CgroupV2BuildCgroup::Create(
    const std::string& parent, const std::string& name, const CgroupLimits& limits,
    const MakeCgroupDir& make_dir) {
  std::unique_ptr<CgroupV2BuildCgroup> group(new CgroupV2BuildCgroup());
  const std::string dir = absl::StrCat(parent, "/", name);
  if (absl::Status s = make_dir(dir); !s.ok()) return s;
  group->path_ = dir;  // from here on the destructor removes it
  int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", dir + "/cgroup.procs");
  group->procs_fds_.push_back(fd);

  std::set<std::string> controllers = ReadWords(dir + "/cgroup.controllers");
  group->memory_ = controllers.count("memory") > 0;
  group->pids_ = controllers.count("pids") > 0;
  if (group->memory_ && limits.memory_bytes > 0) {
    RETURN_IF_ERROR(WriteValue(dir + "/memory.max", absl::StrCat(limits.memory_bytes)));
    // memory.swap.max is swap alone (v1's memsw was memory + swap): none, so the build cannot
    // page out past its limit. Absent when the kernel does not account swap.
    if (Exists(dir + "/memory.swap.max")) {
      RETURN_IF_ERROR(WriteValue(dir + "/memory.swap.max", "0"));
    }
  }
  if (group->pids_ && limits.max_tasks > 0) {
    RETURN_IF_ERROR(WriteValue(dir + "/pids.max", absl::StrCat(limits.max_tasks)));
  }
  if (controllers.count("cpu") > 0 && limits.cpu_cores > 0) {
    int64_t quota = std::max<int64_t>(
        1000, static_cast<int64_t>(std::llround(limits.cpu_cores * kCpuPeriodMicros)));
    RETURN_IF_ERROR(WriteValue(dir + "/cpu.max", absl::StrCat(quota, " ", kCpuPeriodMicros)));
  }
  return group;
}

CgroupV2BuildCgroup::~CgroupV2BuildCgroup() {
  for (int fd : procs_fds_) ::close(fd);
  if (path_.empty()) return;
  KillAll(absl::Seconds(5));
  RemoveGroup(path_);
}

bool CgroupV2BuildCgroup::Populated() const {
  std::optional<uint64_t> populated = ReadKeyed(path_ + "/cgroup.events", "populated");
  return populated ? *populated != 0 : !Procs(path_).empty();
}

absl::Duration CgroupV2BuildCgroup::CpuTime() const {
  return absl::Microseconds(ReadKeyed(path_ + "/cpu.stat", "usage_usec").value_or(0));
}

CgroupUsage CgroupV2BuildCgroup::Usage() const {
  CgroupUsage usage;
  if (memory_) {
    usage.oom_killed = ReadKeyed(path_ + "/memory.events", "oom_kill").value_or(0) > 0;
    usage.peak_memory_bytes = ReadNumber(path_ + "/memory.peak");  // Linux 5.19+
  }
  if (pids_) usage.task_limit_hits = ReadKeyed(path_ + "/pids.events", "max").value_or(0);
  usage.cpu_time = CpuTime();
  return usage;
}

bool CgroupV2BuildCgroup::KillAll(absl::Duration patience) { return KillCgroupV2(path_, patience); }

bool KillCgroupV2(const std::string& dir, absl::Duration patience) {
  const absl::Time give_up = absl::Now() + patience;
  auto populated = [&] {
    std::optional<uint64_t> p = ReadKeyed(dir + "/cgroup.events", "populated");
    return p ? *p != 0 : !Procs(dir).empty();
  };
  while (populated()) {
    // cgroup.kill (Linux 5.14+) kills the whole subtree at once, racing no fork; before it,
    // SIGKILL to each pid listed until none is left.
    if (!WriteValue(dir + "/cgroup.kill", "1").ok()) {
      for (pid_t pid : Procs(dir)) ::kill(pid, SIGKILL);
    }
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

std::string CgroupV2Backend::Describe() const { return absl::StrCat("cgroup v2 under ", parent_); }

absl::StatusOr<std::unique_ptr<BuildCgroup>> CgroupV2Backend::Create(const std::string& name,
                                                                     const CgroupLimits& limits) {
  absl::StatusOr<std::unique_ptr<CgroupV2BuildCgroup>> group =
      CgroupV2BuildCgroup::Create(parent_, name, limits, make_dir_);
  if (!group.ok()) return group.status();
  return std::unique_ptr<BuildCgroup>(*std::move(group));
}

int CgroupV2Backend::SweepAbandoned(const std::string& prefix) {
  int removed = 0;
  for (const std::string& dir : cgroup_internal::AbandonedGroups(parent_, prefix)) {
    KillCgroupV2(dir, absl::Seconds(1));
    if (RemoveGroup(dir)) ++removed;
  }
  return removed;
}

}  // namespace tempa
