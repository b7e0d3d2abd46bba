// BubblewrapSandbox::BwrapArgv: the bwrap command line for one sandboxed command — namespaces,
// the user it runs as, the host's read-only system paths, masks, and the command's own mounts.
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

namespace tempa {
namespace {

constexpr char kNobodyId[] = "65534";

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool IsUnder(const std::string& path, const std::string& dir) {
  return path == dir || (absl::StartsWith(path, dir) && path.size() > dir.size() &&
                         (dir.back() == '/' || path[dir.size()] == '/'));
}

// A host symlink such as /lib64 -> usr/lib64 is recreated as a symlink when its target is itself
// mounted, so the sandbox sees the same layout; otherwise (say /etc/resolv.conf pointing into
// /run) the target's content is bound in its place.
std::optional<std::string> SymlinkToRecreate(const std::string& path,
                                             const std::vector<std::string>& mounted) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return std::nullopt;
  char target[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), target, sizeof(target) - 1);
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (n <= 0 || resolved == nullptr) {
    std::free(resolved);
    return std::nullopt;
  }
  std::string real(resolved);
  std::free(resolved);
  for (const std::string& dir : mounted) {
    if (dir != path && IsUnder(real, dir)) return std::string(target, static_cast<size_t>(n));
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::string> BubblewrapSandboxOptions::DefaultHostReadOnlyPaths() {
  return {"/usr",
          "/lib",
          "/lib64",
          "/bin",
          "/sbin",
          "/etc/ssl",
          "/etc/ca-certificates",
          "/etc/alternatives",
          "/etc/passwd",
          "/etc/group",
          "/etc/resolv.conf",
          "/etc/nsswitch.conf",
          "/etc/hosts"};
}

std::vector<std::string> BubblewrapSandbox::BwrapArgv(const SandboxCommand& command) const {
  std::vector<std::string> args = {options_.bwrap_path, "--unshare-all"};
  if (command.network) args.push_back("--share-net");
  // --die-with-parent: the sandbox dies with the worker. --new-session: the build cannot push
  // input into the worker's terminal (TIOCSTI).
  args.insert(args.end(), {"--die-with-parent", "--new-session"});
  if (run_as_nobody_) {
    // The build runs as nobody inside a user namespace, so it holds no capabilities; on the host
    // it is the unprivileged build uid (see Run). --disable-userns: it cannot make a nested
    // namespace to get capabilities back over its own mounts.
    args.insert(args.end(),
                {"--unshare-user", "--disable-userns", "--uid", kNobodyId, "--gid", kNobodyId});
  }
  args.push_back("--clearenv");
  for (const auto& [key, value] : command.env) args.insert(args.end(), {"--setenv", key, value});

  std::vector<std::string> present;
  for (const std::string& path : options_.host_read_only_paths) {
    if (Exists(path)) present.push_back(path);
  }
  for (const std::string& path : present) {
    if (std::optional<std::string> target = SymlinkToRecreate(path, present)) {
      args.insert(args.end(), {"--symlink", *target, path});
    } else {
      args.insert(args.end(), {"--ro-bind", path, path});
    }
  }
  for (const std::string& path : options_.masked_paths) {
    if (Exists(path)) args.insert(args.end(), {"--tmpfs", path});
  }
  args.insert(args.end(), {"--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"});
  // After /tmp's tmpfs, so a command may mount things under /tmp.
  for (const SandboxMount& m : command.mounts) {
    args.insert(args.end(), {m.writable ? "--bind" : "--ro-bind", m.host_path, m.sandbox_path});
  }
  if (!command.cwd.empty()) args.insert(args.end(), {"--chdir", command.cwd});
  args.push_back("--");
  args.insert(args.end(), command.argv.begin(), command.argv.end());
  return args;
}

}  // namespace tempa
