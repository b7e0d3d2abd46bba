// The fixture of the runc runtime tests: a rootfs holding the static runtime_test_app, a
// RuncContainerRuntime in a temporary work dir with fast backoff, and small helpers (one HTTP
// GET, polling). Skips (with the reason) where runc is missing or the test is not root.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "deploy/runtime/runc_container_runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy::runc_test {

namespace fs = std::filesystem;

inline bool HaveRunc() {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"}) {
    if (access(absl::StrCat(dir, "/runc").c_str(), X_OK) == 0) return true;
  }
  return false;
}

// One GET to 127.0.0.1:port; the body, or "" when nothing answered.
inline std::string HttpGet(int port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const char request[] = "GET / HTTP/1.0\r\n\r\n";
    if (write(s, request, sizeof request - 1) > 0) {
      char buf[1024];
      ssize_t n;
      while ((n = read(s, buf, sizeof buf)) > 0) response.append(buf, static_cast<size_t>(n));
    }
  }
  close(s);
  size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Polls `done` until it holds or 60 s pass (a bound for a broken build, not a timing claim).
inline bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 6000; ++i) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

class RuncContainerRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "runc containers need root; run the test as root";
    if (!HaveRunc()) GTEST_SKIP() << "runc is not installed (apt-get install runc)";
    fs::create_directories(rootfs_ + "/etc");
    for (const char* d : {"proc", "dev", "sys", "tmp"}) fs::create_directory(rootfs_ + "/" + d);
    fs::copy_file(RUNTIME_TEST_APP, rootfs_ + "/app");
    chmod((rootfs_ + "/app").c_str(), 0755);
    chmod(rootfs_.c_str(), 0755);
    options_.work_dir = dir_.Join("work");
    options_.initial_backoff = absl::Milliseconds(50);
    options_.max_backoff = absl::Milliseconds(200);
    options_.poll_interval = absl::Milliseconds(20);
    options_.on_restart_scheduled = [this](const std::string& id, absl::Duration delay) {
      absl::MutexLock lock(&delays_mu_);
      delays_.push_back({id, delay});
    };
  }

  void TearDown() override {
    if (runtime_ == nullptr) return;
    for (const std::string& id : runtime_->List()) (void)runtime_->Stop(id, absl::ZeroDuration());
    runtime_.reset();
  }

  void MakeRuntime() {
    absl::StatusOr<std::unique_ptr<RuncContainerRuntime>> runtime =
        RuncContainerRuntime::Create(options_);
    ASSERT_TRUE(runtime.ok()) << runtime.status();
    runtime_ = std::move(*runtime);
  }

  // Unique per test process: several engineers run these tests at once on one machine.
  ContainerSpec Spec(const std::string& name, std::vector<std::string> args) {
    ContainerSpec spec;
    spec.id = absl::StrCat("tempa-test-", getpid(), "-", name);
    spec.rootfs = rootfs_;
    spec.state_dir = dir_.Join("state-" + name);
    spec.args = std::move(args);
    spec.port = testing::PickFreePort();
    spec.env = {absl::StrCat("PORT=", spec.port)};
    spec.memory_bytes = 64ll << 20;
    spec.pids_max = 32;
    return spec;
  }

  ContainerStatus StatusOf(const std::string& id) {
    absl::StatusOr<ContainerStatus> status = runtime_->Status(id);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? *status : ContainerStatus{};
  }

  std::vector<absl::Duration> DelaysOf(const std::string& id) {
    absl::MutexLock lock(&delays_mu_);
    std::vector<absl::Duration> out;
    for (const auto& [who, delay] : delays_) {
      if (who == id) out.push_back(delay);
    }
    return out;
  }

  testing::TempDir dir_;
  std::string rootfs_ = dir_.Join("rootfs");
  RuncRuntimeOptions options_;
  std::unique_ptr<RuncContainerRuntime> runtime_;
  absl::Mutex delays_mu_;
  std::vector<std::pair<std::string, absl::Duration>> delays_ ABSL_GUARDED_BY(delays_mu_);
};

}  // namespace tempa::deploy::runc_test
