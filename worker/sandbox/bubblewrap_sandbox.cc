#include "worker/sandbox/bubblewrap_sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "worker/sandbox/file_limit_evidence.h"
#include "worker/sandbox/output_collector.h"
#include "worker/sandbox/process_tree.h"
#include "worker/sandbox/sandbox_child.h"
#include "worker/sandbox/sandbox_egress.h"

namespace tempa {
namespace {

using sandbox_internal::ChildFailure;
using sandbox_internal::ChildPlan;
using sandbox_internal::kStageExec;
using sandbox_internal::RunChild;
using sandbox_internal::StageName;

// Per-build cgroups are "<prefix><daemon pid>-<serial>", so a restarted daemon can tell which
// ones a dead daemon left behind.
constexpr char kGroupPrefix[] = "tempa-sandbox-";
// bwrap's monitor process and the PID namespace's init, counted by pids.max with the build.
constexpr int kBwrapTasks = 2;
// tempa-netbridge: its process and a thread per listener and open connection.
constexpr int kEgressTasks = 32;
// How often the cgroup counters (CPU time, refused forks) are read while a build runs.
constexpr absl::Duration kMonitorEvery = absl::Milliseconds(100);

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
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
  if (err == EAGAIN) {
    // RLIMIT_NPROC counts every process of the build uid on the host, not just this build's.
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot start the build sandbox: ", bwrap, ": ", std::strerror(err),
                     ": the build user already has as many processes as the process limit allows"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "cannot start the build sandbox: ", bwrap, ": ", std::strerror(err),
      "; install bubblewrap (apt-get install bubblewrap) or point the worker at its bwrap binary"));
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Without a memory cgroup: RLIMIT_AS makes allocations fail rather than killing, so look for the
// usual messages, and for SIGKILL (bwrap reports a signalled child as 128 + signal).
bool LooksOutOfMemory(const SandboxResult& result) {
  std::string tail = absl::AsciiStrToLower(result.log_tail);
  return result.exit_code == 128 + SIGKILL || absl::StrContains(tail, "out of memory") ||
         absl::StrContains(tail, "cannot allocate memory");
}

// Without a pids cgroup: what shells, make and runtimes print when RLIMIT_NPROC refuses a fork.
bool LooksLikeForkFailure(const std::string& log_tail) {
  std::string tail = absl::AsciiStrToLower(log_tail);
  return absl::StrContains(tail, "cannot fork") || absl::StrContains(tail, "fork: retry") ||
         absl::StrContains(tail, "resource temporarily unavailable");
}

// RLIMIT_FSIZE kills a writer with SIGXFSZ; runtimes that ignore the signal (Go, Python) see
// EFBIG. Whichever process it was, either its parent says so, or the file it wrote was cut at
// exactly the limit: returns the note naming the limit (and the file, when found).
std::optional<std::string> FileLimitHit(const SandboxCommand& command, const SandboxResult& result,
                                        absl::Time start) {
  const uint64_t limit = command.limits.file_bytes;
  std::vector<sandbox_internal::WrittenTree> written;
  for (const SandboxMount& m : command.mounts) {
    if (m.writable) written.push_back({m.host_path, m.sandbox_path});
  }
  std::string note =
      absl::StrCat("tempa: a build process tried to write a file larger than ", limit, " bytes");
  // File times have the file system's granularity, and the clocks may differ by a tick.
  if (std::optional<std::string> file =
          sandbox_internal::FindFileCutAtLimit(written, limit, start - absl::Seconds(1))) {
    return absl::StrCat(note, " (", *file, ")");
  }
  if (result.exit_code == 128 + SIGXFSZ ||
      sandbox_internal::OutputSaysFileTooLarge(result.log_tail)) {
    return note;
  }
  return std::nullopt;
}

}  // namespace

