#include "worker/sandbox/sandbox_child.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace tempa::sandbox_internal {
namespace {

[[noreturn]] void ChildFail(const ChildPlan& plan, int stage) {
  ChildFailure failure{stage, errno};
  ssize_t ignored = ::write(plan.error_fd, &failure, sizeof(failure));
  (void)ignored;
  ::_exit(127);
}

// Marks every descriptor above stderr close-on-exec, so nothing the daemon has open (a cache
// lock, a registry socket, another build's pipe, a descriptor a library opened without
// O_CLOEXEC) reaches the build. Close-on-exec rather than closed: plan.error_fd must stay usable
// to report a failed exec.
void CloseInheritedAtExec() {
  if (::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) == 0) return;
  // Before Linux 5.11: each descriptor up to the limit (fcntl is async-signal-safe).
  rlimit nofile{};
  rlim_t top = ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY
                   ? nofile.rlim_cur
                   : 1 << 20;
  for (rlim_t fd = 3; fd < top; ++fd) ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
}

bool SetLimit(int resource, rlim_t soft, rlim_t hard) {
  rlimit rl{soft, hard};
  return ::setrlimit(resource, &rl) == 0;
}

}  // namespace

const char* StageName(int stage) {
  switch (stage) {
    case kStageCgroup:
      return "joining the build's cgroups";
    case kStageLimits:
      return "setting resource limits";
    case kStagePrivileges:
      return "dropping to the build user";
    default:
      return "starting bwrap";
  }
}

// The child between fork and exec: joins the cgroups and sets rlimits while still privileged,
// then gives up host root for good, so bwrap and everything it starts are the build uid.
[[noreturn]] void RunChild(const ChildPlan& plan) {
  ::setpgid(0, 0);  // own process group, so a limit kills bwrap and everything it started
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int fd : plan.cgroup_fds) {
    if (::write(fd, "0", 1) != 1) ChildFail(plan, kStageCgroup);
  }
  if (!SetLimit(RLIMIT_CORE, 0, 0)) ChildFail(plan, kStageLimits);
  if (plan.address_space > 0 && !SetLimit(RLIMIT_AS, plan.address_space, plan.address_space)) {
    ChildFail(plan, kStageLimits);
  }
  // Counted per uid on the host, so it binds only once the build is not root.
  if (plan.processes > 0 && !SetLimit(RLIMIT_NPROC, plan.processes, plan.processes)) {
    ChildFail(plan, kStageLimits);
  }
  // SIGXCPU at the soft limit, SIGKILL a little later for a process that ignores it.
  if (plan.cpu_seconds > 0 && !SetLimit(RLIMIT_CPU, plan.cpu_seconds, plan.cpu_seconds + 5)) {
    ChildFail(plan, kStageLimits);
  }
  // SIGXFSZ (or EFBIG where it is ignored) for a write past the size; also bounds bwrap's own
  // writes, which are tiny.
  if (plan.file_bytes > 0 && !SetLimit(RLIMIT_FSIZE, plan.file_bytes, plan.file_bytes)) {
    ChildFail(plan, kStageLimits);
  }
  if (plan.drop_privileges) {
    // Raw syscalls: this thread is the only one, and glibc's wrappers would try to signal the
    // parent's other threads. Groups first, while we may still change them.
    gid_t gid = plan.gid;
    if (::syscall(SYS_setgroups, 1, &gid) != 0 ||
        ::syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0 ||
        ::syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) {
      ChildFail(plan, kStagePrivileges);
    }
    if (::geteuid() == 0 || ::getuid() == 0) {
      errno = EPERM;
      ChildFail(plan, kStagePrivileges);
    }
  }
  if (plan.stdin_fd >= 0) ::dup2(plan.stdin_fd, STDIN_FILENO);
  ::dup2(plan.output_fd, STDOUT_FILENO);
  ::dup2(plan.output_fd, STDERR_FILENO);
  CloseInheritedAtExec();
  ::execv(plan.bwrap, plan.argv);
  ChildFail(plan, kStageExec);
}

}  // namespace tempa::sandbox_internal
