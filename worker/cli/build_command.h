// `tempa build`: wires the real implementations into the pipeline, prints progress to stderr
// and the result to stdout.
#pragma once

#include <iosfwd>

#include "worker/cli/cli_args.h"

namespace tempa::cli {

// Returns the process exit code: 0 success, 1 build failure, 2 bad usage.
int RunBuild(const BuildArgs& args, std::ostream& out, std::ostream& err);

}  // namespace tempa::cli
