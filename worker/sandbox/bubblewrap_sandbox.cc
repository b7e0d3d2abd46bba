#include "worker/sandbox/bubblewrap_sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "worker/sandbox/output_collector.h"

namespace tempa {
namespace {

constexpr char kNobodyId[] = "65534";

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool IsUnder(const std::string& path, const std::string& dir) {
  return path == dir || (absl::StartsWith(path, dir) && path.size() > dir.size() &&
                         (dir.back() == '/' || path[dir.size()] == '/'));
}

// A host symlink such as /lib64 -> usr/lib64 is recreated as a symlink when its target is itself
// mounted, so the sandbox sees the same layout; otherwise (say /etc/resolv.conf pointing into
// /run) the target's content is bound in its place.
std::optional<std::string> SymlinkToRecreate(const std::string& path,
                                             const std::vector<std::string>& mounted) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return std::nullopt;
  char target[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), target, sizeof(target) - 1);
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (n <= 0 || resolved == nullptr) {
    std::free(resolved);
    return std::nullopt;
  }
  std::string real(resolved);
  std::free(resolved);
  for (const std::string& dir : mounted) {
    if (dir != path && IsUnder(real, dir)) return std::string(target, static_cast<size_t>(n));
  }
  return std::nullopt;
}

// Finds a bare program name in the daemon's PATH, before fork (the child may only do
// async-signal-safe work).
std::string ResolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", program);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return program;
}

