#include "tests/e2e/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace tempa::testing {

absl::StatusOr<std::unique_ptr<DaemonProcess>> DaemonProcess::Start(
    const std::vector<std::string>& argv, const std::string& log_path,
    const std::map<std::string, std::string>& env) {
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) return absl::InternalError(absl::StrCat("open ", log_path));
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    if (env.count(name) == 0) env_strings.push_back(entry);
  }
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<char*> c_argv, c_env;
  for (const std::string& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  for (std::string& e : env_strings) c_env.push_back(e.data());
  c_env.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log);
    return absl::InternalError("fork");
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group: Kill9 takes its children (sandboxes) too
    ::dup2(log, 1);
    ::dup2(log, 2);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::execve(c_argv[0], c_argv.data(), c_env.data());
    ::_exit(127);
  }
  ::close(log);
  std::unique_ptr<DaemonProcess> process(new DaemonProcess());
  process->pid_ = pid;
  process->log_path_ = log_path;
  return process;
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) Kill9();
}

std::string DaemonProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t DaemonProcess::log_size() const { return log().size(); }

absl::StatusOr<std::string> DaemonProcess::WaitForLine(const std::string& needle,
                                                       absl::Duration timeout, size_t from) {
  absl::Time until = absl::Now() + timeout;
  while (absl::Now() < until) {
    // Liveness first: a process that prints the line and exits must still be found to have.
    bool alive = running();
    std::string text = log();
    size_t at = text.size() > from ? text.find(needle, from) : std::string::npos;
    if (at != std::string::npos) {
      size_t start = text.rfind('\n', at);
      start = start == std::string::npos ? 0 : start + 1;
      size_t end = text.find('\n', at);
      return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    if (!alive) {
      return absl::FailedPreconditionError(
          absl::StrCat("the process exited before printing \"", needle, "\":\n", text));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no \"", needle, "\" within ", absl::FormatDuration(timeout), ":\n", log()));
}

bool DaemonProcess::Reaped(int status) {
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  pid_ = -1;
  return true;
}

bool DaemonProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  return !(::waitpid(pid_, &status, WNOHANG) == pid_ && Reaped(status));
}

int DaemonProcess::WaitForExit(absl::Duration timeout) {
  absl::Time until = absl::Now() + timeout;
  while (running()) {
    if (absl::Now() >= until) return -1;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return exit_status_;
}

void DaemonProcess::Kill9() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  exit_status_ = 128 + SIGKILL;
}

int DaemonProcess::Terminate() {
  if (!running()) return exit_status_;
  ::kill(pid_, SIGTERM);
  int status = WaitForExit(absl::Seconds(10));
  if (status == -1) Kill9();
  return status;
}

}  // namespace tempa::testing
