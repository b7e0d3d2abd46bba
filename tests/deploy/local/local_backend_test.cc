// LocalBackend: switch-over order, failed versions keeping the old route, rollbacks without
// pulls, recovery after a restart, sealed env.
#include "deploy/local/local_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/local/local_backend_fixture.h"

namespace tempa::deploy {
namespace {

using ::testing::ElementsAre;
using testing::Exists;
using testing::Fetch;
using ::testing::HasSubstr;
using testing::LocalBackendTest;
using ::testing::Not;
using testing::ReadFile;
using testing::RecordingObserver;
using testing::TestImage;

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