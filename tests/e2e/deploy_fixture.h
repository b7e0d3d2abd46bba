// The farm with its deployer, as `scripts/demo` runs it on one machine: a registry,
// tempa-coordinator (--deployer), a tempa-worker and tempa-deployer --backend local, whose nginx
// serves every app by host name over TLS (a self-signed CA made by the deployer).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/daemon_process.h"
#include "tests/e2e/farm_fixture.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {

inline constexpr char kDeployDomain[] = "apps.test";

class DeployFarm {
 public:
  DeployFarm();
  ~DeployFarm();

  // False (with the reason) when nginx, runc, root or the farm's needs are missing.
  static bool Available(std::string* why);

  // Registry, deployer, coordinator and one worker.
  absl::Status Start();
  absl::Status StartDeployer();
  void KillDeployer();  // SIGKILL, as a crash
  DaemonProcess* deployer() { return deployer_.get(); }
  FarmFixture& farm() { return farm_; }

  // Polls `builds show ID --json` until the build's deploy is DEPLOYED, DEPLOY_FAILED or
  // DEPLOY_SUPERSEDED (a failed build is returned as it is).
  absl::StatusOr<nlohmann::json> WaitForDeploy(const std::string& build_id,
                                               absl::Duration timeout = absl::Minutes(4)) const;
  // GET https://HOST/PATH through the deployer's nginx (TLS checked against the deployer's CA).
  HttpAnswer EdgeGet(const std::string& host, const std::string& path = "/") const;
  std::string EdgeUrl(const std::string& host) const;
  const std::string& ca_file() const { return ca_file_; }
  std::string proxy_address() const { return proxy_address_; }

 private:
  // Declared before farm_: the coordinator's flags name the deployer and its token file.
  TempDir dir_{"tempa-deploy-"};
  std::string deployer_address_;
  int proxy_port_ = 0;
  std::string proxy_address_;
  int first_app_port_ = 0;
  FarmFixture farm_;
  std::unique_ptr<DaemonProcess> deployer_;
  std::string ca_file_;
};

}  // namespace tempa::testing
