// What makes an app's fields valid: names usable as a DNS label and an image repository,
// repository URLs a worker may fetch, branch names git accepts, subdirectories inside the repo.
// Each error names the field, the problem and the fix.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tempa::coordinator {

absl::Status CheckAppName(absl::string_view name);
absl::Status CheckRepoUrl(absl::string_view url);
absl::Status CheckBranchName(absl::string_view branch);
absl::Status CheckAppPath(absl::string_view path);
// An app's start command (App.start_command): "" (the repository's own), or a command line of
// at most 4 KiB without control characters other than tabs.
absl::Status CheckStartCommand(absl::string_view command);
// A full (SHA-1 or SHA-256) or abbreviated (≥ 7) hexadecimal commit id.
absl::Status CheckCommitId(absl::string_view commit);
// Worker ids come from the worker; they name files and log lines.
absl::Status CheckWorkerId(absl::string_view id);

}  // namespace tempa::coordinator
