// Runs one build command isolated from the host: only its mounts are visible, limits apply,
// output streams line by line. The real implementation is worker/sandbox/bubblewrap_sandbox.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/cancel_token.h"

namespace tempa {

struct SandboxMount {
  std::string host_path;
  std::string sandbox_path;
  bool writable = false;
};

// A host:port a sandboxed command may connect to (an index, a module proxy, a registry).
struct NetworkTarget {
  std::string host;  // a name or an IP literal, as the build env wrote it
  int port = 0;
  bool operator==(const NetworkTarget&) const = default;
};

struct SandboxLimits {
  absl::Duration wall_time = absl::Minutes(30);
  uint64_t memory_bytes = 0;            // 0: no limit
  int max_processes = 0;                // 0: no limit
  uint64_t output_bytes = 64ull << 20;  // log output kept/streamed before the command is killed
  // The largest file any process of the build may write (RLIMIT_FSIZE): a build cannot fill the
  // worker's disk with one runaway file. 0: no limit.
  uint64_t file_bytes = 8ull << 30;
};

struct SandboxCommand {
  std::vector<std::string> argv;           // argv[0] resolved inside the sandbox's PATH
  std::map<std::string, std::string> env;  // the whole environment; nothing is inherited
  std::string cwd;                         // inside the sandbox
  std::vector<SandboxMount> mounts;
  // Egress: none by default. `egress` lets the command reach exactly those targets (through a
  // proxy the sandbox provides; other connections are refused and reported); `network` opens
  // the host's whole network instead.
  std::vector<NetworkTarget> egress;
  bool network = false;
  SandboxLimits limits;
  // Called with each line of combined stdout/stderr, without the newline.
  std::function<void(absl::string_view line)> on_output;
  // When set (and while it lives), setting it stops the command: every process of it is killed
  // within a second and the result's outcome is kCancelled. Null: never cancelled.
  const CancelToken* cancel = nullptr;
};

struct SandboxResult {
  // kCancelled: the command's cancel token was set and the sandbox killed it.
  enum class Outcome {
    kExited,
    kTimedOut,
    kOutOfMemory,
    kOutputTooLarge,
    kFileTooLarge,
    kProcessLimit,
    kKilled,
    kCancelled
  };
  Outcome outcome = Outcome::kExited;
  int exit_code = 0;
  std::string log_tail;  // last lines of output, for error messages
  absl::Duration elapsed;
  bool ok() const { return outcome == Outcome::kExited && exit_code == 0; }
};

class Sandbox {
 public:
  virtual ~Sandbox() = default;
  // Runs the command to completion. An error Status means the sandbox itself could not run it;
  // a command that ran and failed is a SandboxResult with !ok().
  virtual absl::StatusOr<SandboxResult> Run(const SandboxCommand& command) = 0;
};

}  // namespace tempa
