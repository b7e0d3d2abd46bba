// LocalBackend with deploys running at once: two tracks, a track twice, pruning meanwhile.
#include <thread>

#include "deploy/local/local_backend.h"
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

}  // namespace
}  // namespace tempa::deploy
