// Waiting for a build's PID namespace to empty when no cgroup holds the build: the namespace's
// init (bwrap's child) exits only after every other process in the namespace is gone, so a
// pidfd on it, taken before bwrap is killed, says when nothing of the build is left.
#pragma once

#include <sys/types.h>

#include <vector>

#include "absl/time/time.h"
#include "common/posix_status.h"

namespace tempa::sandbox_internal {

// Pidfds of the live children of `parent` (found through /proc/*/stat, which needs no
// CONFIG_PROC_CHILDREN). Call while `parent` is alive: its children cannot be reaped and their
// pids reused before it waits for them.
std::vector<UniqueFd> OpenChildPidfds(pid_t parent);

// Waits until every process behind `pidfds` has exited, or `patience` passes; true when all did.
bool WaitForExits(const std::vector<UniqueFd>& pidfds, absl::Duration patience);

}  // namespace tempa::sandbox_internal
