// The `tempa` command line as a whole: which command runs, help and version, and the exit code.
// tempa_main.cc calls RunTempa with argv; tests call it in process.
//
// Exit codes (the README's table; tests/worker/tempa_cli_test.cc pins them):
//   0  done: the image was pushed, the app detected, the farm call answered, or help/version
//   1  the command ran and failed: a build or detection failure (its kind on stderr and, with
//      --json, in {"error": {"kind": ...}}), the coordinator refused or could not be reached,
//      a followed build did not succeed, a file named by a flag could not be read
//   2  bad usage: unknown command or flag, a missing or malformed argument (usage on stderr)
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace tempa::cli {

// Runs `tempa ARGS...` (`args` without the program name). Help and version go to `out`.
int RunTempa(std::vector<std::string> args, std::ostream& out, std::ostream& err);

// "tempa 0.11.0 (commit 0123456789ab)", or without the commit when it is unknown.
std::string VersionLine();

}  // namespace tempa::cli
