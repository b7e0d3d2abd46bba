// The processes behind NginxEdge: running the nginx binary to completion (`-t`, start) with its
// output captured, telling our nginx master from any other process, and its workers' state
// (from /proc). Linux only.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tempa::deploy {

struct ExitedProcess {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv[0] (an absolute path) with argv, stdin from /dev/null, stdout and stderr into
// `output_path` (0600, replaced), no other descriptor inherited, an empty signal mask and a
// session of its own; waits for it to exit.
absl::StatusOr<ExitedProcess> RunToExit(const std::vector<std::string>& argv,
                                        const std::string& output_path);

// True when `pid` is alive (not a zombie) and is an nginx master started with `conf_path`
// (nginx writes its command line into the process title: "nginx: master process ... -c CONF").
bool IsNginxMasterFor(pid_t pid, const std::string& conf_path);

// True when `pid` exists and is not a zombie.
bool ProcessAlive(pid_t pid);

// The live children of `pid`.
std::vector<pid_t> ChildrenOf(pid_t pid);

// The process title (/proc/PID/cmdline, NULs as spaces); empty when it is gone.
std::string ProcessTitle(pid_t pid);

// The processes holding a descriptor of a unix socket bound to `socket_path` (from
// /proc/net/unix and /proc/PID/fd): an nginx of ours, even one whose master or pid file is lost,
// holds its control socket.
std::vector<pid_t> ProcessesHoldingUnixSocket(const std::string& socket_path);

}  // namespace tempa::deploy
