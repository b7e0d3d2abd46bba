// BubblewrapSandbox: the Sandbox on bubblewrap (bwrap) namespaces — only the listed host paths
// and the command's mounts are visible, network is off unless asked, the build never runs as
// host root, and limits hold for its whole process tree.
//
// Limits: with a per-build cgroup (see build_cgroup.h; v2 when the unified hierarchy has the
// memory and pids controllers delegated, else v1 when the daemon may create groups under its
// own) memory is memory.max / memory.limit_in_bytes (no swap), processes are pids.max, CPU time
// is cpu.stat / cpuacct.usage, and an OOM kill or a refused fork is read from the kernel's
// counters, whichever process of the build hit it. Without them the fallbacks are per-process
// rlimits: RLIMIT_AS (virtual memory, so toolchains that reserve address space fail early, and
// OOM is guessed from the output), RLIMIT_NPROC (counted per uid across all builds sharing it)
// and RLIMIT_CPU (per process). The file-size limit is RLIMIT_FSIZE either way; a process it
// stopped is recognised from the output or from a file cut at exactly the limit.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/sandbox/sandbox.h"
#include "worker/sandbox/build_cgroup.h"
#include "worker/sandbox/cgroup_v1_build_cgroup.h"

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
  // When the daemon is root, the bwrap process drops to this host uid/gid before it starts, so
  // no process of the build is host root and files it writes belong to this uid. Builds share
  // it yet stay apart: each sees only its own mounts, processes and cgroups. Writable mounts
  // must belong to it: see PrepareForSandbox.
  uid_t build_uid = 65534;
  gid_t build_gid = 65534;
  // Where per-build cgroups are created. Unset: cgroup_parents when set, else
  // DetectCgroupBackend(). A backend shared by several sandboxes is fine.
  std::shared_ptr<CgroupBackend> cgroup_backend;
  // cgroup v1 parents to use instead of detecting; a controller left empty falls back to its
  // rlimit, and CgroupParents{} means rlimits only.
  std::optional<CgroupParents> cgroup_parents;
  // CPU bandwidth of the whole build in cores (cpu.max); zero: no limit. Only the cgroup v2
  // backend with the cpu controller enforces it.
  double cpu_cores = 0;
  // CPU time (user + system) the whole build may use; zero: no limit. Exceeding it is a timeout.
  absl::Duration cpu_time = absl::ZeroDuration();
  // A build whose forks the process limit refused this many times is stopped: a fork bomb
  // would otherwise spin on every core until the wall-time limit.
  uint64_t fork_failures_before_kill = 1000;
  // tempa-netbridge, for commands with an egress list. Empty: next to the running executable,
  // else /usr/lib/tempa/.
  std::string netbridge_path;
  // Where a command with an egress list gets its proxy socket (a fresh directory each time).
  std::string runtime_dir = "/tmp";
  // How many trailing output lines SandboxResult::log_tail keeps.
  size_t log_tail_lines = 40;

  static std::vector<std::string> DefaultHostReadOnlyPaths();
};

class BubblewrapSandbox : public Sandbox {
 public:
  explicit BubblewrapSandbox(BubblewrapSandboxOptions options = {});

  // Errors: InvalidArgument for a malformed command (empty argv, missing mount source),
  // FailedPrecondition when bwrap cannot be started or cannot set the sandbox up (a mount the
  // build user cannot reach), Internal when the build's cgroups cannot be made.
  //
  // A command stopped by a limit has outcome kOutOfMemory, kTimedOut (wall or CPU time) or
  // kOutputTooLarge (log output), or kFileTooLarge (a write past limits.file_bytes by any
  // process of the build: SIGXFSZ or EFBIG in the output, or a file in a writable mount cut at
  // exactly the limit during the run). A build that hit the process limit and failed (or was
  // stopped for retrying forks) has outcome kProcessLimit; the last line of its output and log_tail
  // is "tempa: the build hit the process limit (N processes and threads)".
  //
  // A command with an egress list runs in its own network namespace behind an EgressProxy (see
  // sandbox_egress.h); the targets it was refused are listed at the end of its output.
  absl::StatusOr<SandboxResult> Run(const SandboxCommand& command) override;

  // The full bwrap argv for `command` (exposed for tests and for logging what ran).
  std::vector<std::string> BwrapArgv(const SandboxCommand& command) const;

  // Whether builds run as options.build_uid on the host (the daemon is root).
  bool drops_privileges() const { return drop_privileges_; }

 private:
  // Run without the egress wrapping; `extra_tasks` is slack on the process limit for it.
  absl::StatusOr<SandboxResult> RunDirect(const SandboxCommand& command, int extra_tasks);

  BubblewrapSandboxOptions options_;
  bool run_as_nobody_;
  bool drop_privileges_;
  std::shared_ptr<CgroupBackend> cgroups_;  // null: rlimits only
};

// Makes `dir`, a directory tree the daemon created for one build (scratch dir, the app's cache
// dir), writable by the build: when the daemon is root, every entry is chowned to the build
// uid/gid (symlinks themselves, never their targets, nor a file with several names that is not
// already the build user's; other file systems are not entered). Fails
// with FailedPrecondition when an ancestor of `dir` cannot be searched by the build uid, since
// bwrap could not mount it. A no-op when the daemon is not root (builds run as the daemon's uid).
absl::Status PrepareForSandbox(const std::string& dir, const BubblewrapSandboxOptions& options);

// FailedPrecondition naming the culprit when some ancestor directory of `path` cannot be
// searched by uid/gid (bwrap, running as that uid, could not mount `path`).
absl::Status CheckReachableBy(const std::string& path, uid_t uid, gid_t gid);

// CheckReachableBy, and `dir` itself and every directory (r and x) and regular file (r) under it
// (links not followed, .git skipped) are readable by uid/gid: what a read-only mount of a source
// tree needs. FailedPrecondition naming the first entry that is not, and its mode.
absl::Status CheckReadableBy(const std::string& dir, uid_t uid, gid_t gid);

}  // namespace tempa
