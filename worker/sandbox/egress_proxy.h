// EgressProxy: the only way out of a sandbox whose command may reach a few named hosts. It
// listens on a Unix socket (bind-mounted into the sandbox, whose own network namespace has only
// loopback) and speaks just enough of an HTTP proxy: CONNECT host:port tunnels, and requests in
// absolute form (GET http://host/...) forwarded as origin-form, with the Host header set to the
// target and "Connection: close" (so a connection never serves a second host). No Debian
// library offers a forward proxy; this is the minimum the package tools need. A
// target not on the allow list gets a 403 naming it and the hosts the step may reach, and is
// recorded so the build's log can say what was refused.
#pragma once

#include <condition_variable>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/sandbox/sandbox.h"

namespace tempa {

class EgressProxy {
 public:
  // Listens on a new socket at `socket_path`, usable only by this process's user, and by the
  // group `group` when set (the build user's, when builds run as another uid).
  static absl::StatusOr<std::unique_ptr<EgressProxy>> Start(
      const std::string& socket_path, std::vector<NetworkTarget> allowed,
      std::optional<gid_t> group = std::nullopt);
  // Stops listening, cuts open tunnels and waits for their threads.
  ~EgressProxy();
  EgressProxy(const EgressProxy&) = delete;
  EgressProxy& operator=(const EgressProxy&) = delete;

  // Connections served at once; more get a 503 (a build cannot exhaust the worker's threads).
  static constexpr int kMaxConnections = 64;
  static constexpr size_t kMaxRecorded = 100;

  // "host:port" of every refused target, sorted, once each (at most kMaxRecorded).
  std::vector<std::string> Refused() const;
  // Targets that were allowed but could not be connected to ("host:port: reason").
  std::vector<std::string> Unreachable() const;

 private:
  EgressProxy(int listen_fd, int stop_fd[2], std::vector<NetworkTarget> allowed);
  void AcceptLoop();
  void Serve(int client);
  // The request on `client`; sets `upstream` once connected. Serve closes both.
  void Handle(int client, int& upstream);
  void Record(std::set<std::string>& set, std::string item);
  bool Allowed(const std::string& host, int port) const;
  std::string AllowedList() const;

  const int listen_fd_;
  const int stop_read_;
  const int stop_write_;
  const std::vector<NetworkTarget> allowed_;
  std::thread acceptor_;

  mutable std::mutex mu_;
  std::condition_variable idle_;  // signalled when active_ drops to 0
  int active_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<int> open_fds_ ABSL_GUARDED_BY(mu_);  // client and upstream sockets, cut on stop
  std::set<std::string> refused_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> unreachable_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tempa
