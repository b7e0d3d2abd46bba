#include "tests/support/git_repo_builder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/check.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {
namespace {

std::vector<std::string> GitEnv(int commit_index) {
  std::string date = absl::StrCat(1700000000 + 60 * commit_index, " +0000");
  std::vector<std::string> env = {"GIT_AUTHOR_NAME=Tempa Test",
                                  "GIT_AUTHOR_EMAIL=test@tempa.invalid",
                                  "GIT_COMMITTER_NAME=Tempa Test",
                                  "GIT_COMMITTER_EMAIL=test@tempa.invalid",
                                  "GIT_AUTHOR_DATE=" + date,
                                  "GIT_COMMITTER_DATE=" + date,
                                  "GIT_CONFIG_NOSYSTEM=1",
                                  "GIT_CONFIG_GLOBAL=/dev/null",
                                  "HOME=/nonexistent",
                                  "PATH=/usr/local/bin:/usr/bin:/bin",
                                  "GIT_TERMINAL_PROMPT=0",
                                  "LC_ALL=C"};
  return env;
}

std::string RunGitWithEnv(const std::string& dir, const std::vector<std::string>& args,
                          const std::string& input, const std::vector<std::string>& env) {
  int out_pipe[2];
  int in_pipe[2];
  TEMPA_CHECK(pipe2(out_pipe, O_CLOEXEC) == 0 && pipe2(in_pipe, O_CLOEXEC) == 0, "pipe");
  pid_t pid = fork();
  TEMPA_CHECK(pid >= 0, "fork");
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    std::vector<std::string> argv_s = {"git", "-C", dir};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s = env;
    std::vector<char*> envp;
    for (std::string& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    execve("/usr/bin/git", argv.data(), envp.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  // Inputs are small (mktree lines, blobs in tests): written before reading the output.
  size_t off = 0;
  while (off < input.size()) {
    ssize_t n = write(in_pipe[1], input.data() + off, input.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  close(in_pipe[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(out_pipe[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "git -C %s %s failed\n", dir.c_str(), absl::StrJoin(args, " ").c_str());
    std::abort();
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

std::string RunGit(const std::string& dir, const std::vector<std::string>& args,
                   const std::string& input) {
  return RunGitWithEnv(dir, args, input, GitEnv(0));
}

GitRepoBuilder::GitRepoBuilder(std::string dir, std::string branch, bool bare)
    : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
  std::vector<std::string> args = {"init", "-q", "-b", branch};
  if (bare) args.push_back("--bare");
  Git(args);
}

std::string GitRepoBuilder::Git(const std::vector<std::string>& args,
                                const std::string& input) const {
  return RunGitWithEnv(dir_, args, input, GitEnv(commits_));
}

void GitRepoBuilder::WriteFile(const std::string& relative, const std::string& contents,
                               bool executable) {
  std::string path = dir_ + "/" + relative;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  WriteFileOrDie(path, contents);
  TEMPA_CHECK(chmod(path.c_str(), executable ? 0755 : 0644) == 0, path.c_str());
}

void GitRepoBuilder::Symlink(const std::string& relative, const std::string& target) {
  std::string path = dir_ + "/" + relative;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  TEMPA_CHECK(symlink(target.c_str(), path.c_str()) == 0, path.c_str());
}

void GitRepoBuilder::Remove(const std::string& relative) { Git({"rm", "-rq", relative}); }

std::string GitRepoBuilder::Commit(const std::string& message) {
  ++commits_;
  Git({"add", "-A"});
  Git({"commit", "-q", "--allow-empty", "-m", message});
  return Head();
}

void GitRepoBuilder::Branch(const std::string& name) { Git({"branch", name}); }
void GitRepoBuilder::Checkout(const std::string& name) { Git({"checkout", "-q", name}); }
std::string GitRepoBuilder::Head() const { return Git({"rev-parse", "HEAD"}); }

void GitRepoBuilder::AddSubmodule(const std::string& url, const std::string& relative) {
  Git({"-c", "protocol.file.allow=always", "submodule", "add", "-q", url, relative});
}

std::string GitRepoBuilder::WriteBlob(const std::string& contents) {
  return Git({"hash-object", "-w", "--stdin"}, contents);
}

std::string GitRepoBuilder::CommitTree(const std::string& mktree_input,
                                       const std::string& message) {
  ++commits_;
  std::string tree = Git({"mktree", "--missing"}, mktree_input);
  std::vector<std::string> args = {"commit-tree", tree, "-m", message};
  std::string branch_ref = Git({"symbolic-ref", "HEAD"});
  std::string head = Git({"for-each-ref", "--format=%(objectname)", branch_ref});
  if (!head.empty()) {
    args.push_back("-p");
    args.push_back(head);
  }
  std::string commit = Git(args);
  Git({"update-ref", "HEAD", commit});
  return commit;
}

GitDaemon::GitDaemon(std::string base_path) : base_path_(std::move(base_path)) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    port_ = PickFreePort();
    pid_ = fork();
    TEMPA_CHECK(pid_ >= 0, "fork");
    if (pid_ == 0) {
      setpgid(0, 0);
      int devnull = open("/dev/null", O_RDWR);
      dup2(devnull, 0);
      std::string base = "--base-path=" + base_path_;
      std::string port = absl::StrCat("--port=", port_);
      execl("/usr/bin/git", "git", "daemon", "--reuseaddr", "--export-all", base.c_str(),
            "--listen=127.0.0.1", port.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    setpgid(pid_, pid_);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;  // exited (port taken?): try another port
      }
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(port_));
      bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      close(fd);
      if (ok) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  TEMPA_CHECK(false, "git daemon did not start");
}

GitDaemon::~GitDaemon() {
  if (pid_ > 0) {
    kill(-pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

std::string GitDaemon::Url(const std::string& name) const {
  return absl::StrCat("git://127.0.0.1:", port_, "/", name);
}

}  // namespace tempa::testing
