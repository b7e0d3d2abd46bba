// The fixture of the LocalBackend tests: fakes of the unpacker, runtime and edge whose
// containers are real HTTP servers on loopback (so the health check is real), fake clocks, and
// releases of a test app whose hosts follow the deployer's naming.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "deploy/local/local_backend.h"
#include "gtest/gtest.h"
#include "tests/deploy/local/local_fakes.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy::testing {

class RecordingObserver : public DeployObserver {
 public:
  void Step(absl::string_view what) override { steps.emplace_back(what); }
  std::vector<std::string> steps;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

class LocalBackendTest : public ::testing::Test {
 protected:
  LocalBackendTest() {
    HealthCheckerOptions health;
    health.now = [this] { return health_clock_.Now(); };
    health.sleep = [this](absl::Duration d) { health_clock_.Advance(d); };
    health.interval = absl::Milliseconds(250);
    health_ = std::make_unique<HealthChecker>(health);
    options_.work_dir = dir_.Join("work");
    options_.health_timeout = absl::Seconds(60);
    options_.drain = absl::Seconds(2);
    // Below the ephemeral range (PickFreePort's), which outgoing connections draw from.
    options_.first_port = std::min(tempa::testing::PickFreePort(), 32000);
    options_.last_port = options_.first_port + 200;
    options_.kept_releases = 3;
  }

  std::unique_ptr<LocalBackend> MakeBackend() {
    LocalBackendDeps deps;
    deps.unpacker = &unpacker_;
    deps.runtime = &runtime_;
    deps.edge = &edge_;
    deps.now = [this] { return clock_.Now(); };
    deps.sleep = [this](absl::Duration d) {
      events_.Add(absl::StrCat("sleep ", absl::FormatDuration(d)));
      clock_.Advance(d);
    };
    deps.health = health_.get();
    absl::StatusOr<std::unique_ptr<LocalBackend>> backend = LocalBackend::Create(options_, deps);
    EXPECT_TRUE(backend.ok()) << backend.status();
    return backend.ok() ? std::move(*backend) : nullptr;
  }

  static Release MakeRelease(const std::string& app, const std::string& track,
                             const std::string& version, const std::string& deploy_id) {
    Release release;
    release.deploy_id = deploy_id;
    release.app = app;
    release.track = track;
    release.commit = std::string(40, 'a');
    release.image = TestImage(app, version);
    release.hosts = {
        track == "production" ? app + ".example.test" : app + "-" + track + ".example.test",
        app + "-" + version + ".example.test"};
    release.settings.health_path = "/healthz";
    release.settings.memory_bytes = 128ll << 20;
    release.settings.cpu_millis = 250;
    release.settings.pids_max = 64;
    return release;
  }

  DeployOutcome Deploy(LocalBackend& backend, const Release& release) {
    RecordingObserver observer;
    return backend.Deploy(release, observer);
  }

  tempa::testing::TempDir dir_;
  Events events_;
  FakeClock clock_;
  FakeClock health_clock_;
  FakeUnpacker unpacker_{dir_.Join("images")};
  FakeRuntime runtime_{&events_};
  FakeEdge edge_{&events_};
  std::unique_ptr<HealthChecker> health_;
  LocalBackendOptions options_;
};

}  // namespace tempa::deploy::testing
