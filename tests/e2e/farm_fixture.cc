#include "tests/e2e/farm_fixture.h"

#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace tempa::testing {
namespace {

std::string Binary(const std::string& name) { return absl::StrCat(TEMPA_BINARY_DIR, "/", name); }

void WriteSecretFile(const std::string& path, const std::string& contents) {
  std::ofstream(path) << contents;
  ::chmod(path.c_str(), 0600);
}

// The coordinator's words when its gRPC or its webhook address is in use.
bool PortWasTaken(const std::string& log) {
  return absl::StrContains(log, "cannot listen for gRPC") ||
         absl::StrContains(log, "webhook listener: cannot bind");
}

}  // namespace

std::string GithubSignature(const std::string& secret, const std::string& body) {
  unsigned char mac[32];
  unsigned int len = sizeof(mac);
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  return "sha256=" +
         absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(mac), len));
}

std::string GithubPushPayload(const std::string& repo_url, const std::string& branch,
                              const std::string& after) {
  nlohmann::json payload = {
      {"ref", "refs/heads/" + branch},
      {"before", std::string(40, '0')},
      {"after", after},
      {"deleted", false},
      {"repository", {{"full_name", "team/app"}, {"clone_url", repo_url}, {"html_url", repo_url}}},
      {"head_commit", {{"id", after}, {"message", "change"}}},
      {"pusher", {{"name", "dev"}}}};
  return payload.dump();
}

bool FarmFixture::Available(std::string* why) {
  if (!RegistryServer::Available()) {
    *why = "docker-registry is not installed (scripts/setup installs it)";
    return false;
  }
  if (::access("/usr/bin/bwrap", X_OK) != 0) {
    *why = "bubblewrap is not installed";
    return false;
  }
  return true;
}

FarmFixture::FarmFixture(FarmOptions options) : options_(options) {
  WriteSecretFile(dir_.Join("tokens"), absl::StrCat("admin ", kFarmAdminToken, " e2e\nworker ",
                                                    kFarmWorkerToken, " fleet\n"));
  WriteSecretFile(admin_token_file(), kFarmAdminToken);
  WriteSecretFile(worker_token_file(), kFarmWorkerToken);
  grpc_address_ = absl::StrCat("127.0.0.1:", PickFreePort());
  webhook_address_ = absl::StrCat("127.0.0.1:", PickFreePort());
}

FarmFixture::~FarmFixture() {
  for (auto& [name, worker] : workers_) {
    if (worker) worker->Terminate();
  }
  if (coordinator_) coordinator_->Terminate();
}

absl::Status FarmFixture::StartRegistry() {
  absl::StatusOr<std::unique_ptr<RegistryServer>> registry = RegistryServer::Start();
  if (!registry.ok()) return registry.status();
  registry_ = *std::move(registry);
  return absl::OkStatus();
}

absl::Status FarmFixture::StartCoordinator() {
  absl::Status status = StartCoordinatorOnce();
  // Another test's listener can take a picked port before the coordinator binds it. On a first
  // start nothing has been given the addresses yet, so pick again; a restart keeps them.
  for (int attempt = 0; attempt < 3 && !status.ok() && !started_once_ && workers_.empty() &&
                        coordinator_ && PortWasTaken(coordinator_->log());
       ++attempt) {
    coordinator_->Terminate();
    grpc_address_ = absl::StrCat("127.0.0.1:", PickFreePort());
    webhook_address_ = absl::StrCat("127.0.0.1:", PickFreePort());
    status = StartCoordinatorOnce();
  }
  if (status.ok()) started_once_ = true;
  return status;
}

absl::Status FarmFixture::StartCoordinatorOnce() {
  ::mkdir(dir_.Join("coordinator").c_str(), 0700);
  std::vector<std::string> argv = {Binary("coordinator/tempa-coordinator"),
                                   "--listen",
                                   grpc_address_,
                                   "--webhook-listen",
                                   webhook_address_,
                                   "--data-dir",
                                   dir_.Join("coordinator"),
                                   "--registry",
                                   registry_->host_port(),
                                   "--token-file",
                                   dir_.Join("tokens"),
                                   "--lease-ttl",
                                   absl::FormatDuration(options_.lease_ttl),
                                   "--heartbeat-interval",
                                   absl::FormatDuration(options_.heartbeat_interval),
                                   "--max-attempts",
                                   std::to_string(options_.max_attempts)};
  argv.insert(argv.end(), options_.coordinator_flags.begin(), options_.coordinator_flags.end());
  absl::StatusOr<std::unique_ptr<DaemonProcess>> process =
      DaemonProcess::Start(argv, dir_.Join("coordinator.log"));
  if (!process.ok()) return process.status();
  // The log is appended to across restarts: wait for this run's line, not the last run's.
  size_t from = coordinator_ ? coordinator_->log_size() : 0;
  coordinator_ = *std::move(process);
  return coordinator_->WaitForLine("tempa-coordinator: gRPC on", absl::Seconds(30), from).status();
}

