// Watching a container's init process from the host: is it still the process we started (pid
// reuse is caught by its start time), and when this process is its parent (a child subreaper),
// reaping it for its exit status.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "deploy/runtime/container_runtime.h"

namespace tempa::deploy {

// /proc/<pid>/stat starttime (clock ticks since boot); nullopt when there is no such process.
std::optional<uint64_t> ProcessStartTicks(pid_t pid);

struct ProcessExit {
  bool exited = false;
  std::optional<int> wait_status;  // raw waitpid status, when this process reaped it
};

// Whether process `pid` (started at `start_ticks`) is gone. A zombie child of this process is
// reaped (wait_status set); a zombie of another parent counts as exited without a status.
ProcessExit CheckProcess(pid_t pid, uint64_t start_ticks);

// Records an exit in `status`: the exit code and "exited with 3", "killed by signal 9", or
// (a SIGKILL or exit 137 as tempa-container-init reports one, or an unseen status, while
// `memory_limit` says the cgroup's limit acted) "killed by the memory limit (64 MiB)" with
// oom_kills counted.
void RecordContainerExit(ContainerStatus& status, const ContainerSpec& spec,
                         std::optional<int> wait_status, bool memory_limit);

}  // namespace tempa::deploy
