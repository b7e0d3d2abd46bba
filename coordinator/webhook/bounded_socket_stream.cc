#include "coordinator/webhook/bounded_socket_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/time/clock.h"

namespace tempa::coordinator {
namespace {

void AddressOf(const sockaddr_storage& addr, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    port = ntohs(in6->sin6_port);
  }
  ip = text;
}

}  // namespace

BoundedSocketStream::BoundedSocketStream(int sock, size_t read_budget, absl::Time deadline,
                                         absl::Duration read_timeout, absl::Duration write_timeout)
    : sock_(sock),
      budget_(read_budget),
      deadline_(deadline),
      read_timeout_(read_timeout),
      write_timeout_(write_timeout) {}

bool BoundedSocketStream::Wait(short events, absl::Duration timeout) const {
  for (;;) {
    absl::Duration left = std::min(timeout, deadline_ - absl::Now());
    if (left <= absl::ZeroDuration()) return false;
    pollfd pfd{sock_, events, 0};
    int ms = static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(left)));
    int n = ::poll(&pfd, 1, ms);
    if (n > 0) return true;
    if (n == 0) {
      // A timeout: try again only if the deadline, not `timeout`, cut the wait short.
      if (timeout <= left) return false;
      continue;
    }
    if (errno != EINTR) return false;
  }
}

bool BoundedSocketStream::is_readable() const {
  return buffer_pos_ < buffer_len_ || Wait(POLLIN, read_timeout_);
}

bool BoundedSocketStream::is_writable() const { return Wait(POLLOUT, write_timeout_); }

ssize_t BoundedSocketStream::read(char* ptr, size_t size) {
  if (buffer_pos_ == buffer_len_) {
    if (budget_ == 0) {
      budget_exhausted_ = true;
      return -1;
    }
    if (!Wait(POLLIN, read_timeout_)) return -1;
    ssize_t n;
    do {
      n = ::recv(sock_, buffer_, std::min(sizeof(buffer_), budget_), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return n < 0 ? -1 : 0;
    budget_ -= static_cast<size_t>(n);
    buffer_pos_ = 0;
    buffer_len_ = static_cast<size_t>(n);
  }
  size_t n = std::min(size, buffer_len_ - buffer_pos_);
  std::memcpy(ptr, buffer_ + buffer_pos_, n);
  buffer_pos_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t BoundedSocketStream::write(const char* ptr, size_t size) {
  if (!Wait(POLLOUT, write_timeout_)) return -1;
  ssize_t n;
  do {
    n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

void BoundedSocketStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    AddressOf(addr, ip, port);
}

void BoundedSocketStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    AddressOf(addr, ip, port);
}

void BoundedSocketStream::LingeringShutdown(absl::Duration linger, size_t max_bytes) {
  ::shutdown(sock_, SHUT_WR);
  deadline_ = absl::Now() + linger;
  budget_ = max_bytes;
  char sink[4096];
  while (budget_ > 0 && Wait(POLLIN, linger)) {
    ssize_t n = ::recv(sock_, sink, std::min(sizeof(sink), budget_), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client closed (or failed): done
    budget_ -= static_cast<size_t>(n);
  }
}

}  // namespace tempa::coordinator
