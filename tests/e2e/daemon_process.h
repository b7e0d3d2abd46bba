// A long-running process for end-to-end tests (tempa-coordinator, tempa-worker, git daemon):
// started with its output going to a file, waited on until it prints a line, killed with
// SIGKILL as a crash would, or stopped with SIGTERM. Killed in the destructor.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tempa::testing {

class DaemonProcess {
 public:
  // Starts argv[0] (a path) with the current environment plus `env`; stdout and stderr go to
  // `log_path` (appended, so a restarted daemon's log continues).
  static absl::StatusOr<std::unique_ptr<DaemonProcess>> Start(
      const std::vector<std::string>& argv, const std::string& log_path,
      const std::map<std::string, std::string>& env = {});
  ~DaemonProcess();

  // Waits until the log contains `needle` (after `from` bytes); returns the line holding it.
  absl::StatusOr<std::string> WaitForLine(const std::string& needle,
                                          absl::Duration timeout = absl::Seconds(30),
                                          size_t from = 0);
  void Kill9();  // as a crash: no cleanup runs
  // SIGTERM, then waits; the exit status (128 + signal when killed). A process that has already
  // exited gives its own status.
  int Terminate();
  // Waits up to `timeout` for the process to end on its own; its exit status, or -1 if it runs on.
  int WaitForExit(absl::Duration timeout);
  bool running();
  std::string log() const;
  size_t log_size() const;
  pid_t pid() const { return pid_; }

 private:
  DaemonProcess() = default;
  // Records how an exited process ended; false while it runs.
  bool Reaped(int status);

  pid_t pid_ = -1;
  int exit_status_ = -1;
  std::string log_path_;
};

}  // namespace tempa::testing
