// `tempa detect`: prints the plan `tempa build` would build from a directory, resolved by the
// same function the build pipeline uses (worker/app_source.h), without building anything.
#pragma once

#include <iosfwd>

#include "worker/cli/cli_args.h"

namespace tempa::cli {

// Returns the process exit code: 0 a plan was printed, 1 the build would fail before building
// (the error as `tempa build` reports it, JSON included).
int RunDetect(const DetectArgs& args, std::ostream& out, std::ostream& err);

}  // namespace tempa::cli
