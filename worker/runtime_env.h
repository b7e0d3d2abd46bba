// The operator's run-time environment for an image (`tempa build --env K=V`, `--env-file F`):
// written into the image config's Env, over what the buildpack sets. Not for secrets: anyone who
// can pull the image reads it (secrets go in the deploy env, `tempa apps set --env`).
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tempa::worker {

// OK when every name is a variable a process can take (letters, digits and _, not starting with
// a digit), no value holds a NUL, and PORT is absent (tempa.toml `port` sets it, and the
// deployer gives it at run time). Errors name the variable, never the value.
absl::Status CheckRuntimeEnv(const std::map<std::string, std::string>& env);

// One "NAME=VALUE" (from `where`, e.g. "--env" or "--env-file F line 3") into `env`, checked as
// CheckRuntimeEnv does.
absl::Status AddRuntimeEnv(absl::string_view where, absl::string_view pair,
                           std::map<std::string, std::string>& env);

// An env file into `env`: NAME=VALUE lines; blank lines and lines starting with # are skipped,
// a leading "export " is allowed (as in a shell's .env). Values are taken as written (no quotes
// removed, no expansion). `where` names the file in errors.
absl::Status ParseRuntimeEnvFile(absl::string_view where, absl::string_view content,
                                 std::map<std::string, std::string>& env);

}  // namespace tempa::worker