void FarmFixture::KillCoordinator() {
  if (coordinator_) coordinator_->Kill9();
}

absl::Status FarmFixture::StartWorker(const std::string& name, int slots) {
  std::string work_dir = dir_.Join("worker-" + name);
  ::mkdir(work_dir.c_str(), 0700);
  std::string log = dir_.Join("worker-" + name + ".log");
  absl::StatusOr<std::unique_ptr<DaemonProcess>> process = DaemonProcess::Start(
      {Binary("worker/tempa-worker"), "--coordinator", grpc_address_, "--work-dir", work_dir,
       "--slots", std::to_string(slots), "--token-file", worker_token_file(), "--worker-id", name},
      log);
  if (!process.ok()) return process.status();
  workers_[name] = *std::move(process);
  return workers_[name]->WaitForLine("registered as", absl::Seconds(60)).status();
}

void FarmFixture::KillWorker(const std::string& name) {
  auto it = workers_.find(name);
  if (it != workers_.end() && it->second) it->second->Kill9();
}

DaemonProcess* FarmFixture::worker(const std::string& name) {
  auto it = workers_.find(name);
  return it == workers_.end() ? nullptr : it->second.get();
}

CommandResult FarmFixture::Cli(const std::vector<std::string>& args,
                               const std::string& token_file) const {
  std::vector<std::string> argv = {Binary("worker/tempa"), "--coordinator", grpc_address_,
                                   "--token-file",
                                   token_file.empty() ? admin_token_file() : token_file};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

absl::StatusOr<nlohmann::json> FarmFixture::CliJson(const std::vector<std::string>& args) const {
  std::vector<std::string> with_json = args;
  with_json.push_back("--json");
  CommandResult result = Cli(with_json);
  if (result.exit_code != 0) {
    return absl::InternalError(absl::StrCat("tempa ", absl::StrJoin(args, " "), " exited ",
                                            result.exit_code, ": ", result.err));
  }
  nlohmann::json parsed = nlohmann::json::parse(result.out, nullptr, false);
  if (parsed.is_discarded()) {
    return absl::InternalError(absl::StrCat("not JSON: ", result.out));
  }
  return parsed;
}

absl::StatusOr<nlohmann::json> FarmFixture::WaitForBuild(const std::string& id,
                                                         const std::vector<std::string>& statuses,
                                                         absl::Duration timeout) const {
  absl::Time until = absl::Now() + timeout;
  nlohmann::json last;
  while (absl::Now() < until) {
    absl::StatusOr<nlohmann::json> build = CliJson({"builds", "show", id});
    if (build.ok()) {
      last = *build;
      for (const std::string& status : statuses) {
        if (last.value("status", "") == status) return last;
      }
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "build ", id, " did not reach ", absl::StrJoin(statuses, "/"), "; last seen: ", last.dump()));
}

HttpAnswer FarmFixture::PostWebhook(const std::string& event, const std::string& delivery,
                                    const std::string& body, const std::string& secret) const {
  // One file per POST: the same delivery may be posted from two threads at once.
  static std::atomic<uint64_t> posts{0};
  std::string body_file = dir_.Join(absl::StrCat("webhook-", delivery, "-", posts++, ".json"));
  std::ofstream(body_file) << body;
  std::vector<std::string> argv = {"curl",       "-sS",
                                   "--max-time", "30",
                                   "-o",         "-",
                                   "-w",         "\n%{http_code}",
                                   "-X",         "POST",
                                   "-H",         "Content-Type: application/json",
                                   "-H",         "X-GitHub-Event: " + event,
                                   "-H",         "X-GitHub-Delivery: " + delivery};
  if (!secret.empty()) {
    argv.push_back("-H");
    argv.push_back("X-Hub-Signature-256: " + GithubSignature(secret, body));
  }
  argv.push_back("--data-binary");
  argv.push_back("@" + body_file);
  argv.push_back(absl::StrCat("http://", webhook_address_, "/webhooks/github"));
  CommandResult result = RunCommand(argv);
  HttpAnswer answer;
  size_t newline = result.out.rfind('\n');
  if (newline != std::string::npos) {
    answer.body = result.out.substr(0, newline);
    answer.status = std::atoi(result.out.substr(newline + 1).c_str());
  }
  return answer;
}

HttpAnswer FarmFixture::Get(const std::string& path) const {
  CommandResult result = RunCommand({"curl", "-sS", "-o", "-", "-w", "\n%{http_code}",
                                     absl::StrCat("http://", webhook_address_, path)});
  HttpAnswer answer;
  size_t newline = result.out.rfind('\n');
  if (newline != std::string::npos) {
    answer.body = result.out.substr(0, newline);
    answer.status = std::atoi(result.out.substr(newline + 1).c_str());
  }
  return answer;
}

}  // namespace tempa::testing
