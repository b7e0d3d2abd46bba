#include "tests/support/temp_dir.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace tempa::testing {

TempDir::TempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  TEMPA_CHECK(mkdtemp(buf.data()) != nullptr, "mkdtemp failed");
  // Searchable by the sandbox's unprivileged build user, which mounts paths below it.
  chmod(buf.data(), 0755);
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

// Binds 127.0.0.1:port (0: any), without SO_REUSEADDR so a socket in TIME_WAIT counts as taken,
// and releases it: the port bound, or 0 when it was taken.
int BindAndRelease(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  TEMPA_CHECK(fd >= 0, "socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof(addr);
  bool bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
               getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  return bound ? ntohs(addr.sin_port) : 0;
}

// The lowest port of the kernel's ephemeral range, which outgoing connections draw from.
int EphemeralRangeStart() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  in >> low;
  return in ? low : 32768;
}

// ${TMPDIR:-/tmp}/tempa-test-ports-UID, made 0700; "" when it is not this user's private directory.
std::string ReservationDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/tempa-test-ports-", getuid());
  mkdir(dir.c_str(), 0700);
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
      (st.st_mode & 077) != 0) {
    return "";
  }
  return dir;
}

// Locks `port` for the rest of this process's life, against every other test process of this
// user: a daemon restarted on its port leaves it unbound for a while, and no other test may pick
// it then. False when another process holds it; true when there is no usable directory.
bool ReserveAcrossProcesses(int port) {
  static const std::string dir = ReservationDir();
  if (dir.empty()) return true;
  int fd =
      open(absl::StrCat(dir, "/", port).c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return true;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return false;
  }
  return true;  // the descriptor stays open: the lock ends with the process
}

}  // namespace

int PickFreePort() {
  // A port from bind(0) lies in the ephemeral range, which every connect() on the machine also
  // draws from: between this pick and the daemon's bind, a parallel test's outgoing connection
  // can take it (seen in CI as "address already in use"). Below that range only listeners live,
  // so pick there at random, never handing out a port another running test process holds. The
  // deployer's default app ports (20000-29999, which deploy tests use too) are left alone.
  static std::mutex mu;
  static std::set<int> handed_out;
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(getpid()));
  constexpr int kLowest = 10000;
  const int below = EphemeralRangeStart();
  std::lock_guard<std::mutex> lock(mu);
  if (below - kLowest >= 1000) {
    std::uniform_int_distribution<int> pick(kLowest, below - 1);
    for (int attempt = 0; attempt < 1000; ++attempt) {
      int port = pick(rng);
      if ((port >= 20000 && port < 30000) || !handed_out.insert(port).second ||
          !ReserveAcrossProcesses(port) || BindAndRelease(port) == 0) {
        continue;
      }
      return port;
    }
  }
  // An unusual ephemeral range: let the kernel choose.
  int port = BindAndRelease(0);
  TEMPA_CHECK(port != 0, "bind failed");
  return port;
}

void WriteFileOrDie(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  TEMPA_CHECK(out.good(), path.c_str());
}

}  // namespace tempa::testing
