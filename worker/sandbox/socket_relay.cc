#include "worker/sandbox/socket_relay.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tempa::sandbox_internal {
namespace {

// A host that never answers must not hold a build (or the proxy's shutdown) for the kernel's
// two-minute connect timeout.
constexpr int kConnectTimeoutMs = 15000;  // for all of a name's addresses together
constexpr int kMaxAddresses = 4;

bool ConnectWithin(int fd, const sockaddr* addr, socklen_t len, int timeout_ms) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, addr, len);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int ready;
    do {
      ready = ::poll(&p, 1, timeout_ms);
    } while (ready < 0 && errno == EINTR);
    int err = ETIMEDOUT;
    socklen_t err_len = sizeof(err);
    if (ready > 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
    errno = err;
    rc = err == 0 ? 0 : -1;
  }
  ::fcntl(fd, F_SETFL, flags);
  return rc == 0;
}

}  // namespace

void RelayUntilClosed(int a, int b) {
  bool a_open = true;  // a still sends
  bool b_open = true;
  char buf[1 << 15];
  while (a_open || b_open) {
    // A closed direction is not polled at all: POLLHUP would otherwise wake us forever.
    pollfd fds[2] = {{a_open ? a : -1, POLLIN, 0}, {b_open ? b : -1, POLLIN, 0}};
    int ready = ::poll(fds, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return;
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int from = i == 0 ? a : b;
      int to = i == 0 ? b : a;
      ssize_t n = ::read(from, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n < 0) return;  // a reset: nothing more will flow either way
        ::shutdown(to, SHUT_WR);
        (i == 0 ? a_open : b_open) = false;
        continue;
      }
      if (!WriteAll(to, std::string(buf, static_cast<size_t>(n)))) return;
    }
  }
}

bool ReadHttpHead(int fd, size_t max_bytes, std::string& head, std::string& rest,
                  int timeout_ms) {
  std::string data;
  char buf[4096];
  while (data.size() < max_bytes) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;  // a client that says nothing does not hold a thread forever
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.append(buf, static_cast<size_t>(n));
    size_t end = data.find("\r\n\r\n");
    if (end != std::string::npos) {
      head = data.substr(0, end + 4);
      rest = data.substr(end + 4);
      return true;
    }
  }
  return false;
}

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOTSOCK) n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

int ConnectTcp(const std::string& host, int port, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    error = std::string("cannot resolve ") + host + ": " + ::gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  int last_error = ECONNREFUSED;
  int tried = 0;
  const int per_address_ms = kConnectTimeoutMs / kMaxAddresses;
  for (addrinfo* ai = found; ai != nullptr && tried < kMaxAddresses; ai = ai->ai_next, ++tried) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (ConnectWithin(fd, ai->ai_addr, ai->ai_addrlen, per_address_ms)) break;
    last_error = errno;
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(found);
  if (fd < 0) error = std::strerror(last_error);
  return fd;
}

int ConnectUnix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

}  // namespace tempa::sandbox_internal
