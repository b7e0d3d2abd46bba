// tempa-netbridge: the network inside a build sandbox whose step may reach a few named hosts.
// The sandbox's network namespace has only loopback; this program listens there and carries
// each connection over the Unix socket of the worker's egress proxy (EgressProxy), which
// decides what may pass. It then runs the build command and exits with its status.
//   tempa-netbridge --socket PATH --proxy-port N [--forward HOST:PORT]... -- COMMAND [ARG]...
// --proxy-port: an HTTP proxy on 127.0.0.1:N (HTTP(S)_PROXY point here).
// --forward HOST:PORT: 127.0.0.1:PORT is a tunnel to HOST:PORT on the host (for loopback
// targets, which clients never send through a proxy).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "worker/sandbox/socket_relay.h"

namespace {

using tempa::sandbox_internal::ConnectUnix;
using tempa::sandbox_internal::ReadHttpHead;
using tempa::sandbox_internal::RelayUntilClosed;
using tempa::sandbox_internal::WriteAll;

struct Listener {
  int fd = -1;
  std::string tunnel_to;  // empty: the plain proxy port
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "tempa-netbridge: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(125);
}

int ListenLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd, 64) != 0) {
    Die("listen on 127.0.0.1:" + std::to_string(port));
  }
  return fd;
}

void Carry(int client, const std::string& socket_path, const std::string& tunnel_to) {
  int proxy = ConnectUnix(socket_path);
  bool ok = proxy >= 0;
  if (ok && !tunnel_to.empty()) {
    std::string head, rest;
    ok = WriteAll(proxy, "CONNECT " + tunnel_to + " HTTP/1.1\r\nHost: " + tunnel_to + "\r\n\r\n") &&
         ReadHttpHead(proxy, 1 << 16, head, rest) && head.compare(0, 12, "HTTP/1.1 200") == 0 &&
         (rest.empty() || WriteAll(client, rest));
  }
  if (ok) RelayUntilClosed(client, proxy);
  if (proxy >= 0) ::close(proxy);
  ::close(client);
}

void AcceptLoop(Listener listener, std::string socket_path) {
  while (true) {
    int client = ::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    try {
      std::thread(Carry, client, socket_path, listener.tunnel_to).detach();
    } catch (const std::system_error&) {
      ::close(client);  // out of threads (the build's process limit): drop this connection only
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path;
  std::vector<Listener> listeners;
  int i = 1;
  for (; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) Die("missing value for " + flag);
    std::string value = argv[++i];
    if (flag == "--socket") {
      socket_path = value;
    } else if (flag == "--proxy-port") {
      listeners.push_back({ListenLoopback(std::atoi(value.c_str())), ""});
    } else if (flag == "--forward") {
      size_t colon = value.rfind(':');
      if (colon == std::string::npos) Die("--forward wants HOST:PORT, got " + value);
      listeners.push_back({ListenLoopback(std::atoi(value.c_str() + colon + 1)), value});
    } else {
      errno = EINVAL;
      Die("unknown flag " + flag);
    }
  }
  if (socket_path.empty() || i + 1 >= argc) {
    errno = EINVAL;
    Die("usage: tempa-netbridge --socket PATH --proxy-port N [--forward HOST:PORT]... -- CMD");
  }
  for (const Listener& l : listeners) std::thread(AcceptLoop, l, socket_path).detach();

  pid_t child = ::fork();
  if (child < 0) Die("fork");
  if (child == 0) {
    ::execvp(argv[i + 1], argv + i + 1);
    std::fprintf(stderr, "tempa-netbridge: cannot run %s: %s\n", argv[i + 1], std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
