#include "deploy/local/port_allocator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "common/posix_status.h"

namespace tempa::deploy {

// Starts at a random port of the range: two deployers on one machine (which the local backend
// does not expect, but tests do) then rarely pick the same free port at the same moment.
PortAllocator::PortAllocator(int first, int last) : first_(first), last_(last), next_(first) {
  if (first_ >= 1 && first_ < last_) {
    next_ = first_ + static_cast<int>(std::random_device{}() % (last_ - first_ + 1));
  }
}

bool PortAllocator::Bindable(int port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
}

absl::StatusOr<int> PortAllocator::Allocate() {
  absl::MutexLock lock(&mu_);
  if (first_ < 1 || last_ > 65535 || first_ > last_) {
    return absl::InvalidArgumentError(
        absl::StrCat("container port range ", first_, "-", last_, " is not a range of TCP ports"));
  }
  const int count = last_ - first_ + 1;
  for (int i = 0; i < count; ++i) {
    int port = next_;
    next_ = next_ == last_ ? first_ : next_ + 1;
    if (held_.count(port) != 0 || !Bindable(port)) continue;
    held_.insert(port);
    return port;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("no free loopback port in ", first_, "-", last_,
                   " for the new container: stop unused releases or widen the range "
                   "(--first-port/--last-port)"));
}

bool PortAllocator::Hold(int port) {
  absl::MutexLock lock(&mu_);
  if (held_.count(port) != 0) return false;
  held_.insert(port);
  return true;
}

bool PortAllocator::Claim(int port) {
  absl::MutexLock lock(&mu_);
  if (port < first_ || port > last_ || held_.count(port) != 0 || !Bindable(port)) return false;
  held_.insert(port);
  return true;
}

void PortAllocator::Release(int port) {
  absl::MutexLock lock(&mu_);
  held_.erase(port);
}

bool PortAllocator::IsHeld(int port) const {
  absl::MutexLock lock(&mu_);
  return held_.count(port) != 0;
}

}  // namespace tempa::deploy
