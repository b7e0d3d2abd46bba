#include "worker/sandbox/egress_proxy.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "worker/sandbox/socket_relay.h"

namespace tempa {
namespace {

using sandbox_internal::ConnectTcp;
using sandbox_internal::ReadHttpHead;
using sandbox_internal::RelayUntilClosed;
using sandbox_internal::WriteAll;

constexpr size_t kMaxHead = 64 << 10;

// "host:port", "[v6]:port" or "host" (then `default_port`). False when malformed.
bool SplitHostPort(absl::string_view authority, int default_port, std::string& host, int& port) {
  size_t at = authority.rfind('@');
  if (at != absl::string_view::npos) authority.remove_prefix(at + 1);
  absl::string_view port_text;
  if (absl::StartsWith(authority, "[")) {
    size_t close = authority.find(']');
    if (close == absl::string_view::npos) return false;
    host = std::string(authority.substr(1, close - 1));
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':') return false;
    if (!after.empty()) port_text = after.substr(1);
  } else {
    size_t colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) port_text = authority.substr(colon + 1);
  }
  port = default_port;
  if (!port_text.empty() && (!absl::SimpleAtoi(port_text, &port) || port <= 0 || port > 65535)) {
    return false;
  }
  return !host.empty() && port > 0;
}

std::string Reply(int code, absl::string_view reason, absl::string_view body) {
  return absl::StrCat("HTTP/1.1 ", code, " ", reason,
                      "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
                      "Content-Length: ",
                      body.size(), "\r\n\r\n", body);
}

// The request head re-addressed to the origin server: origin-form target, the target's Host,
// no hop-by-hop proxy headers, and "Connection: close": the server answers this one request.
std::string OriginHead(absl::string_view method, absl::string_view path, absl::string_view version,
                       absl::string_view authority, absl::string_view head) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  std::string out = absl::StrCat(method, " ", path, " ", version, "\r\nHost: ", authority, "\r\n");
  for (size_t i = 1; i < lines.size(); ++i) {
    absl::string_view line = lines[i];
    if (line.empty()) continue;
    std::string name = absl::AsciiStrToLower(line.substr(0, line.find(':')));
    // Host is the target's (a build cannot reach another virtual host of the same server).
    if (name == "host" || name == "connection" || name == "proxy-connection" ||
        name == "proxy-authorization" || name == "keep-alive") {
      continue;
    }
    absl::StrAppend(&out, line, "\r\n");
  }
  absl::StrAppend(&out, "Connection: close\r\n\r\n");
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EgressProxy>> EgressProxy::Start(
    const std::string& socket_path, std::vector<NetworkTarget> allowed,
    std::optional<gid_t> group) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("egress proxy socket path too long: ", socket_path));
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      (group && ::chown(socket_path.c_str(), static_cast<uid_t>(-1), *group) != 0) ||
      ::chmod(socket_path.c_str(), group ? 0660 : 0600) != 0 || ::listen(fd, 64) != 0) {
    int err = errno;
    if (fd >= 0) ::close(fd);
    return absl::InternalError(
        absl::StrCat("cannot listen on ", socket_path, ": ", std::strerror(err)));
  }
  int stop[2];
  if (::pipe2(stop, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(fd);
    return absl::InternalError(absl::StrCat("egress proxy: pipe: ", std::strerror(err)));
  }
  return std::unique_ptr<EgressProxy>(new EgressProxy(fd, stop, std::move(allowed)));
}

EgressProxy::EgressProxy(int listen_fd, int stop_fd[2], std::vector<NetworkTarget> allowed)
    : listen_fd_(listen_fd),
      stop_read_(stop_fd[0]),
      stop_write_(stop_fd[1]),
      allowed_(std::move(allowed)),
      acceptor_([this] { AcceptLoop(); }) {}

EgressProxy::~EgressProxy() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  (void)::write(stop_write_, "x", 1);
  acceptor_.join();
  {
    // Connection threads are detached; each signals when it is done with `this`.
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return active_ == 0; });
  }
  ::close(listen_fd_);
  ::close(stop_read_);
  ::close(stop_write_);
}

