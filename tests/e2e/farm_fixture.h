// The farm as a user runs it, for end-to-end tests: a real docker-registry, tempa-coordinator
// and tempa-worker processes on loopback (restartable and killable), the `tempa` CLI, and
// signed GitHub webhooks posted over HTTP.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/daemon_process.h"
#include "tests/e2e/subprocess.h"
#include "tests/support/registry_server.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {

inline constexpr char kFarmAdminToken[] = "farm-admin-token-0123456789";
inline constexpr char kFarmWorkerToken[] = "farm-worker-token-0123456789";

struct HttpAnswer {
  int status = 0;
  std::string body;
};

struct FarmOptions {
  absl::Duration lease_ttl = absl::Seconds(6);
  absl::Duration heartbeat_interval = absl::Milliseconds(500);
  int max_attempts = 3;
  // Appended to tempa-coordinator's flags (e.g. --deployer ADDR).
  std::vector<std::string> coordinator_flags;
};

class FarmFixture {
 public:
  explicit FarmFixture(FarmOptions options = {});
  ~FarmFixture();

  // False (with the reason) when something the farm needs is missing; tests skip then.
  static bool Available(std::string* why);

  absl::Status StartRegistry();
  absl::Status StartCoordinator();
  void KillCoordinator();  // SIGKILL
  // A worker named `name` with its own work dir (kept across restarts of the same name).
  absl::Status StartWorker(const std::string& name, int slots = 1);
  void KillWorker(const std::string& name);
  DaemonProcess* worker(const std::string& name);
  DaemonProcess* coordinator() { return coordinator_.get(); }

  // `tempa --coordinator ADDR --token-file ADMIN ARGS...`
  CommandResult Cli(const std::vector<std::string>& args, const std::string& token_file = "") const;
  // `tempa ... ARGS --json`, parsed; crashes the test on bad JSON.
  absl::StatusOr<nlohmann::json> CliJson(const std::vector<std::string>& args) const;
  // Polls `builds show ID --json` until its status is one of `statuses`.
  absl::StatusOr<nlohmann::json> WaitForBuild(const std::string& id,
                                              const std::vector<std::string>& statuses,
                                              absl::Duration timeout = absl::Minutes(3)) const;

  HttpAnswer PostWebhook(const std::string& event, const std::string& delivery,
                         const std::string& body, const std::string& secret) const;
  HttpAnswer Get(const std::string& path) const;  // on the webhook/metrics listener

  const std::string& grpc_address() const { return grpc_address_; }
  const std::string& webhook_address() const { return webhook_address_; }
  const std::string& registry() const { return registry_->host_port(); }
  std::string path(const std::string& name) const { return dir_.Join(name); }
  std::string admin_token_file() const { return dir_.Join("admin.token"); }
  std::string worker_token_file() const { return dir_.Join("worker.token"); }

 private:
  absl::Status StartCoordinatorOnce();

  FarmOptions options_;
  TempDir dir_{"tempa-farm-"};
  std::unique_ptr<RegistryServer> registry_;
  std::unique_ptr<DaemonProcess> coordinator_;
  bool started_once_ = false;
  std::map<std::string, std::unique_ptr<DaemonProcess>> workers_;
  std::string grpc_address_;
  std::string webhook_address_;
};

// GitHub's push payload for `repo_url`'s `branch` moving to `after`.
std::string GithubPushPayload(const std::string& repo_url, const std::string& branch,
                              const std::string& after);
// "sha256=<hex HMAC-SHA256 of body>"
std::string GithubSignature(const std::string& secret, const std::string& body);

}  // namespace tempa::testing
