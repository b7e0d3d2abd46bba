// The farm commands of `tempa`: apps, builds, trigger, workers and deploys, each a call (or a
// stream) to the coordinator's ControlService. tempa_main.cc hands them the arguments; tests run
// them in process with an injected environment.
#pragma once

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace tempa::cli::farm {

// What the commands take from the process, injectable for tests.
struct FarmEnvironment {
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::istream* in = nullptr;  // where a secret file named "-" is read from
  std::function<absl::Time()> now;
  std::function<void(absl::Duration)> sleep;  // between reconnects of a followed build

  // std::getenv, std::cin, absl::Now, absl::SleepFor.
  static FarmEnvironment Process();
};

// True when `args` (argv after the program name) is a farm command: it starts with apps,
// builds, trigger, workers or deploys, or with a global farm flag such as --coordinator.
bool IsFarmCommand(const std::vector<std::string>& args);

// Runs the farm command in `args`. Output for people or, with --json, one JSON document goes to
// `out`; problems to `err`, one line naming the problem and the fix. Returns the exit code: 0
// done, 1 failed (the coordinator refused, could not be reached, or the followed build did not
// succeed), 2 bad usage.
int RunFarmCommand(std::vector<std::string> args, std::ostream& out, std::ostream& err,
                   const FarmEnvironment& env);
int RunFarmCommand(std::vector<std::string> args, std::ostream& out, std::ostream& err);

// The lines `tempa --help` lists for the farm commands and their global flags.
std::string FarmCommandsUsage();

}  // namespace tempa::cli::farm