void EgressProxy::AcceptLoop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_read_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      // Out of fds (EMFILE) and the like: wait a little rather than spin, but stop promptly.
      if (errno != EINTR && errno != ECONNABORTED) {
        pollfd stop{stop_read_, POLLIN, 0};
        if (::poll(&stop, 1, 50) > 0) return;
      }
      continue;
    }
    bool busy = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        ::close(client);
        return;
      }
      busy = active_ >= kMaxConnections;
      if (!busy) {
        ++active_;
        open_fds_.insert(client);
      }
    }
    if (busy) {
      WriteAll(client, Reply(503, "Service Unavailable",
                             "tempa egress proxy: too many connections from this build step\n"));
      ::close(client);
      continue;
    }
    try {
      std::thread([this, client] { Serve(client); }).detach();
    } catch (const std::system_error&) {
      std::lock_guard<std::mutex> lock(mu_);
      open_fds_.erase(client);
      ::close(client);
      if (--active_ == 0) idle_.notify_all();
    }
  }
}

bool EgressProxy::Allowed(const std::string& host, int port) const {
  for (const NetworkTarget& t : allowed_) {
    if (t.port == port && absl::EqualsIgnoreCase(t.host, host)) return true;
  }
  return false;
}

std::string EgressProxy::AllowedList() const {
  return absl::StrJoin(allowed_, ", ", [](std::string* out, const NetworkTarget& t) {
    absl::StrAppend(out, t.host, ":", t.port);
  });
}

void EgressProxy::Record(std::set<std::string>& set, std::string item) {
  std::lock_guard<std::mutex> lock(mu_);
  if (set.size() < kMaxRecorded) set.insert(std::move(item));
}

void EgressProxy::Serve(int client) {
  int upstream = -1;
  Handle(client, upstream);
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : {client, upstream}) {
    if (fd < 0) continue;
    open_fds_.erase(fd);
    ::close(fd);
  }
  if (--active_ == 0) idle_.notify_all();
}

void EgressProxy::Handle(int client, int& upstream) {
  std::string head, rest;
  if (!ReadHttpHead(client, kMaxHead, head, rest)) return;
  std::vector<absl::string_view> request_line =
      absl::StrSplit(absl::string_view(head).substr(0, head.find("\r\n")), ' ');
  if (request_line.size() != 3) {
    WriteAll(client, Reply(400, "Bad Request", "tempa egress proxy: malformed request line\n"));
    return;
  }
  const bool tunnel = request_line[0] == "CONNECT";
  absl::string_view target = request_line[1];
  std::string path = "/";
  if (!tunnel) {
    if (!absl::StartsWithIgnoreCase(target, "http://")) {
      WriteAll(client, Reply(400, "Bad Request",
                             "tempa egress proxy: only CONNECT and http:// requests\n"));
      return;
    }
    target.remove_prefix(7);
    size_t slash = target.find_first_of("/?");
    if (slash != absl::string_view::npos) {
      path = std::string(target.substr(slash));
      if (path[0] == '?') path = "/" + path;
      target = target.substr(0, slash);
    }
    if (size_t at = target.rfind('@'); at != absl::string_view::npos) target.remove_prefix(at + 1);
  }
  std::string host;
  int port = 0;
  if (!SplitHostPort(target, tunnel ? 443 : 80, host, port)) {
    WriteAll(client, Reply(400, "Bad Request", "tempa egress proxy: malformed target\n"));
    return;
  }
  std::string name = absl::StrCat(host, ":", port);
  if (!Allowed(host, port)) {
    Record(refused_, name);
    WriteAll(client, Reply(403, "Forbidden",
                           absl::StrCat("tempa: ", name,
                                        " is not named in the build env; this build step may "
                                        "reach only ",
                                        AllowedList(), "\n")));
    return;
  }
  std::string why;
  int fd = ConnectTcp(host, port, why);
  if (fd < 0) {
    Record(unreachable_, absl::StrCat(name, ": ", why));
    WriteAll(client, Reply(502, "Bad Gateway", absl::StrCat("tempa: cannot reach ", name, ": ",
                                                            why, "\n")));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    upstream = fd;  // Serve closes it from here on
    if (stopping_) return;
    open_fds_.insert(fd);  // so that stopping cuts the tunnel
  }
  bool sent = tunnel ? WriteAll(client, "HTTP/1.1 200 Connection established\r\n\r\n")
                     : WriteAll(upstream, OriginHead(request_line[0], path, request_line[2],
                                                     target, head));
  if (sent && !rest.empty()) sent = WriteAll(upstream, rest);
  if (sent) RelayUntilClosed(client, upstream);
}

std::vector<std::string> EgressProxy::Refused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {refused_.begin(), refused_.end()};
}

std::vector<std::string> EgressProxy::Unreachable() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {unreachable_.begin(), unreachable_.end()};
}

}  // namespace tempa
