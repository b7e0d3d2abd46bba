#include <sys/stat.h>
#include "tests/support/temp_dir.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

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

int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  TEMPA_CHECK(fd >= 0, "socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  TEMPA_CHECK(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0, "bind failed");
  socklen_t len = sizeof(addr);
  TEMPA_CHECK(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0, "getsockname failed");
  close(fd);
  return ntohs(addr.sin_port);
}

void WriteFileOrDie(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  TEMPA_CHECK(out.good(), path.c_str());
}

}  // namespace tempa::testing
