// Runs a host tool (dpkg-query, dpkg, apt-get) for the Debian run bases and captures what it
// prints. Only for trusted, fixed argv lists built by this directory: no shell is involved, the
// environment is pinned (PATH, LC_ALL=C) so tool output parses the same on every worker.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tempa::buildpacks::runbase {

struct CommandOutput {
  int exit_code = -1;   // the exit status; -1 when killed by a signal
  std::string out;      // stdout
  std::string err;      // stderr
};

// Runs argv[0] (looked up on the pinned PATH) in `cwd` ("" = inherit). An error only when the
// process cannot be started; a non-zero exit is reported in CommandOutput.
absl::StatusOr<CommandOutput> RunHostCommand(const std::vector<std::string>& argv,
                                             const std::string& cwd = "");

}  // namespace tempa::buildpacks::runbase
