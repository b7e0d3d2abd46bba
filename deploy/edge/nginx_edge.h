// NginxEdge: the Edge as an nginx master of our own, configured from a directory it owns
// (WORK_DIR/edge: nginx.conf 0600, pid, logs, temp dirs, a control socket). Apply writes the whole
// config atomically, has `nginx -t` check it, then starts nginx or reloads it (SIGHUP: old
// workers finish their requests) and returns once the new config answers. A config nginx refuses
// leaves the old one live. A new NginxEdge adopts the nginx its pid file names when that process is
// really ours, so the deployer can restart without dropping traffic.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "deploy/edge/edge.h"
#include "deploy/edge/nginx_config.h"

namespace tempa::deploy {

struct NginxEdgeOptions {
  std::string work_dir;                   // the deployer's; the edge uses WORK_DIR/edge
  std::string listen = "127.0.0.1:8080";  // HOST:PORT of the public listener
  bool tls = false;
  std::string cert_path;             // PEM chain (leaf first), when tls (see tls_material.h)
  std::string key_path;              // its PEM key
  std::string http_redirect_listen;  // HOST:PORT answering 308 to https; optional, tls only
  std::string nginx_binary = "/usr/sbin/nginx";
  std::string worker_user = "nobody";  // nginx's master runs as root, its workers as this
  std::string worker_group = "nogroup";
  int worker_processes = 2;
  absl::Duration apply_timeout = absl::Seconds(30);  // start/reload until the config is live
  // An apply moves access.log past this size to access.log.1 (replacing it); nginx opens a new
  // one as it loads the config.
  int64_t rotate_access_log_bytes = 64 << 20;
};

class NginxEdge : public Edge {
 public:
  // Checks the options, makes WORK_DIR/edge and adopts a running nginx of ours (from its pid file).
  // Starts nothing: the first Apply does.
  static absl::StatusOr<std::unique_ptr<NginxEdge>> Create(NginxEdgeOptions options);
  ~NginxEdge() override = default;  // nginx keeps serving: call Stop() to stop it

  absl::Status Apply(const std::vector<Route>& routes) override;
  std::string UrlFor(const std::string& host) const override;

  // Stops nginx gracefully (SIGQUIT; requests in flight finish) and waits until it is gone.
  absl::Status Stop();

  // The nginx master's pid, 0 when none runs.
  pid_t master_pid() const;
  // WORK_DIR/edge.
  const std::string& dir() const { return dir_; }
  // The generation the control socket answers now ("" when nginx does not answer).
  std::string LiveGeneration() const;

 private:
  explicit NginxEdge(NginxEdgeOptions options, std::string dir);
  NginxConfigParams Params(const std::string& generation) const;
  std::string ConfPath() const { return dir_ + "/nginx.conf"; }
  absl::StatusOr<std::string> CheckConfig(const std::string& conf_path) const;
  // No master of ours in the pid file: finds one through the control socket it holds (the pid
  // file was lost) and sets pid_, or else, with `stop_orphans`, stops the workers of a master
  // that was killed.
  void FindOurNginxLocked(bool stop_orphans) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StartLocked(const std::string& generation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReloadLocked(const std::string& generation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits until the control socket answers `generation` and none of `old_workers` accepts any
  // more; fails early on an [emerg] line in error.log after `log_offset`.
  absl::Status WaitLive(const std::string& generation, const std::vector<pid_t>& old_workers,
                        size_t log_offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const NginxEdgeOptions options_;
  const std::string dir_;
  mutable absl::Mutex mu_;
  pid_t pid_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tempa::deploy
