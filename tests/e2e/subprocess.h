// Runs a command to completion and captures its output, for tests that drive binaries the way a
// user's shell would.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace tempa::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv (PATH-resolved) with the current environment plus `env`, in `cwd` when non-empty.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         const std::string& cwd = "");

// The last non-empty line of `text`.
std::string LastLine(const std::string& text);

}  // namespace tempa::testing
