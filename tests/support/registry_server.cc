#include "tests/support/registry_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "httplib.h"

namespace tempa::testing {
namespace {

constexpr char kBinary[] = "/usr/bin/docker-registry";

// The packaged /etc/docker/registry/config.yml does not work out of the box, so every server
// writes its own. uploadpurging off: it would start a background walker we do not need.
constexpr char kConfigTemplate[] = R"(version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $ROOT
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$PORT
  secret: tempa-test-secret
)";

}  // namespace

bool RegistryServer::Available() { return access(kBinary, X_OK) == 0; }

absl::StatusOr<std::unique_ptr<RegistryServer>> RegistryServer::Start() {
  if (!Available()) return absl::UnavailableError(absl::StrCat(kBinary, " is not installed"));
  std::unique_ptr<RegistryServer> server(new RegistryServer());
  absl::Status status;
  for (int attempt = 0; attempt < 5; ++attempt) {
    status = server->Launch(PickFreePort());
    if (status.ok()) return server;
  }
  return status;
}

absl::Status RegistryServer::Launch(int port) {
  host_port_ = absl::StrCat("127.0.0.1:", port);
  std::string config = dir_.Join("config.yml");
  WriteFileOrDie(config, absl::StrReplaceAll(kConfigTemplate, {{"$ROOT", storage_dir()},
                                                               {"$PORT", std::to_string(port)}}));
  std::string log_path = dir_.Join("registry.log");
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // Child: die with the test process, log to a file, become the registry.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    execl(kBinary, "docker-registry", "serve", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(std::chrono::milliseconds(200));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(
          absl::StrCat("docker-registry on port ", port, " exited: ", log()));
    }
    if (auto res = client.Get("/v2/"); res && res->status == 200) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return absl::DeadlineExceededError(
      absl::StrCat("docker-registry on port ", port, " did not answer GET /v2/: ", log()));
}

RegistryServer::~RegistryServer() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 40; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

std::string RegistryServer::log() const {
  std::ifstream in(dir_.Join("registry.log"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace tempa::testing
