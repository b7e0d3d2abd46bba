#include "worker/sandbox/sandbox_egress.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tempa::sandbox_internal {
namespace {

namespace fs = std::filesystem;

constexpr char kSandboxRuntime[] = "/run/tempa-egress";

// Clients never send loopback through a proxy (Go refuses to), so loopback targets get a
// tunnel on the same port inside the sandbox instead.
bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || absl::EqualsIgnoreCase(host, "localhost");
}

}  // namespace

std::string DefaultNetbridgePath() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) candidates.push_back(self.parent_path() / "tempa-netbridge");
  candidates.push_back("/usr/lib/tempa/tempa-netbridge");
  candidates.push_back("/usr/local/lib/tempa/tempa-netbridge");
  for (const fs::path& p : candidates) {
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return candidates.front().string();
}

absl::StatusOr<std::unique_ptr<EgressSession>> EgressSession::Start(
    const SandboxCommand& command, const std::string& netbridge,
    const std::string& runtime_parent, std::optional<gid_t> build_group) {
  if (::access(netbridge.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this build step may reach ", command.egress.size(),
        " named host(s), which needs tempa-netbridge, but ", netbridge, " is missing (",
        std::strerror(errno), "); install it next to the tempa binary"));
  }
  for (const NetworkTarget& t : command.egress) {
    if (IsLoopback(t.host) && t.port < 1024) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the build env names ", t.host, ":", t.port,
          ", but a build step can reach services on the worker's loopback only on ports 1024 "
          "and up; serve it on a higher port"));
    }
  }
  std::unique_ptr<EgressSession> session(new EgressSession());
  std::string tmpl = runtime_parent + "/tempa-egress-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot make the build's network directory under ",
                                            runtime_parent, ": ", std::strerror(errno)));
  }
  session->runtime_dir_ = tmpl;  // removed with the session from here on
  if (::chmod(tmpl.c_str(), 0755) != 0) {
    return absl::InternalError(absl::StrCat("chmod ", tmpl, ": ", std::strerror(errno)));
  }
  std::error_code ec;
  fs::copy_file(netbridge, tmpl + "/netbridge", ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot copy ", netbridge, ": ", ec.message()));
  }
  fs::permissions(tmpl + "/netbridge", fs::perms(0755), ec);
  absl::StatusOr<std::unique_ptr<EgressProxy>> proxy =
      EgressProxy::Start(tmpl + "/proxy.sock", command.egress, build_group);
  if (!proxy.ok()) return proxy.status();
  session->proxy_ = *std::move(proxy);

  std::set<int> forwarded;
  std::vector<std::string> forwards;
  for (const NetworkTarget& t : command.egress) {
    if (IsLoopback(t.host) && forwarded.insert(t.port).second) {
      forwards.push_back(absl::StrCat(t.host, ":", t.port));
    }
  }
  int proxy_port = kDefaultProxyPort;
  while (forwarded.count(proxy_port)) ++proxy_port;

  SandboxCommand& wrapped = session->command_;
  wrapped = command;
  wrapped.egress.clear();
  wrapped.network = false;
  // Read-only: connecting to a socket needs no write access to its file system.
  wrapped.mounts.push_back({tmpl, kSandboxRuntime, false});
  std::string sandbox_dir = kSandboxRuntime;
  wrapped.argv = {sandbox_dir + "/netbridge", "--socket", sandbox_dir + "/proxy.sock",
                  "--proxy-port", std::to_string(proxy_port)};
  for (const std::string& f : forwards) wrapped.argv.insert(wrapped.argv.end(), {"--forward", f});
  wrapped.argv.push_back("--");
  wrapped.argv.insert(wrapped.argv.end(), command.argv.begin(), command.argv.end());
  std::string proxy_url = absl::StrCat("http://127.0.0.1:", proxy_port);
  for (const char* name : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"}) {
    wrapped.env[name] = proxy_url;
  }
  for (const char* name : {"NO_PROXY", "no_proxy"}) wrapped.env[name] = "localhost,127.0.0.1";
  return session;
}

EgressSession::~EgressSession() {
  proxy_.reset();
  if (!runtime_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(runtime_dir_, ec);
  }
}

std::vector<std::string> EgressSession::Notes() const {
  std::vector<std::string> notes;
  if (!proxy_) return notes;
  std::vector<std::string> refused = proxy_->Refused();
  if (!refused.empty()) {
    constexpr size_t kShown = 10;
    std::string more = refused.size() > kShown
                           ? absl::StrCat(" and ", refused.size() - kShown, " more")
                           : "";
    refused.resize(std::min(refused.size(), kShown));
    notes.push_back(absl::StrCat(
        "tempa: refused connections to ", absl::StrJoin(refused, ", "), more,
        ": a build step may reach only the hosts its build env names (PIP_INDEX_URL, "
        "PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS, GOPROXY, CARGO_REGISTRIES_*, TEMPA_ALLOW_HOSTS)"));
  }
  for (const std::string& u : proxy_->Unreachable()) {
    notes.push_back(absl::StrCat("tempa: could not reach ", u));
  }
  return notes;
}

}  // namespace tempa::sandbox_internal
