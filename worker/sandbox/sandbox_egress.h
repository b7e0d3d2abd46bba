// EgressSession: runs one sandboxed command whose egress is limited to named targets. It starts
// an EgressProxy on a Unix socket in a fresh runtime directory and rewrites the command to run
// under tempa-netbridge inside the sandbox (own network namespace, only loopback), with the
// proxy variables set. Internal to worker/sandbox.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/sandbox/sandbox.h"
#include "worker/sandbox/egress_proxy.h"

namespace tempa::sandbox_internal {

// The in-sandbox HTTP proxy port, moved past any port a loopback target needs.
constexpr int kDefaultProxyPort = 3128;

class EgressSession {
 public:
  // `netbridge`: the host's tempa-netbridge binary (copied into the runtime directory, so the
  // build user can run it wherever Tempa is installed). `runtime_parent`: where the runtime
  // directory is made; it must be searchable by the build user.
  // `build_group`: the build user's group when builds run as another uid than the daemon.
  static absl::StatusOr<std::unique_ptr<EgressSession>> Start(
      const SandboxCommand& command, const std::string& netbridge,
      const std::string& runtime_parent, std::optional<gid_t> build_group);
  ~EgressSession();  // stops the proxy and removes the runtime directory

  // The command to run instead: no egress list, the netbridge in front, proxy env set.
  const SandboxCommand& command() const { return command_; }
  // Lines for the build log: connections the proxy refused or could not make.
  std::vector<std::string> Notes() const;

 private:
  EgressSession() = default;

  std::string runtime_dir_;
  std::unique_ptr<EgressProxy> proxy_;
  SandboxCommand command_;
};

// Where tempa-netbridge is: next to the running executable, else the install locations.
std::string DefaultNetbridgePath();

}  // namespace tempa::sandbox_internal
