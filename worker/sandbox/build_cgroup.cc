#include "worker/sandbox/build_cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace tempa {
namespace {

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// A single-number file such as memory.max_usage_in_bytes; 0 when unreadable.
uint64_t ReadNumber(const std::string& path) {
  std::optional<std::string> text = ReadSmallFile(path);
  uint64_t n = 0;
  if (text && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &n)) return n;
  return 0;
}

// "key value" lines as in memory.oom_control and pids.events.
std::optional<uint64_t> ReadKeyed(const std::string& path, absl::string_view key) {
  std::optional<std::string> text = ReadSmallFile(path);
  if (!text) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    uint64_t n = 0;
    if (kv.first == key && absl::SimpleAtoi(kv.second, &n)) return n;
  }
  return std::nullopt;
}

absl::Status WriteValue(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return absl::InternalError(
        absl::StrCat("write ", value, " to ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

bool IsWritableDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && ::access(path.c_str(), W_OK) == 0;
}

std::vector<pid_t> Procs(const std::string& group) {
  std::vector<pid_t> pids;
  std::optional<std::string> text = ReadSmallFile(group + "/cgroup.procs");
  if (!text) return pids;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    int pid = 0;
    if (absl::SimpleAtoi(line, &pid) && pid > 0) pids.push_back(pid);
  }
  return pids;
}

}  // namespace

CgroupParents DetectCgroupParents(const std::string& root) {
  CgroupParents parents;
  std::optional<std::string> self = ReadSmallFile("/proc/self/cgroup");
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

absl::StatusOr<std::unique_ptr<BuildCgroup>> BuildCgroup::Create(const CgroupParents& parents,
                                                                 const std::string& name,
                                                                 const CgroupLimits& limits) {
  std::unique_ptr<BuildCgroup> group(new BuildCgroup());
  auto make = [&](const std::string& parent, std::string* out) -> absl::Status {
    if (parent.empty()) return absl::OkStatus();
    std::string dir = absl::StrCat(parent, "/", name);
    if (::mkdir(dir.c_str(), 0755) != 0) {
      return absl::InternalError(absl::StrCat("create cgroup ", dir, ": ", std::strerror(errno)));
    }
    *out = dir;  // from here on the destructor removes it
    int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::InternalError(
          absl::StrCat("open ", dir, "/cgroup.procs: ", std::strerror(errno)));
    }
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
    if (::access(memsw.c_str(), F_OK) == 0) {
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
    std::vector<std::string> abandoned;
    if (DIR* d = ::opendir(parent.c_str())) {
      while (dirent* e = ::readdir(d)) {
        absl::string_view name = e->d_name;
        if (!absl::ConsumePrefix(&name, prefix)) continue;
        pid_t owner = 0;
        if (!absl::SimpleAtoi(name.substr(0, name.find('-')), &owner) || owner <= 0) continue;
        // Alive (or a pid reused by someone else): leave it.
        if (::kill(owner, 0) == 0 || errno != ESRCH) continue;
        abandoned.push_back(absl::StrCat(parent, "/", e->d_name));
      }
      ::closedir(d);
    }
    for (const std::string& dir : abandoned) {
      for (int attempt = 0; attempt < 100; ++attempt) {
        std::vector<pid_t> procs = Procs(dir);
        for (pid_t pid : procs) ::kill(pid, SIGKILL);
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

BuildCgroup::~BuildCgroup() {
  for (int fd : procs_fds_) ::close(fd);
  KillAll();
  for (const std::string& dir : {memory_, pids_, cpuacct_}) {
    if (dir.empty()) continue;
    // A group stays busy for a moment after its last task was reaped.
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
      if (errno != EBUSY) break;
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
}

absl::Duration BuildCgroup::CpuTime() const {
  if (cpuacct_.empty()) return absl::ZeroDuration();
  return absl::Nanoseconds(ReadNumber(cpuacct_ + "/cpuacct.usage"));
}

CgroupUsage BuildCgroup::Usage() const {
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

bool BuildCgroup::KillAll(absl::Duration patience) {
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

}  // namespace tempa
