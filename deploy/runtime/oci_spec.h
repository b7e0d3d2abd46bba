// Tempa's own OCI runtime spec (config.json) for one container: a non-root process with no
// capabilities and no new privileges, a read-only rootfs with a size-bounded writable /tmp, the
// container's memory (swap included, so the limit kills), CPU and pids limits, and its own pid,
// ipc, uts and mount namespaces. There is deliberately no network namespace: the app listens on
// 127.0.0.1:PORT of the host and the edge proxies to it, so a container can reach every loopback
// service of the host (the isolation limit of the local backend).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "deploy/runtime/container_runtime.h"
#include "nlohmann/json.hpp"

namespace tempa::deploy {

// Size of the writable tmpfs at /tmp.
inline constexpr int64_t kTmpfsBytes = 64ll << 20;
// RLIMIT_NOFILE of the container process (soft and hard).
inline constexpr int kContainerNoFile = 4096;

// InvalidArgument naming the field when `spec` cannot be run safely: an id outside
// [A-Za-z0-9_.-] (or empty, or over 64 chars), uid or gid 0, no args, a relative rootfs,
// state_dir or cwd, non-positive limits, env entries without '='.
absl::Status ValidateContainerSpec(const ContainerSpec& spec);

// The cgroup path of container `id`, as given to runc ("/tempa/<id>") and found under each
// v1 controller's mount or the v2 root.
std::string ContainerCgroupPath(const std::string& id);

// Where the init binary is bound in the container (/dev is a tmpfs runc makes: nothing is
// created in the image's rootfs for it).
inline constexpr char kContainerInitPath[] = "/dev/.tempa-init";

struct OciSpecOptions {
  // Bind the host's /etc/resolv.conf and /etc/hosts read-only where the rootfs has none.
  bool host_etc_binds = true;
  // A host path of tempa-container-init (deploy/runtime/container_init.c): bound read-only at
  // kContainerInitPath and run as PID 1 with the app as its child. Empty: the app is PID 1.
  std::string init_binary;
};

// config.json for `spec` (validated first).
absl::StatusOr<nlohmann::json> BuildOciSpec(const ContainerSpec& spec,
                                            const OciSpecOptions& options = {});

// ContainerSpec to and from JSON, to persist it in state_dir so that a restarted deployer
// can adopt the container and restart it after it exits.
nlohmann::json ContainerSpecToJson(const ContainerSpec& spec);
absl::StatusOr<ContainerSpec> ContainerSpecFromJson(const nlohmann::json& json);

}  // namespace tempa::deploy
