// LocalBackend against fakes of the unpacker, runtime and edge whose containers are real HTTP
// servers on loopback, so the health check is real: switch-over order, failed versions keeping
// the old route, rollbacks without pulls, concurrent tracks, recovery after a restart, sealed env.
#include "deploy/local/local_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/local/local_fakes.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy {
namespace {

using ::testing::ElementsAre;
using testing::Events;
using testing::FakeClock;
using testing::FakeEdge;
using testing::FakeRuntime;
using testing::FakeUnpacker;
using testing::Fetch;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TestImage;

class RecordingObserver : public DeployObserver {
 public:
  void Step(absl::string_view what) override { steps.emplace_back(what); }
  std::vector<std::string> steps;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool Exists(const std::string& path) {
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
    options_.first_port = std::min(tempa::testing::PickFreePort(), 65000);
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

TEST_F(LocalBackendTest, SwitchesTheEdgeOnlyOnceHealthyAndStopsTheOldVersionAfterTheDrain) {
  unpacker_.AddServingImage("hello", "v1");
  unpacker_.AddServingImage("hello", "v2");
  std::unique_ptr<LocalBackend> backend = MakeBackend();
  ASSERT_TRUE(Deploy(*backend, MakeRelease("hello", "production", "v1", "d-b-1")).status.ok());
  const int v1_port = edge_.PortOf("hello.example.test");
  ASSERT_NE(v1_port, 0);
  EXPECT_EQ(Fetch(v1_port), "v1");
  events_.Clear();

  RecordingObserver observer;
  DeployOutcome outcome =
      backend->Deploy(MakeRelease("hello", "production", "v2", "d-b-2"), observer);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  const int v2_port = edge_.PortOf("hello.example.test");
  EXPECT_NE(v2_port, v1_port);
  EXPECT_EQ(Fetch(v2_port), "v2");
  EXPECT_EQ(Fetch(v1_port), "");  // the old version was stopped
  EXPECT_THAT(events_.All(), ElementsAre("start tempa-hello-production-d-b-2",
                                         "healthy tempa-hello-production-d-b-2",
                                         absl::StrCat("apply hello.example.test=", v2_port,
                                                      " hello-v2.example.test=", v2_port),
                                         "sleep 2s", "stop tempa-hello-production-d-b-1"));
  EXPECT_THAT(outcome.urls,
              ElementsAre("https://hello.example.test", "https://hello-v2.example.test"));
  EXPECT_EQ(observer.steps.front(), "pulling");
  // The old container's directory (its config holds the env in clear) went with it.
  EXPECT_FALSE(Exists(options_.work_dir + "/local/containers/tempa-hello-production-d-b-1"));
  EXPECT_TRUE(Exists(options_.work_dir + "/local/containers/tempa-hello-production-d-b-2"));

  // The container ran as the image's user with the release's limits and PORT set to its port.
  const ContainerSpec spec = runtime_.specs().back();
  EXPECT_EQ(spec.uid, 1000u);
  EXPECT_EQ(spec.gid, 65534u);
  EXPECT_EQ(spec.memory_bytes, 128ll << 20);
  EXPECT_EQ(spec.cpu_millis, 250);
  EXPECT_EQ(spec.pids_max, 64);
  EXPECT_EQ(spec.port, v2_port);
  EXPECT_THAT(spec.env, ::testing::Contains(absl::StrCat("PORT=", v2_port)));
  EXPECT_THAT(spec.env, Not(::testing::Contains("PORT=8080")));
}

TEST_F(LocalBackendTest, AVersionThatNeverBecomesHealthyIsStoppedAndTheOldOneKeepsServing) {
  unpacker_.AddServingImage("hello", "v1");
  unpacker_.AddServingImage("hello", "v2", "never");
  std::unique_ptr<LocalBackend> backend = MakeBackend();
  ASSERT_TRUE(Deploy(*backend, MakeRelease("hello", "production", "v1", "d-b-1")).status.ok());
  const int v1_port = edge_.PortOf("hello.example.test");
  const int applies = edge_.applies();

  DeployOutcome outcome = Deploy(*backend, MakeRelease("hello", "production", "v2", "d-b-2"));
  EXPECT_FALSE(outcome.status.ok());
  EXPECT_THAT(outcome.status.message(),
              HasSubstr("never became healthy at /healthz within 60s: connection refused"));
  EXPECT_THAT(outcome.log_tail, HasSubstr("waiting for the database..."));
  EXPECT_FALSE(runtime_.running("tempa-hello-production-d-b-2"));
  EXPECT_FALSE(Exists(options_.work_dir + "/local/containers/tempa-hello-production-d-b-2"));
  EXPECT_EQ(edge_.applies(), applies);
  EXPECT_EQ(edge_.PortOf("hello.example.test"), v1_port);
  EXPECT_EQ(Fetch(v1_port), "v1");
  EXPECT_TRUE(outcome.urls.empty());

  // A restarted deployer still knows v1 as the live release.
  backend.reset();
  std::unique_ptr<LocalBackend> restarted = MakeBackend();
  ASSERT_TRUE(restarted->Recover().ok());
  EXPECT_EQ(edge_.PortOf("hello.example.test"), v1_port);
}

TEST_F(LocalBackendTest, TheSameDeployDeliveredAgainIsAnsweredWithoutASecondContainer) {
  unpacker_.AddServingImage("hello", "v1");
  std::unique_ptr<LocalBackend> backend = MakeBackend();
  const Release release = MakeRelease("hello", "production", "v1", "d-b-1");
  ASSERT_TRUE(Deploy(*backend, release).status.ok());
  const int starts = runtime_.starts();
  const int applies = edge_.applies();
  DeployOutcome again = Deploy(*backend, release);
  ASSERT_TRUE(again.status.ok()) << again.status;
  EXPECT_THAT(again.urls,
              ElementsAre("https://hello.example.test", "https://hello-v1.example.test"));
  EXPECT_EQ(runtime_.starts(), starts);
  EXPECT_EQ(edge_.applies(), applies);
  EXPECT_TRUE(runtime_.running("tempa-hello-production-d-b-1"));
}

TEST_F(LocalBackendTest, AContainerThatExitsDuringTheHealthCheckFailsAtOnceWithItsExitReason) {
  unpacker_.AddServingImage("hello", "v1", "exit");
  std::unique_ptr<LocalBackend> backend = MakeBackend();
  const absl::Time start = health_clock_.Now();
  DeployOutcome outcome = Deploy(*backend, MakeRelease("hello", "production", "v1", "d-b-1"));
  EXPECT_FALSE(outcome.status.ok());
  EXPECT_THAT(outcome.status.message(), HasSubstr("exited during the health check"));
  EXPECT_THAT(outcome.status.message(), HasSubstr("exited with 3"));
  EXPECT_THAT(outcome.log_tail, HasSubstr("fatal: DATABASE_URL is not set"));
  // It gave up at the first look at the container, not at the deadline.
  EXPECT_LT(health_clock_.Now() - start, absl::Seconds(1));
  EXPECT_EQ(edge_.applies(), 0);
}

TEST_F(LocalBackendTest, RollbackToAKeptReleasePullsNothingAndSwitchesBack) {
  unpacker_.AddServingImage("hello", "v1");
  unpacker_.AddServingImage("hello", "v2");
  std::unique_ptr<LocalBackend> backend = MakeBackend();
  ASSERT_TRUE(Deploy(*backend, MakeRelease("hello", "production", "v1", "d-b-1")).status.ok());
  ASSERT_TRUE(Deploy(*backend, MakeRelease("hello", "production", "v2", "d-b-2")).status.ok());
  ASSERT_EQ(unpacker_.pulls(), 2);

  Release rollback = MakeRelease("hello", "production", "v1", "r-1");
  rollback.rollback = true;
  RecordingObserver observer;
  DeployOutcome outcome = backend->Deploy(rollback, observer);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_EQ(unpacker_.pulls(), 2);
  EXPECT_EQ(observer.steps.front(), "using the kept image (no pull)");
  EXPECT_EQ(Fetch(edge_.PortOf("hello.example.test")), "v1");
}

TEST_F(LocalBackendTest, ReleasesBeyondTheKeptCountArePrunedAndPulledAgainOnRollback) {
  options_.kept_releases = 2;
  for (const char* v : {"v1", "v2", "v3"}) unpacker_.AddServingImage("hello", v);
  std::unique_ptr<LocalBackend> backend = MakeBackend();
  ASSERT_TRUE(Deploy(*backend, MakeRelease("hello", "production", "v1", "d-b-1")).status.ok());
  ASSERT_TRUE(Deploy(*backend, MakeRelease("hello", "production", "v2", "d-b-2")).status.ok());
  ASSERT_TRUE(Deploy(*backend, MakeRelease("hello", "production", "v3", "d-b-3")).status.ok());
  EXPECT_FALSE(unpacker_.unpacked(TestImage("hello", "v1")));
  EXPECT_TRUE(unpacker_.unpacked(TestImage("hello", "v2")));
  EXPECT_TRUE(unpacker_.unpacked(TestImage("hello", "v3")));

  ASSERT_TRUE(Deploy(*backend, MakeRelease("hello", "production", "v1", "r-1")).status.ok());
  EXPECT_EQ(unpacker_.pulls(), 4);
  EXPECT_EQ(Fetch(edge_.PortOf("hello.example.test")), "v1");
}

TEST_F(LocalBackendTest, TwoTracksDeployingAtOnceBothEndUpInTheEdgeTable) {
  unpacker_.AddServingImage("hello", "v1");
  unpacker_.AddServingImage("hello", "v2");
  std::unique_ptr<LocalBackend> backend = MakeBackend();
  runtime_.RendezvousStarts(2);  // both deploys are past Start before either switches
  DeployOutcome production, preview;
  std::thread a(
      [&] { production = Deploy(*backend, MakeRelease("hello", "production", "v1", "d-b-1")); });
  std::thread b(
      [&] { preview = Deploy(*backend, MakeRelease("hello", "feature-x", "v2", "d-b-2")); });
  a.join();
  b.join();
  ASSERT_TRUE(production.status.ok()) << production.status;
  ASSERT_TRUE(preview.status.ok()) << preview.status;
  EXPECT_EQ(Fetch(edge_.PortOf("hello.example.test")), "v1");
  EXPECT_EQ(Fetch(edge_.PortOf("hello-v1.example.test")), "v1");
  EXPECT_EQ(Fetch(edge_.PortOf("hello-feature-x.example.test")), "v2");
  EXPECT_EQ(Fetch(edge_.PortOf("hello-v2.example.test")), "v2");
}

TEST_F(LocalBackendTest, PruningNeverRemovesTheImageOfADeployStillUnderWay) {
  options_.kept_releases = 1;
  unpacker_.AddServingImage("hello", "v1");
  unpacker_.AddServingImage("hello", "v2");
  std::unique_ptr<LocalBackend> backend = MakeBackend();
  runtime_.BlockStart("tempa-hello-feature-x-d-b-2");  // v2 unpacked, not yet live anywhere
  DeployOutcome preview;
  std::thread a(
      [&] { preview = Deploy(*backend, MakeRelease("hello", "feature-x", "v2", "d-b-2")); });
  while (!runtime_.blocked()) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_TRUE(Deploy(*backend, MakeRelease("hello", "production", "v1", "d-b-1")).status.ok());
  EXPECT_TRUE(unpacker_.unpacked(TestImage("hello", "v2")));
  runtime_.UnblockStart();
  a.join();
  ASSERT_TRUE(preview.status.ok()) << preview.status;
  EXPECT_EQ(Fetch(edge_.PortOf("hello-feature-x.example.test")), "v2");
}

TEST_F(LocalBackendTest, ASecondDeployOfTheSameTrackWhileOneRunsIsRefused) {
  unpacker_.AddServingImage("hello", "v1");
  unpacker_.AddServingImage("hello", "v2");
  std::unique_ptr<LocalBackend> backend = MakeBackend();
  runtime_.RendezvousStarts(2);  // holds the first deploy in Start: nobody else will come
  DeployOutcome first;
  std::thread a(
      [&] { first = Deploy(*backend, MakeRelease("hello", "production", "v1", "d-b-1")); });
  while (runtime_.waiting() == 0) absl::SleepFor(absl::Milliseconds(1));
  DeployOutcome second = Deploy(*backend, MakeRelease("hello", "production", "v2", "d-b-2"));
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status));
  EXPECT_THAT(second.status.message(), HasSubstr("already under way"));
  runtime_.RendezvousStarts(0);
  a.join();
  ASSERT_TRUE(first.status.ok()) << first.status;
  EXPECT_EQ(Fetch(edge_.PortOf("hello.example.test")), "v1");
}

TEST_F(LocalBackendTest, AnEdgeThatRefusesTheNewTableKeepsTheOldRouteAndStopsTheNewVersion) {
  unpacker_.AddServingImage("hello", "v1");
  unpacker_.AddServingImage("hello", "v2");
  std::unique_ptr<LocalBackend> backend = MakeBackend();
  ASSERT_TRUE(Deploy(*backend, MakeRelease("hello", "production", "v1", "d-b-1")).status.ok());
  const int v1_port = edge_.PortOf("hello.example.test");
  edge_.FailNextApply();
  DeployOutcome outcome = Deploy(*backend, MakeRelease("hello", "production", "v2", "d-b-2"));
  EXPECT_THAT(outcome.status.message(), HasSubstr("switch the edge to the new release"));
  EXPECT_FALSE(runtime_.running("tempa-hello-production-d-b-2"));
  EXPECT_TRUE(runtime_.running("tempa-hello-production-d-b-1"));
  EXPECT_EQ(Fetch(v1_port), "v1");
  // The state still names v1: a later deploy drains and stops v1.
  ASSERT_TRUE(Deploy(*backend, MakeRelease("hello", "production", "v2", "d-b-3")).status.ok());
  EXPECT_FALSE(runtime_.running("tempa-hello-production-d-b-1"));
}

TEST_F(LocalBackendTest, RecoverReappliesTheTableAdoptsLiveContainersAndRestartsLostOnes) {
  unpacker_.AddServingImage("hello", "v1");
  unpacker_.AddServingImage("hello", "v2");
  std::unique_ptr<LocalBackend> backend = MakeBackend();
  Release production = MakeRelease("hello", "production", "v1", "d-b-1");
  production.env = {{"DATABASE_PASSWORD", "hunter2-s3cret"}};
  ASSERT_TRUE(Deploy(*backend, production).status.ok());
  ASSERT_TRUE(Deploy(*backend, MakeRelease("hello", "feature-x", "v2", "d-b-2")).status.ok());
  const int production_port = edge_.PortOf("hello.example.test");
  const int preview_port = edge_.PortOf("hello-feature-x.example.test");
  backend.reset();

  // The machine lost production's container; a deploy cut short left one behind; the edge
  // forgot its table (nginx restarted without its config).
  runtime_.Lose("tempa-hello-production-d-b-1");
  ContainerSpec stray;
  stray.id = "tempa-hello-production-d-b-9";
  stray.args = {"/app/server", "serve", "v9", "never"};
  ASSERT_TRUE(runtime_.Start(stray).ok());
  ASSERT_TRUE(edge_.Apply({}).ok());
  const int starts = runtime_.starts();

  std::unique_ptr<LocalBackend> restarted = MakeBackend();
  ASSERT_TRUE(restarted->Recover().ok());
  EXPECT_EQ(runtime_.starts(), starts + 1);  // production again; the preview was adopted
  EXPECT_TRUE(runtime_.running("tempa-hello-production-d-b-1"));
  EXPECT_FALSE(runtime_.running("tempa-hello-production-d-b-9"));
  EXPECT_EQ(edge_.PortOf("hello.example.test"), production_port);
  EXPECT_EQ(edge_.PortOf("hello-feature-x.example.test"), preview_port);
  EXPECT_EQ(Fetch(production_port), "v1");
  EXPECT_EQ(Fetch(preview_port), "v2");
  // The restarted container got its env back from the sealed state.
  EXPECT_THAT(runtime_.specs().back().env, ::testing::Contains("DATABASE_PASSWORD=hunter2-s3cret"));
}

TEST_F(LocalBackendTest, AnImageThatCannotBePulledLeavesTheLiveReleaseAlone) {
  unpacker_.AddServingImage("hello", "v1");
  std::unique_ptr<LocalBackend> backend = MakeBackend();
  ASSERT_TRUE(Deploy(*backend, MakeRelease("hello", "production", "v1", "d-b-1")).status.ok());
  const int starts = runtime_.starts();
  DeployOutcome outcome = Deploy(*backend, MakeRelease("hello", "production", "v404", "d-b-2"));
  EXPECT_THAT(outcome.status.message(), HasSubstr("pull and unpack 127.0.0.1:5000/hello@sha256:"));
  EXPECT_EQ(runtime_.starts(), starts);
  EXPECT_EQ(Fetch(edge_.PortOf("hello.example.test")), "v1");
}

TEST_F(LocalBackendTest, AStateWhoseKeyWasReplacedIsRefusedAtStartupNamingTheKey) {
  unpacker_.AddServingImage("hello", "v1");
  std::unique_ptr<LocalBackend> backend = MakeBackend();
  Release release = MakeRelease("hello", "production", "v1", "d-b-1");
  release.env = {{"TOKEN", "t0ken"}};
  ASSERT_TRUE(Deploy(*backend, release).status.ok());
  backend.reset();
  const std::string key = options_.work_dir + "/local/state.key";
  ASSERT_EQ(unlink(key.c_str()), 0);
  ASSERT_TRUE(crypto::SecretBox::GenerateKeyFile(key).ok());

  LocalBackendDeps deps;
  deps.unpacker = &unpacker_;
  deps.runtime = &runtime_;
  deps.edge = &edge_;
  absl::StatusOr<std::unique_ptr<LocalBackend>> restarted = LocalBackend::Create(options_, deps);
  EXPECT_TRUE(absl::IsDataLoss(restarted.status()));
  EXPECT_THAT(restarted.status().message(), HasSubstr("state.key"));
}

TEST_F(LocalBackendTest, EnvSecretValuesAreSealedInStateJson) {
  unpacker_.AddServingImage("hello", "v1");
  std::unique_ptr<LocalBackend> backend = MakeBackend();
  Release release = MakeRelease("hello", "production", "v1", "d-b-1");
  release.env = {{"DATABASE_PASSWORD", "hunter2-s3cret"}, {"PORT", "1"}};
  ASSERT_TRUE(Deploy(*backend, release).status.ok());
  EXPECT_THAT(runtime_.specs().back().env, ::testing::Contains("DATABASE_PASSWORD=hunter2-s3cret"));
  // PORT is the backend's, whatever the release says.
  EXPECT_THAT(runtime_.specs().back().env,
              ::testing::Contains(absl::StrCat("PORT=", edge_.PortOf("hello.example.test"))));

  const std::string state_path = options_.work_dir + "/local/state.json";
  const std::string state = ReadFile(state_path);
  ASSERT_THAT(state, HasSubstr("d-b-1"));
  EXPECT_THAT(state, Not(HasSubstr("hunter2")));
  EXPECT_THAT(state, Not(HasSubstr("DATABASE_PASSWORD")));
  for (const std::string& path : {state_path, options_.work_dir + "/local/state.key"}) {
    struct stat st {};
    ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
  }
}

}  // namespace
}  // namespace tempa::deploy
