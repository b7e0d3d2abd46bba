// Containers on this machine: one release's process under an OCI runtime (runc), supervised:
// restarted with backoff when it exits, its output kept for a log tail.
// Implementation: RuncContainerRuntime (runc_container_runtime.h), with Tempa's OCI spec in
// oci_spec.h. Isolation limit of the local backend: containers get their own pid, ipc, uts and
// mount namespaces but share the host's network (no network namespace), because the app listens
// on 127.0.0.1:PORT of the host for the edge; an app can therefore reach every loopback service
// of the machine. Kubernetes (NetworkPolicy) is the backend for apps that must not.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tempa::deploy {

struct ContainerSpec {
  std::string id;      // unique on the machine: [a-zA-Z0-9_.-], e.g. "tempa-hello-production-d-b-7"
  std::string rootfs;  // mounted read-only; a writable tmpfs at /tmp
  std::string state_dir;          // the container's own directory (bundle, config.json, log); 0700
  std::vector<std::string> args;  // argv, args[0] resolved in the rootfs
  std::vector<std::string> env;   // "K=V", PORT included
  std::string cwd = "/";
  uint32_t uid = 65534;  // never 0
  uint32_t gid = 65534;
  int64_t memory_bytes = 256ll << 20;
  int cpu_millis = 500;
  int pids_max = 256;
  // Listens on 127.0.0.1:PORT of the host (the edge proxies to it).
  int port = 0;
};

struct ContainerStatus {
  bool running = false;
  int restarts = 0;   // restarts by the supervisor since Start
  int oom_kills = 0;  // exits caused by the memory limit
  std::optional<int> last_exit_code;
  std::string last_exit_reason;  // "killed by the memory limit (256 MiB)", "exited with 1", ...
};

class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;
  // Starts the container detached and supervises it: when it exits it is restarted with
  // backoff (1 s doubling to 30 s, reset after 60 s up) until Stop.
  virtual absl::Status Start(const ContainerSpec& spec) = 0;
  // SIGTERM, `grace` to exit, then SIGKILL; removes the runtime's state (not state_dir).
  virtual absl::Status Stop(absl::string_view id, absl::Duration grace) = 0;
  // NotFound when no container has this id.
  virtual absl::StatusOr<ContainerStatus> Status(absl::string_view id) = 0;
  // The last `lines` lines the container printed (stdout and stderr), across restarts; "" for
  // an unknown id. Bounded: at most the log's last 256 KiB are read.
  virtual std::string LogTail(absl::string_view id, int lines) = 0;
  // Ids of containers this runtime runs (also ones started before a deployer restart).
  virtual std::vector<std::string> List() = 0;
};

}  // namespace tempa::deploy
