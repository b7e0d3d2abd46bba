#include "worker/sandbox/process_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace tempa::sandbox_internal {
namespace {

// The parent pid in /proc/<pid>/stat ("pid (comm) state ppid ..."; comm may hold ") ").
pid_t ParentOf(pid_t pid) {
  UniqueFd fd(::open(absl::StrCat("/proc/", pid, "/stat").c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return -1;
  char buf[512];
  ssize_t n = ::read(fd.get(), buf, sizeof(buf) - 1);
  if (n <= 0) return -1;
  std::string stat(buf, static_cast<size_t>(n));
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::vector<std::string> fields =
      absl::StrSplit(stat.substr(close + 1), ' ', absl::SkipWhitespace());
  int ppid = -1;
  if (fields.size() < 2 || !absl::SimpleAtoi(fields[1], &ppid)) return -1;
  return ppid;
}

}  // namespace

std::vector<UniqueFd> OpenChildPidfds(pid_t parent) {
  std::vector<UniqueFd> out;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = ::readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || pid <= 0 || ParentOf(pid) != parent) continue;
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    // Still the parent's child once opened: the pidfd names that very process.
    if (fd >= 0 && ParentOf(pid) == parent) {
      out.emplace_back(fd);
    } else if (fd >= 0) {
      ::close(fd);
    }
  }
  ::closedir(proc);
  return out;
}

bool WaitForExits(const std::vector<UniqueFd>& pidfds, absl::Duration patience) {
  const absl::Time give_up = absl::Now() + patience;
  for (const UniqueFd& fd : pidfds) {
    while (true) {  // a pidfd polls readable once its process has exited
      int left =
          static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(give_up - absl::Now())));
      pollfd pfd{fd.get(), POLLIN, 0};
      int ready = ::poll(&pfd, 1, left);
      if (ready > 0) break;
      if (ready == 0) return false;
      if (errno != EINTR) return false;
    }
  }
  return true;
}

}  // namespace tempa::sandbox_internal
