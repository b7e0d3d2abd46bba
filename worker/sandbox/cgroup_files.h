// Reading and writing cgroupfs interface files, shared by the v1 and v2 BuildCgroup backends.
// Internal to worker/sandbox.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tempa::cgroup_internal {

// The whole content of a small file such as memory.events; nullopt when it cannot be read.
std::optional<std::string> ReadSmallFile(const std::string& path);

// A single-number file such as memory.max_usage_in_bytes; 0 when unreadable.
uint64_t ReadNumber(const std::string& path);

// The value of `key` in a file of "key value" lines (memory.events, pids.events, cpu.stat).
std::optional<uint64_t> ReadKeyed(const std::string& path, absl::string_view key);

// The space-separated words of a file such as cgroup.controllers.
std::set<std::string> ReadWords(const std::string& path);

// Writes `value` to an existing file (no O_CREAT: a missing interface file is an error).
absl::Status WriteValue(const std::string& path, absl::string_view value);

bool Exists(const std::string& path);

// The pids listed in `group`/cgroup.procs.
std::vector<pid_t> Procs(const std::string& group);

// rmdir, retried while the kernel still reports the group busy (a moment after its last task
// was reaped). True when it is gone.
bool RemoveGroup(const std::string& dir);

// Groups named "<prefix><pid>-..." directly under `parent` whose creating process <pid> no
// longer exists (a worker that crashed mid-build). Groups of live processes are not listed.
std::vector<std::string> AbandonedGroups(const std::string& parent, const std::string& prefix);

}  // namespace tempa::cgroup_internal
