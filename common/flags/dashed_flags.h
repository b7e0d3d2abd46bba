// Lets daemons take `--data-dir` as well as absl's `--data_dir`: the contract and users' habits
// spell flags with dashes, absl::flags names them with underscores.
#pragma once

#include <string>
#include <vector>

namespace tempa {

// argv with every "--flag-name[=value]" rewritten to "--flag_name[=value]" (values untouched;
// everything after a bare "--" left as it is).
std::vector<std::string> UnderscoreFlagNames(int argc, char** argv);

}  // namespace tempa
