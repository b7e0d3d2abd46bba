// The fetcher over ssh:// against a real sshd on loopback: a key handed in memory, the host key
// checked against the request's known_hosts. Skipped when no sshd is installed (Debian:
// openssh-server; or TEMPA_TEST_SSHD=/path/to/sshd). sshd runs in bwrap with a private /run and
// an /etc/passwd that has its privilege-separation user, so the host needs neither.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/git/fetcher_test_util.h"

namespace tempa::worker {
namespace {

using testing::GitRepoBuilder;
using ::testing::HasSubstr;
using ::testing::Not;

std::string FindSshd() {
  const char* env = std::getenv("TEMPA_TEST_SSHD");
  for (std::string path : {env != nullptr ? std::string(env) : "", std::string("/usr/sbin/sshd")}) {
    if (!path.empty() && access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

// A key pair made by ssh-keygen at `path` (private) and `path`.pub.
void KeyGen(const std::string& path) {
  std::string cmd = absl::StrCat("ssh-keygen -q -t ed25519 -N '' -C tempa-test -f '", path, "'");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// "TYPE BASE64" of a .pub file.
std::string PublicKey(const std::string& pub_path) {
  std::vector<std::string> fields = absl::StrSplit(FetcherTest::Read(pub_path), ' ');
  return absl::StrCat(fields[0], " ", fields[1]);
}

class SshServer {
 public:
  SshServer(const std::string& sshd, const std::string& dir) : dir_(dir) {
    KeyGen(dir + "/host_key");
    KeyGen(dir + "/user_key");
    testing::WriteFileOrDie(dir + "/authorized_keys", PublicKey(dir + "/user_key.pub") + "\n");
    testing::WriteFileOrDie(dir + "/passwd", FetcherTest::Read("/etc/passwd") +
                                                 "sshd:x:64999:65534::/run/sshd:/bin/false\n");
    for (int attempt = 0; attempt < 5 && pid_ < 0; ++attempt) {
      port_ = testing::PickFreePort();
      testing::WriteFileOrDie(
          dir + "/sshd_config",
          absl::StrCat("Port ", port_, "\nListenAddress 127.0.0.1\nHostKey ", dir,
                       "/host_key\nAuthorizedKeysFile ", dir,
                       "/authorized_keys\nPermitRootLogin prohibit-password\n"
                       "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                       "StrictModes no\nPidFile none\n"));
      Start(sshd);
    }
  }
  ~SshServer() {
    if (pid_ > 0) {
      kill(-pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string KnownHostsLine() const {
    return absl::StrCat("[127.0.0.1]:", port_, " ", PublicKey(dir_ + "/host_key.pub"), "\n");
  }
  std::string UserKey() const { return FetcherTest::Read(dir_ + "/user_key"); }

 private:
  void Start(const std::string& sshd) {
    pid_t pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      int log = open((dir_ + "/sshd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      dup2(log, 1);
      dup2(log, 2);
      std::string passwd = dir_ + "/passwd";
      std::string config = dir_ + "/sshd_config";
      execl("/usr/bin/bwrap", "bwrap", "--dev-bind", "/", "/", "--bind", passwd.c_str(),
            "/etc/passwd", "--tmpfs", "/run", "--dir", "/run/sshd", sshd.c_str(), "-D", "-e", "-f",
            config.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    setpgid(pid, pid);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid, nullptr, WNOHANG) == pid) return;
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(port_));
      bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      close(fd);
      if (ok) {
        pid_ = pid;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(-pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

class SshFetchTest : public FetcherTest {
 protected:
  void SetUp() override {
    std::string sshd = FindSshd();
    if (sshd.empty()) GTEST_SKIP() << "no sshd (install openssh-server or set TEMPA_TEST_SSHD)";
    if (geteuid() != 0 || access("/usr/bin/bwrap", X_OK) != 0) {
      GTEST_SKIP() << "the test sshd needs root and bwrap";
    }
    ASSERT_EQ(mkdir(tmp_.Join("ssh").c_str(), 0700), 0);
    server_ = std::make_unique<SshServer>(sshd, tmp_.Join("ssh"));
    ASSERT_TRUE(server_->running()) << Read(tmp_.Join("ssh/sshd.log"));
    repo_ = std::make_unique<GitRepoBuilder>(tmp_.Join("repos/app"));
    repo_->WriteFile("f", "over ssh");
    head_ = repo_->Commit("one");
    url_ = absl::StrCat("ssh://root@127.0.0.1:", server_->port(), repo_->path());
  }

  std::unique_ptr<SshServer> server_;
  std::unique_ptr<GitRepoBuilder> repo_;
  std::string head_;
  std::string url_;
};

TEST_F(SshFetchTest, FetchesWithAKeyFromMemoryAfterCheckingTheHostKey) {
  FetchRequest request = Request(url_, "main");
  request.auth.ssh_private_key = server_->UserKey();
  request.auth.ssh_known_hosts = server_->KnownHostsLine();
  auto result = fetcher_->Fetch(request);
  ASSERT_TRUE(result.ok()) << result.status() << "\n" << Read(tmp_.Join("ssh/sshd.log"));
  EXPECT_EQ(result->commit, head_);
  EXPECT_EQ(Read(request.checkout_dir + "/f"), "over ssh");
  auto sha = fetcher_->ResolveBranch(url_, "main", request.auth);
  ASSERT_TRUE(sha.ok()) << sha.status();
  EXPECT_EQ(*sha, head_);
}

TEST_F(SshFetchTest, AnotherHostKeyIsRefused) {
  KeyGen(tmp_.Join("ssh/impostor"));
  FetchRequest request = Request(url_, "main");
  request.auth.ssh_private_key = server_->UserKey();
  request.auth.ssh_known_hosts = absl::StrCat("[127.0.0.1]:", server_->port(), " ",
                                              PublicKey(tmp_.Join("ssh/impostor.pub")), "\n");
  auto result = fetcher_->Fetch(request);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("does not match known_hosts"));
}

TEST_F(SshFetchTest, UnauthorizedKeyIsRefusedAndNeverShown) {
  KeyGen(tmp_.Join("ssh/stranger"));
  std::string key = Read(tmp_.Join("ssh/stranger"));
  FetchRequest request = Request(url_, "main");
  request.auth.ssh_private_key = key;
  request.auth.ssh_known_hosts = server_->KnownHostsLine();
  auto result = fetcher_->Fetch(request);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << result.status();
  std::string key_body = key.substr(40, 40);  // a piece of the base64 body
  EXPECT_THAT(result.status().message(), Not(HasSubstr(key_body)));
  for (const std::string& line : Logs()) EXPECT_THAT(line, Not(HasSubstr(key_body)));
}

}  // namespace
}  // namespace tempa::worker
