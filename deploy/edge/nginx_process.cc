#include "deploy/edge/nginx_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/posix_status.h"

extern char** environ;

namespace tempa::deploy {
namespace {

std::string ReadProcFile(pid_t pid, const char* name) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/", name), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Fields of /proc/PID/stat after the command: state then ppid. False when gone.
bool StatOf(pid_t pid, char* state, pid_t* ppid) {
  std::string stat = ReadProcFile(pid, "stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 4 > stat.size()) return false;
  std::istringstream rest(stat.substr(close + 2));
  long parent = 0;
  if (!(rest >> *state >> parent)) return false;
  *ppid = static_cast<pid_t>(parent);
  return true;
}

}  // namespace

absl::StatusOr<ExitedProcess> RunToExit(const std::vector<std::string>& argv,
                                        const std::string& output_path) {
  UniqueFd out(
      open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return ErrnoStatus(errno, "open", output_path);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, out.get(), 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, all_default;
  sigemptyset(&empty);
  sigemptyset(&all_default);
  for (int sig : {SIGPIPE, SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2})
    sigaddset(&all_default, sig);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all_default);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int err = posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return ErrnoStatus(err, "run", argv[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus(errno, "wait for", argv[0]);
  }
  ExitedProcess result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(output_path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  result.output = ss.str();
  return result;
}

bool ProcessAlive(pid_t pid) {
  char state = 0;
  pid_t ppid = 0;
  return pid > 0 && StatOf(pid, &state, &ppid) && state != 'Z' && state != 'X';
}

std::string ProcessTitle(pid_t pid) {
  std::string title = ReadProcFile(pid, "cmdline");
  while (!title.empty() && title.back() == '\0') title.pop_back();
  for (char& c : title) {
    if (c == '\0') c = ' ';
  }
  return title;
}

bool IsNginxMasterFor(pid_t pid, const std::string& conf_path) {
  if (!ProcessAlive(pid)) return false;
  const std::string title = ProcessTitle(pid);
  if (title.rfind("nginx: master process ", 0) != 0) return false;
  const std::string needle = absl::StrCat(" -c ", conf_path);
  for (size_t at = title.find(needle); at != std::string::npos; at = title.find(needle, at + 1)) {
    const size_t end = at + needle.size();
    if (end == title.size() || title[end] == ' ') return true;
  }
  return false;
}

std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> out;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    int child = 0;
    if (!absl::SimpleAtoi(e->d_name, &child)) continue;
    char state = 0;
    pid_t ppid = 0;
    if (StatOf(child, &state, &ppid) && ppid == pid && state != 'Z') out.push_back(child);
  }
  closedir(dir);
  return out;
}

std::vector<pid_t> ProcessesHoldingUnixSocket(const std::string& socket_path) {
  std::set<std::string> links;  // "socket:[INODE]"
  std::ifstream table("/proc/net/unix");
  std::string line;
  std::getline(table, line);  // the header
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string num, refs, proto, flags, type, st, inode, path;
    if ((fields >> num >> refs >> proto >> flags >> type >> st >> inode >> path) &&
        path == socket_path) {
      links.insert(absl::StrCat("socket:[", inode, "]"));
    }
  }
  std::vector<pid_t> out;
  if (links.empty()) return out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    const std::string fd_dir = absl::StrCat("/proc/", pid, "/fd");
    DIR* fds = opendir(fd_dir.c_str());
    if (fds == nullptr) continue;
    bool holds = false;
    while (dirent* f = readdir(fds)) {
      char target[64];
      ssize_t n = readlinkat(dirfd(fds), f->d_name, target, sizeof target - 1);
      if (n > 0 && links.count(std::string(target, static_cast<size_t>(n))) > 0) {
        holds = true;
        break;
      }
    }
    closedir(fds);
    if (holds) out.push_back(pid);
  }
  closedir(proc);
  return out;
}

}  // namespace tempa::deploy
