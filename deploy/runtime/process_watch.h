// Watching a container's init process from the host: is it still the process we started (pid
// reuse is caught by its start time), and when this process is its parent (a child subreaper),
// reaping it for its exit status.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

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

}  // namespace tempa::deploy
