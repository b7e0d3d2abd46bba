#include "deploy/runtime/runc_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/posix_status.h"

extern char** environ;

namespace tempa::deploy {
namespace {

constexpr size_t kMaxOutput = 64 << 10;

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

RuncCommand::RuncCommand(std::string runc_binary, std::string root, absl::Duration timeout)
    : binary_(std::move(runc_binary)), root_(std::move(root)), timeout_(timeout) {}

absl::StatusOr<RuncResult> RuncCommand::Run(const std::vector<std::string>& args,
                                            int output_fd) const {
  std::vector<std::string> argv = {binary_, "--root", root_};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string what = absl::StrCat("runc ", absl::StrJoin(args, " "));

  int pipe_fds[2] = {-1, -1};
  if (output_fd < 0 && pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe for", what);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  int out = output_fd >= 0 ? output_fd : write_end.get();

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  posix_spawn_file_actions_adddup2(&actions, out, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // A fresh signal mask and default dispositions: runc forwards signals to the container.
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  int err = binary_.find('/') == std::string::npos
                ? posix_spawnp(&pid, binary_.c_str(), &actions, &attr, cargv.data(), environ)
                : posix_spawn(&pid, binary_.c_str(), &actions, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    return ErrnoStatus(err, "start", absl::StrCat(binary_, " (is runc installed?)"));
  }
  write_end.Reset();

  RuncResult result;
  absl::Time deadline = absl::Now() + timeout_;
  bool timed_out = false;
  if (read_end.valid()) {
    char buf[4096];
    while (true) {
      int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (left_ms <= 0) {
        timed_out = true;
        break;
      }
      pollfd pfd = {read_end.get(), POLLIN, 0};
      int ready = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left_ms, 1000)));
      if (ready < 0 && errno != EINTR) break;
      if (ready <= 0) continue;
      ssize_t n = read(read_end.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (result.output.size() < kMaxOutput) {
        result.output.append(buf,
                             std::min(static_cast<size_t>(n), kMaxOutput - result.output.size()));
      }
    }
  }
  int status = 0;
  while (!timed_out) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) return ErrnoStatus(errno, "waitpid for", what);
    if (absl::Now() >= deadline) {
      timed_out = true;
    } else {
      absl::SleepFor(absl::Milliseconds(2));
    }
  }
  if (timed_out) {
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(what, ": did not finish within ",
                                                    absl::FormatDuration(timeout_), "; killed it"));
  }
  result.exit_code = ExitCode(status);
  return result;
}

}  // namespace tempa::deploy