BubblewrapSandbox::BubblewrapSandbox(BubblewrapSandboxOptions options)
    : options_(std::move(options)),
      run_as_nobody_(options_.run_as_nobody.value_or(::geteuid() == 0)),
      drop_privileges_(::geteuid() == 0),
      cgroups_(options_.cgroup_backend) {
  if (!cgroups_ && options_.cgroup_parents) {
    if (!options_.cgroup_parents->empty()) {
      cgroups_ = std::make_shared<CgroupV1Backend>(*options_.cgroup_parents);
    }
  } else if (!cgroups_) {
    cgroups_ = DetectCgroupBackend();
  }
  // Groups a crashed worker left behind would otherwise count against the daemon's own limits.
  if (cgroups_) cgroups_->SweepAbandoned(kGroupPrefix);
}

absl::StatusOr<SandboxResult> BubblewrapSandbox::Run(const SandboxCommand& command) {
  if (command.egress.empty() || command.network) return RunDirect(command, 0);
  absl::StatusOr<std::unique_ptr<sandbox_internal::EgressSession>> egress =
      sandbox_internal::EgressSession::Start(
          command,
          options_.netbridge_path.empty() ? sandbox_internal::DefaultNetbridgePath()
                                          : options_.netbridge_path,
          options_.runtime_dir,
          drop_privileges_ ? std::optional<gid_t>(options_.build_gid) : std::nullopt);
  if (!egress.ok()) return egress.status();
  absl::StatusOr<SandboxResult> result = RunDirect((*egress)->command(), kEgressTasks);
  if (!result.ok()) return result;
  for (const std::string& note : (*egress)->Notes()) {
    if (command.on_output) command.on_output(note);
    absl::StrAppend(&result->log_tail, result->log_tail.empty() ? "" : "\n", note);
  }
  return result;
}

