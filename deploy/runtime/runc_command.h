// Runs the runc binary once: posix_spawn with every descriptor but stdio closed, stdin from
// /dev/null, its own timeout (then SIGKILL). Output is captured (bounded), or, for
// `runc run --detach`, stdout and stderr go to a given descriptor (the container's log, which
// runc passes through to the container process).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tempa::deploy {

struct RuncResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string output;  // stdout and stderr together (at most 64 KiB), when captured
};

class RuncCommand {
 public:
  // `runc_binary` is PATH-resolved when it has no '/'; `root` is runc's --root (its state).
  RuncCommand(std::string runc_binary, std::string root, absl::Duration timeout);

  // Runs `runc --root ROOT args...`. With `output_fd` >= 0 stdout and stderr go there and
  // nothing is captured. Error (DeadlineExceeded) when runc did not finish within the timeout,
  // or could not be started; a non-zero exit is not an error (see exit_code).
  absl::StatusOr<RuncResult> Run(const std::vector<std::string>& args, int output_fd = -1) const;

  const std::string& root() const { return root_; }

 private:
  std::string binary_;
  std::string root_;
  absl::Duration timeout_;
};

}  // namespace tempa::deploy
