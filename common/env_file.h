// The lines of an env file (`--env-file`, for the image's env and for the deploy env alike):
// NAME=VALUE lines, blank lines and lines starting with # skipped, a leading "export " allowed
// (as in a shell's .env), a trailing \r dropped. Values are taken as written: no quotes removed,
// no expansion. Each caller checks the pairs by its own rules.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tempa {

// Calls `add(where, pair)` for each NAME=VALUE line of `content`, `where` being
// "`label` line N"; stops at the first error `add` returns.
absl::Status ForEachEnvFileLine(
    absl::string_view content, absl::string_view label,
    const std::function<absl::Status(const std::string& where, absl::string_view pair)>& add);

}  // namespace tempa
