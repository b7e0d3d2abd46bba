#include "buildpacks/internal/toolchain_locator.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/strings/str_join.h"

namespace tempa::buildpacks::internal {

absl::Status ToolchainNames::Missing(absl::string_view detail) const {
  return absl::FailedPreconditionError(
      absl::StrCat("no ", language, " toolchain: ", detail, "; ", install_hint));
}

std::string EnvOr(const std::optional<std::string>& injected, const char* name) {
  if (injected) return *injected;
  const char* value = getenv(name);
  return value != nullptr ? value : "";
}

absl::StatusOr<std::string> ResolveExecutable(const ToolchainNames& names,
                                              const std::string& candidate) {
  char resolved[PATH_MAX];
  if (realpath(candidate.c_str(), resolved) == nullptr || access(resolved, X_OK) != 0) {
    return names.Missing(absl::StrCat(candidate, " is not an executable file"));
  }
  return std::string(resolved);
}

absl::StatusOr<std::string> RunToolchainProbe(const ToolchainNames& names,
                                              const std::vector<std::string>& argv,
                                              const std::vector<std::string>& env,
                                              size_t max_bytes) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  std::vector<std::string> argv_s = argv, env_s = env;
  std::vector<char*> c_argv, c_envp;
  for (std::string& s : argv_s) c_argv.push_back(s.data());
  for (std::string& s : env_s) c_envp.push_back(s.data());
  c_argv.push_back(nullptr);
  c_envp.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, c_argv.data(), c_envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return names.Missing(absl::StrCat("cannot run ", argv[0], ": ", strerror(rc)));
  }
  std::string out;
  char buf[4096];
  for (ssize_t n; out.size() < max_bytes && (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buf, std::min(static_cast<size_t>(n), max_bytes - out.size()));
  }
  // A tool that prints more than max_bytes gets SIGPIPE instead of blocking the wait below.
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return names.Missing(absl::StrCat("`", absl::StrJoin(argv, " "), "` failed"));
  }
  return out;
}

}  // namespace tempa::buildpacks::internal
