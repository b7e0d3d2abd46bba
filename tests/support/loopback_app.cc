#include "tests/support/loopback_app.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {

std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) response.append(buf, n);
    }
  }
  close(fd);
  return response;
}

absl::StatusOr<AppAnswers> RunAppAndGet(const std::string& binary) {
  int port = PickFreePort();
  std::string exe = binary;
  std::string port_env = absl::StrCat("PORT=", port);
  char* argv[] = {exe.data(), nullptr};
  char* envp[] = {port_env.data(), nullptr};
  pid_t pid;
  if (int rc = posix_spawn(&pid, binary.c_str(), nullptr, nullptr, argv, envp); rc != 0) {
    return absl::InternalError(absl::StrCat("start ", binary, ": ", strerror(rc)));
  }
  AppAnswers answers;
  for (int i = 0; i < 100 && answers.root.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    answers.root = HttpGet(port, "/");
  }
  answers.health = HttpGet(port, "/healthz");
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  return answers;
}

}  // namespace tempa::testing