absl::Status CannotStart(const std::string& bwrap, int err) {
  return absl::FailedPreconditionError(absl::StrCat(
      "cannot start the build sandbox: ", bwrap, ": ", std::strerror(err),
      "; install bubblewrap (apt-get install bubblewrap) or point the worker at its bwrap binary"));
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::vector<std::string> BubblewrapSandboxOptions::DefaultHostReadOnlyPaths() {
  return {"/usr",
          "/lib",
          "/lib64",
          "/bin",
          "/sbin",
          "/etc/ssl",
          "/etc/ca-certificates",
          "/etc/alternatives",
          "/etc/passwd",
          "/etc/group",
          "/etc/resolv.conf",
          "/etc/nsswitch.conf",
          "/etc/hosts"};
}

BubblewrapSandbox::BubblewrapSandbox(BubblewrapSandboxOptions options)
    : options_(std::move(options)),
      run_as_nobody_(options_.run_as_nobody.value_or(::geteuid() == 0)) {}

std::vector<std::string> BubblewrapSandbox::BwrapArgv(const SandboxCommand& command) const {
  std::vector<std::string> args = {options_.bwrap_path, "--unshare-all"};
  if (command.network) args.push_back("--share-net");
  // --die-with-parent: the sandbox dies with the worker. --new-session: the build cannot push
  // input into the worker's terminal (TIOCSTI).
  args.insert(args.end(), {"--die-with-parent", "--new-session"});
  if (run_as_nobody_) {
    // A root daemon runs the build as nobody inside a user namespace, so the build holds no
    // capabilities. The bwrap process itself still starts as host root and the namespace's
    // nobody maps to host uid 0 for file ownership; dropping host root for bwrap and cgroup
    // limits (memory, pids, cpu) come with the sandbox-limits issue.
    args.insert(args.end(), {"--unshare-user", "--uid", kNobodyId, "--gid", kNobodyId});
  }
  args.push_back("--clearenv");
  for (const auto& [key, value] : command.env) args.insert(args.end(), {"--setenv", key, value});

  std::vector<std::string> present;
  for (const std::string& path : options_.host_read_only_paths) {
    if (Exists(path)) present.push_back(path);
  }
  for (const std::string& path : present) {
    if (std::optional<std::string> target = SymlinkToRecreate(path, present)) {
      args.insert(args.end(), {"--symlink", *target, path});
    } else {
      args.insert(args.end(), {"--ro-bind", path, path});
    }
  }
  for (const std::string& path : options_.masked_paths) {
    if (Exists(path)) args.insert(args.end(), {"--tmpfs", path});
  }
  args.insert(args.end(), {"--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"});
  // After /tmp's tmpfs, so a command may mount things under /tmp.
  for (const SandboxMount& m : command.mounts) {
    args.insert(args.end(), {m.writable ? "--bind" : "--ro-bind", m.host_path, m.sandbox_path});
  }
  if (!command.cwd.empty()) args.insert(args.end(), {"--chdir", command.cwd});
  args.push_back("--");
  args.insert(args.end(), command.argv.begin(), command.argv.end());
  return args;
}

absl::StatusOr<SandboxResult> BubblewrapSandbox::Run(const SandboxCommand& command) {
  if (command.argv.empty()) return absl::InvalidArgumentError("sandbox command has no argv");
  for (const auto& [key, value] : command.env) {
    if (key.empty() || key.find('=') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad environment variable name \"", key, "\""));
    }
  }
  // Checked here because bwrap's own complaint would look like the build failing with exit 1.
  for (const SandboxMount& m : command.mounts) {
    if (!Exists(m.host_path)) {
      return absl::InvalidArgumentError(
          absl::StrCat("sandbox mount source ", m.host_path, " does not exist"));
    }
    if (!absl::StartsWith(m.sandbox_path, "/")) {
      return absl::InvalidArgumentError(
          absl::StrCat("sandbox mount target ", m.sandbox_path, " is not an absolute path"));
    }
  }

  const std::string bwrap = ResolveProgram(options_.bwrap_path);
  if (::access(bwrap.c_str(), X_OK) != 0) return CannotStart(bwrap, errno);
  std::vector<std::string> args = BwrapArgv(command);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out[2] = {-1, -1};
  int exec_err[2] = {-1, -1};  // carries errno when exec fails; closed by exec when it works
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(exec_err, O_CLOEXEC) != 0) {
    int err = errno;
    for (int* fd : {&out[0], &out[1], &exec_err[0], &exec_err[1]}) CloseFd(*fd);
    return absl::InternalError(absl::StrCat("sandbox: pipe: ", std::strerror(err)));
  }
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const SandboxLimits& limits = command.limits;
  const absl::Time start = absl::Now();

  pid_t pid = ::fork();
  if (pid == 0) {
    // Child: async-signal-safe calls only (the worker is multithreaded).
    ::setpgid(0, 0);  // own process group, so a limit kills bwrap and everything it started
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (limits.memory_bytes > 0) {
      rlimit rl{limits.memory_bytes, limits.memory_bytes};
      ::setrlimit(RLIMIT_AS, &rl);
    }
    if (limits.max_processes > 0) {
      // Counted per real uid, so it is loose when the daemon's user runs other processes, and
      // root ignores it; the pids cgroup comes with the sandbox-limits issue.
      rlim_t n = static_cast<rlim_t>(limits.max_processes);
      rlimit rl{n, n};
      ::setrlimit(RLIMIT_NPROC, &rl);
    }
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    ::execv(bwrap.c_str(), argv.data());
    int err = errno;
    ssize_t ignored = ::write(exec_err[1], &err, sizeof(err));
    (void)ignored;
    ::_exit(127);
  }
  int fork_errno = errno;
  CloseFd(out[1]);
  CloseFd(exec_err[1]);
  CloseFd(devnull);
  if (pid < 0) {
    CloseFd(out[0]);
    CloseFd(exec_err[0]);
    return absl::InternalError(absl::StrCat("sandbox: fork: ", std::strerror(fork_errno)));
  }
  ::setpgid(pid, pid);  // also from the parent, so the group exists before any kill below

  int child_errno = 0;
  ssize_t got;
  do {
    got = ::read(exec_err[0], &child_errno, sizeof(child_errno));
  } while (got < 0 && errno == EINTR);
  CloseFd(exec_err[0]);
  if (got == static_cast<ssize_t>(sizeof(child_errno))) {
    CloseFd(out[0]);
    ::waitpid(pid, nullptr, 0);
    return CannotStart(bwrap, child_errno);
  }

  SandboxResult result;
  OutputCollector output(command.on_output, options_.log_tail_lines);
  const absl::Time deadline = start + limits.wall_time;
  bool killed = false;
  auto kill_group = [&](SandboxResult::Outcome why) {
    // SIGKILL to bwrap's group. The build itself sits in bwrap's PID namespace (and its own
    // session): when bwrap dies, --die-with-parent kills the namespace's init and with it
    // every process of the build.
    ::kill(-pid, SIGKILL);
    result.outcome = why;
    killed = true;
  };
  char buf[1 << 16];
  while (!killed) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      kill_group(SandboxResult::Outcome::kTimedOut);
      break;
    }
    pollfd pfd{out[0], POLLIN, 0};
    int timeout_ms =
        static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, INT_MAX));
    int ready = ::poll(&pfd, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      kill_group(SandboxResult::Outcome::kKilled);
      break;
    }
    if (ready == 0) continue;  // the deadline check above fires
    ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // EOF: bwrap and everything holding the pipe are gone
    uint64_t room = limits.output_bytes - std::min(limits.output_bytes, output.bytes());
    output.Feed(absl::string_view(buf, std::min<uint64_t>(room, static_cast<uint64_t>(n))));
    if (static_cast<uint64_t>(n) > room) kill_group(SandboxResult::Outcome::kOutputTooLarge);
  }
  output.Finish();
  CloseFd(out[0]);

  // The output can close before bwrap exits (a build that redirects its output away), so the
  // wall-time limit still applies while waiting.
  int status = 0;
  while (true) {
    pid_t done = ::waitpid(pid, &status, killed ? 0 : WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    if (done == 0) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        kill_group(SandboxResult::Outcome::kTimedOut);
      } else {
        absl::SleepFor(std::min(left, absl::Milliseconds(20)));
      }
    }
  }
  result.elapsed = absl::Now() - start;
  result.log_tail = output.Tail();
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);  // bwrap passes on the command's exit code
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
    if (!killed) result.outcome = SandboxResult::Outcome::kKilled;
  }
  if (!killed && limits.memory_bytes > 0 && result.exit_code != 0) {
    // Best effort: RLIMIT_AS makes allocations fail rather than killing, so look for the usual
    // messages, and for SIGKILL (bwrap reports a signalled child as 128 + signal).
    std::string tail = absl::AsciiStrToLower(result.log_tail);
    if (result.exit_code == 128 + SIGKILL || absl::StrContains(tail, "out of memory") ||
        absl::StrContains(tail, "cannot allocate memory")) {
      result.outcome = SandboxResult::Outcome::kOutOfMemory;
    }
  }
  return result;
}

}  // namespace tempa
