#include "deploy/runtime/process_watch.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tempa::deploy {
namespace {

struct ProcStat {
  char state = '?';
  pid_t ppid = 0;
  uint64_t start_ticks = 0;
};

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  std::string path = absl::StrCat("/proc/", pid, "/stat");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return std::nullopt;
  std::string text(buf, static_cast<size_t>(n));
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  // After "pid (comm) ": field 3 state, 4 ppid, ..., 22 starttime.
  std::vector<std::string> fields = absl::StrSplit(text.substr(paren + 2), ' ');
  if (fields.size() < 20) return std::nullopt;
  ProcStat stat;
  stat.state = fields[0].empty() ? '?' : fields[0][0];
  int ppid = 0;
  if (!absl::SimpleAtoi(fields[1], &ppid) || !absl::SimpleAtoi(fields[19], &stat.start_ticks)) {
    return std::nullopt;
  }
  stat.ppid = ppid;
  return stat;
}

}  // namespace

std::optional<uint64_t> ProcessStartTicks(pid_t pid) {
  std::optional<ProcStat> stat = ReadProcStat(pid);
  if (!stat) return std::nullopt;
  return stat->start_ticks;
}

ProcessExit CheckProcess(pid_t pid, uint64_t start_ticks) {
  ProcessExit result;
  std::optional<ProcStat> stat = ReadProcStat(pid);
  if (!stat || stat->start_ticks != start_ticks) {
    result.exited = true;
    return result;
  }
  if (stat->ppid == getpid()) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      result.exited = true;
      result.wait_status = status;
    }
    return result;
  }
  result.exited = stat->state == 'Z' || stat->state == 'X';
  return result;
}

void RecordContainerExit(ContainerStatus& status, const ContainerSpec& spec,
                         std::optional<int> wait_status, bool memory_limit) {
  status.last_exit_code.reset();
  std::string how = "exited (its status was not seen: it was started before this deployer)";
  bool sigkill = false;
  if (wait_status && WIFEXITED(*wait_status)) {
    status.last_exit_code = WEXITSTATUS(*wait_status);
    how = absl::StrCat("exited with ", WEXITSTATUS(*wait_status));
    // tempa-container-init reports an app ended by signal N as 128+N.
    sigkill = WEXITSTATUS(*wait_status) == 128 + SIGKILL;
  } else if (wait_status && WIFSIGNALED(*wait_status)) {
    status.last_exit_code = 128 + WTERMSIG(*wait_status);
    sigkill = WTERMSIG(*wait_status) == SIGKILL;
    how = absl::StrCat("killed by signal ", WTERMSIG(*wait_status));
  }
  if (memory_limit && (sigkill || !wait_status)) {
    ++status.oom_kills;
    how = absl::StrCat("killed by the memory limit (", spec.memory_bytes >> 20, " MiB)");
  }
  status.last_exit_reason = how;
}

}  // namespace tempa::deploy