absl::StatusOr<SandboxResult> BubblewrapSandbox::RunDirect(const SandboxCommand& command,
                                                           int extra_tasks) {
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
    if (drop_privileges_) {
      absl::Status reachable =
          CheckReachableBy(m.host_path, options_.build_uid, options_.build_gid);
      if (!reachable.ok()) return reachable;
    }
  }

  const std::string bwrap = ResolveProgram(options_.bwrap_path);
  if (::access(bwrap.c_str(), X_OK) != 0) return CannotStart(bwrap, errno);
  const SandboxLimits& limits = command.limits;

  // Per-build cgroups; bwrap's own processes (its monitor, the namespace's init) count against
  // pids.max too, hence the slack.
  std::unique_ptr<BuildCgroup> cgroup;
  if (cgroups_) {
    static std::atomic<uint64_t> serial{0};
    CgroupLimits cg_limits;
    cg_limits.memory_bytes = limits.memory_bytes;
    if (limits.max_processes > 0) {
      cg_limits.max_tasks = limits.max_processes + kBwrapTasks + extra_tasks;
    }
    cg_limits.cpu_cores = options_.cpu_cores;
    absl::StatusOr<std::unique_ptr<BuildCgroup>> made =
        cgroups_->Create(absl::StrCat(kGroupPrefix, ::getpid(), "-", serial++), cg_limits);
    if (!made.ok()) {
      return absl::InternalError(
          absl::StrCat("cannot set up the build's limits: ", made.status().message()));
    }
    cgroup = *std::move(made);
  }

  std::vector<std::string> args = BwrapArgv(command);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  ChildPlan plan;
  plan.bwrap = bwrap.c_str();
  plan.argv = argv.data();
  if (cgroup) plan.cgroup_fds = cgroup->procs_fds();
  if (limits.memory_bytes > 0 && !(cgroup && cgroup->limits_memory())) {
    plan.address_space = limits.memory_bytes;
  }
  if (limits.max_processes > 0 && !(cgroup && cgroup->limits_tasks())) {
    plan.processes = static_cast<rlim_t>(limits.max_processes);
  }
  if (options_.cpu_time > absl::ZeroDuration()) {
    plan.cpu_seconds = static_cast<rlim_t>(absl::ToInt64Seconds(options_.cpu_time) + 1);
  }
  plan.file_bytes = static_cast<rlim_t>(limits.file_bytes);
  plan.drop_privileges = drop_privileges_;
  plan.uid = options_.build_uid;
  plan.gid = options_.build_gid;

  int out[2] = {-1, -1};
  int child_err[2] = {-1, -1};  // carries a ChildFailure; closed by exec when it works
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(child_err, O_CLOEXEC) != 0) {
    int err = errno;
    for (int* fd : {&out[0], &out[1], &child_err[0], &child_err[1]}) CloseFd(*fd);
    return absl::InternalError(absl::StrCat("sandbox: pipe: ", std::strerror(err)));
  }
  plan.stdin_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  plan.output_fd = out[1];
  plan.error_fd = child_err[1];
  const absl::Time start = absl::Now();

  pid_t pid = ::fork();
  if (pid == 0) RunChild(plan);
  int fork_errno = errno;
  CloseFd(out[1]);
  CloseFd(child_err[1]);
  CloseFd(plan.stdin_fd);
  if (pid < 0) {
    CloseFd(out[0]);
    CloseFd(child_err[0]);
    return absl::InternalError(absl::StrCat("sandbox: fork: ", std::strerror(fork_errno)));
  }
  ::setpgid(pid, pid);  // also from the parent, so the group exists before any kill below

  ChildFailure failure;
  ssize_t got;
  do {
    got = ::read(child_err[0], &failure, sizeof(failure));
  } while (got < 0 && errno == EINTR);
  CloseFd(child_err[0]);
  if (got == static_cast<ssize_t>(sizeof(failure))) {
    CloseFd(out[0]);
    ::waitpid(pid, nullptr, 0);
    if (failure.stage == kStageExec) return CannotStart(bwrap, failure.err);
    return absl::InternalError(
        absl::StrCat("cannot start the build sandbox: ", StageName(failure.stage), ": ",
                     std::strerror(failure.err)));
  }

  SandboxResult result;
  OutputCollector output(command.on_output, options_.log_tail_lines);
  const absl::Time deadline = start + limits.wall_time;
  bool killed = false;
  std::vector<std::string> notes;  // tempa's own lines, appended after the command's output
  // Without a cgroup, the PID namespace's init: it exits only once the namespace is empty.
  std::vector<UniqueFd> namespace_inits;
  auto kill_group = [&](SandboxResult::Outcome why) {
    if (!cgroup) namespace_inits = sandbox_internal::OpenChildPidfds(pid);
    // SIGKILL to bwrap's group. The build itself sits in bwrap's PID namespace (and its own
    // session): when bwrap dies, --die-with-parent kills the namespace's init and with it
    // every process of the build. The cgroup is emptied below as well.
    ::kill(-pid, SIGKILL);
    result.outcome = why;
    killed = true;
  };
  // Limits only the kernel's counters show, checked every kMonitorEvery while the build runs.
  bool hit_process_limit = false;
  auto monitor = [&] {
    if (!cgroup || killed) return;
    CgroupUsage usage = cgroup->Usage();
    if (options_.cpu_time > absl::ZeroDuration() && usage.cpu_time > options_.cpu_time) {
      notes.push_back(absl::StrCat("tempa: the build used more than ",
                                   absl::FormatDuration(options_.cpu_time), " of CPU time"));
      kill_group(SandboxResult::Outcome::kTimedOut);
    } else if (usage.task_limit_hits >= options_.fork_failures_before_kill) {
      hit_process_limit = true;
      kill_group(SandboxResult::Outcome::kProcessLimit);
    }
  };
  // A cancel is seen within one poll (kMonitorEvery) and kills the whole build.
  auto check_cancel = [&] {
    if (killed || !IsCancelled(command.cancel)) return;
    notes.push_back("tempa: the build was cancelled");
    kill_group(SandboxResult::Outcome::kCancelled);
  };
  char buf[1 << 16];
  while (!killed) {
    check_cancel();
    if (killed) break;
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      kill_group(SandboxResult::Outcome::kTimedOut);
      break;
    }
    pollfd pfd{out[0], POLLIN, 0};
    int timeout_ms = static_cast<int>(
        std::min<int64_t>(absl::ToInt64Milliseconds(std::min(left, kMonitorEvery)) + 1, INT_MAX));
    int ready = ::poll(&pfd, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      kill_group(SandboxResult::Outcome::kKilled);
      break;
    }
    if (absl::Now() - start > kMonitorEvery) monitor();
    if (ready == 0 || killed) continue;
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
  // limits still apply while waiting.
  int status = 0;
  while (true) {
    pid_t done = ::waitpid(pid, &status, killed ? 0 : WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    if (done == 0) {
      absl::Duration left = deadline - absl::Now();
      monitor();
      check_cancel();
      if (killed) continue;
      if (left <= absl::ZeroDuration()) {
        kill_group(SandboxResult::Outcome::kTimedOut);
      } else {
        absl::SleepFor(std::min(left, absl::Milliseconds(20)));
      }
    }
  }
  // Nothing of the build outlives its run: the namespace empties just after bwrap dies.
  sandbox_internal::WaitForExits(namespace_inits, absl::Seconds(5));
  result.elapsed = absl::Now() - start;
  CgroupUsage usage;
  if (cgroup) {
    cgroup->KillAll(absl::Seconds(5));  // nothing of the build outlives its run
    usage = cgroup->Usage();
  }
  result.log_tail = output.Tail();
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);  // bwrap passes on the command's exit code
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
    if (!killed) result.outcome = SandboxResult::Outcome::kKilled;
  }
  const bool failed = result.exit_code != 0 || result.outcome != SandboxResult::Outcome::kExited;
  if (!killed && failed && limits.memory_bytes > 0) {
    if (cgroup && cgroup->limits_memory()) {
      if (usage.oom_killed) result.outcome = SandboxResult::Outcome::kOutOfMemory;
    } else if (LooksOutOfMemory(result)) {
      result.outcome = SandboxResult::Outcome::kOutOfMemory;
    }
  }
  if (!killed && failed && options_.cpu_time > absl::ZeroDuration() &&
      result.exit_code == 128 + SIGXCPU) {
    result.outcome = SandboxResult::Outcome::kTimedOut;  // RLIMIT_CPU, without cpuacct
    notes.push_back(absl::StrCat("tempa: a build process used more than ",
                                 absl::FormatDuration(options_.cpu_time), " of CPU time"));
  }
  if (!killed && failed && limits.file_bytes > 0 &&
      result.outcome == SandboxResult::Outcome::kExited) {
    if (std::optional<std::string> note = FileLimitHit(command, result, start)) {
      result.outcome = SandboxResult::Outcome::kFileTooLarge;
      notes.push_back(*std::move(note));
    }
  }
  if (failed && limits.max_processes > 0 && !hit_process_limit) {
    hit_process_limit = cgroup && cgroup->limits_tasks() ? usage.task_limit_hits > 0
                                                         : LooksLikeForkFailure(result.log_tail);
  }
  if (hit_process_limit) {
    // Another limit that stopped the build (memory, time) is the better explanation.
    if (result.outcome == SandboxResult::Outcome::kExited) {
      result.outcome = SandboxResult::Outcome::kProcessLimit;
    }
    notes.push_back(absl::StrCat("tempa: the build hit the process limit (", limits.max_processes,
                                 " processes and threads)"));
  }
  for (const std::string& note : notes) {
    if (command.on_output) command.on_output(note);
    absl::StrAppend(&result.log_tail, result.log_tail.empty() ? "" : "\n", note);
  }
  return result;
}

}  // namespace tempa
