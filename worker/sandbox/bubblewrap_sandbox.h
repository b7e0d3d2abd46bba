// BubblewrapSandbox: the Sandbox on bubblewrap (bwrap) namespaces — only the listed host paths
// and the command's mounts are visible, network is off unless asked, and limits are enforced.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/sandbox/sandbox.h"

namespace tempa {

struct BubblewrapSandboxOptions {
  // Absolute path of bwrap, or a bare name looked up in the daemon's PATH.
  std::string bwrap_path = "/usr/bin/bwrap";
  // Host paths mounted read-only at the same place; those that do not exist are skipped.
  std::vector<std::string> host_read_only_paths = DefaultHostReadOnlyPaths();
  // Paths under the read-only mounts hidden behind an empty tmpfs (private keys under /etc/ssl).
  std::vector<std::string> masked_paths = {"/etc/ssl/private"};
  // Run the build as uid/gid 65534 in a user namespace. Unset: when the daemon runs as root.
  std::optional<bool> run_as_nobody;
  // How many trailing output lines SandboxResult::log_tail keeps.
  size_t log_tail_lines = 40;

  static std::vector<std::string> DefaultHostReadOnlyPaths();
};

class BubblewrapSandbox : public Sandbox {
 public:
  explicit BubblewrapSandbox(BubblewrapSandboxOptions options = {});

  // Errors: InvalidArgument for a malformed command (empty argv, missing mount source),
  // FailedPrecondition when bwrap cannot be started.
  absl::StatusOr<SandboxResult> Run(const SandboxCommand& command) override;

  // The full bwrap argv for `command` (exposed for tests and for logging what ran).
  std::vector<std::string> BwrapArgv(const SandboxCommand& command) const;

 private:
  BubblewrapSandboxOptions options_;
  bool run_as_nobody_;
};

}  // namespace tempa
