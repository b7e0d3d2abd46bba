#include "tests/e2e/deploy_fixture.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/e2e/subprocess.h"

namespace tempa::testing {
namespace {

constexpr char kDeployerToken[] = "deployer-token-0123456789abcdef";

std::string Binary(const std::string& name) { return absl::StrCat(TEMPA_BINARY_DIR, "/", name); }

FarmOptions OptionsFor(const std::string& deployer_address, const std::string& token_file) {
  FarmOptions options;
  options.coordinator_flags = {"--deployer", deployer_address, "--deployer-token-file", token_file};
  return options;
}

}  // namespace

bool DeployFarm::Available(std::string* why) {
  if (!FarmFixture::Available(why)) return false;
  if (::geteuid() != 0) {
    *why = "the local deployer runs containers with runc: run the tests as root";
    return false;
  }
  for (const char* tool : {"/usr/sbin/nginx", "/usr/sbin/runc"}) {
    if (::access(tool, X_OK) != 0) {
      *why = absl::StrCat(tool, " is not installed (scripts/setup installs it)");
      return false;
    }
  }
  return true;
}

DeployFarm::DeployFarm()
    : deployer_address_(absl::StrCat("127.0.0.1:", PickFreePort())),
      proxy_port_(PickFreePort()),
      proxy_address_(absl::StrCat("127.0.0.1:", proxy_port_)),
      first_app_port_(20000 + 200 * static_cast<int>(::getpid() % 45)),
      farm_(OptionsFor(deployer_address_, dir_.Join("deployer.token"))) {
  std::ofstream(dir_.Join("deployer.token")) << kDeployerToken;
  ::chmod(dir_.Join("deployer.token").c_str(), 0600);
}

DeployFarm::~DeployFarm() {
  if (deployer_) deployer_->Terminate();
  // The apps and nginx outlive a deployer by design (a restarted one adopts them): stop them.
  if (deployer_) {
    RunCommand(
        {Binary("deploy/tempa-deployer"), "--work-dir", dir_.Join("deployer"), "--stop-all"});
  }
}

absl::Status DeployFarm::Start() {
  if (absl::Status s = farm_.StartRegistry(); !s.ok()) return s;
  if (absl::Status s = StartDeployer(); !s.ok()) return s;
  if (absl::Status s = farm_.StartCoordinator(); !s.ok()) return s;
  return farm_.StartWorker("w1");
}

absl::Status DeployFarm::StartDeployer() {
  std::string work = dir_.Join("deployer");
  ::mkdir(work.c_str(), 0700);
  size_t from = deployer_ ? deployer_->log_size() : 0;
  absl::StatusOr<std::unique_ptr<DaemonProcess>> process = DaemonProcess::Start(
      {Binary("deploy/tempa-deployer"), "--listen", deployer_address_, "--backend", "local",
       "--domain", kDeployDomain, "--proxy-listen", proxy_address_, "--work-dir", work,
       "--token-file", dir_.Join("deployer.token"), "--health-timeout", "30s", "--drain", "1s",
       // A port window per stack: tests run side by side, each with its own deployer.
       "--first-port", std::to_string(first_app_port_), "--last-port",
       std::to_string(first_app_port_ + 199)},
      dir_.Join("deployer.log"));
  if (!process.ok()) return process.status();
  deployer_ = *std::move(process);
  ca_file_ = work + "/tls/ca.crt";
  return deployer_->WaitForLine("tempa-deployer: gRPC on", absl::Seconds(30), from).status();
}

void DeployFarm::KillDeployer() {
  if (deployer_) deployer_->Kill9();
}

absl::StatusOr<nlohmann::json> DeployFarm::WaitForDeploy(const std::string& build_id,
                                                         absl::Duration timeout) const {
  absl::Time deadline = absl::Now() + timeout;
  nlohmann::json last;
  while (absl::Now() < deadline) {
    absl::StatusOr<nlohmann::json> build = farm_.CliJson({"builds", "show", build_id});
    if (build.ok()) {
      last = *build;
      std::string status = last.value("status", "");
      if (status == "FAILED" || status == "CANCELLED") return last;
      if (last.contains("deploy") && last["deploy"].is_object()) {
        std::string deploy = last["deploy"].value("status", "");
        if (deploy == "DEPLOYED" || deploy == "DEPLOY_FAILED" || deploy == "DEPLOY_SUPERSEDED") {
          return last;
        }
      }
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("build ", build_id, " was not deployed in time; last: ", last.dump()));
}

std::string DeployFarm::EdgeUrl(const std::string& host) const {
  return absl::StrCat("https://", host, ":", proxy_port_);
}

HttpAnswer DeployFarm::EdgeGet(const std::string& host, const std::string& path) const {
  CommandResult result =
      RunCommand({"curl", "-sS", "--max-time", "10", "--cacert", ca_file_, "--resolve",
                  absl::StrCat(host, ":", proxy_port_, ":127.0.0.1"), "-w", "\n%{http_code}",
                  EdgeUrl(host) + path});
  HttpAnswer answer;
  size_t newline = result.out.rfind('\n');
  if (newline == std::string::npos) return answer;
  answer.body = result.out.substr(0, newline);
  if (!absl::SimpleAtoi(result.out.substr(newline + 1), &answer.status)) answer.status = 0;
  return answer;
}

}  // namespace tempa::testing
