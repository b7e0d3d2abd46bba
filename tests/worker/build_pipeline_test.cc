// The pipeline itself, with a scripted buildpack in the real sandbox, a real LocalCas and a
// fake registry on loopback: a build cancelled from another thread stops at once, cleans up and
// says why; a cancelled build starts nothing; concurrent builds on one pipeline keep the blobs
// they use from each other's eviction; two revisions of one app at once take its cache in turn.
#include "worker/build_pipeline.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/build_error.h"
#include "common/cas/local_cas.h"
#include "common/registry/curl_http_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/fake_registry.h"
#include "tests/support/temp_dir.h"
#include "tests/worker/scripted_app.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

namespace tempa::worker {
namespace {

namespace fs = std::filesystem;

// Host processes whose command line contains `marker`.
int CountProcessesWith(const std::string& marker) {
  int found = 0;
  for (const fs::directory_entry& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline");
    std::stringstream text;
    text << in.rdbuf();
    if (absl::StrContains(text.str(), marker) && std::stoi(name) != ::getpid()) ++found;
  }
  return found;
}

class BuildPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::chmod(tmp_.path().c_str(), 0711);  // the build user passes through to its directories
    absl::StatusOr<std::unique_ptr<cas::LocalCas>> cas =
        cas::LocalCas::Open(tmp_.Join("cas"), cas::LocalCasOptions{});
    ASSERT_TRUE(cas.ok()) << cas.status();
    cas_ = *std::move(cas);
    deps_.blobs = &cas_->blobs();
    deps_.actions = &cas_->actions();
    deps_.sandbox = &sandbox_;
    deps_.detector = &detector_;
    deps_.prepare_writable_dir = [this](const std::string& dir) {
      return PrepareForSandbox(dir, sandbox_options_);
    };
    options_.cache_dir = tmp_.Join("work");
    options_.scratch_dir = tmp_.Join("work/tmp");
    if (sandbox_.drops_privileges()) {
      options_.build_owner = DirOwner{sandbox_options_.build_uid, sandbox_options_.build_gid};
    }
    registry::RegistryClientOptions registry_options;
    registry_options.insecure = true;
    client_ = std::make_unique<registry::RegistryClient>(registry_.host_port(), &transport_,
                                                         registry_options);
    session_.registry = client_.get();
    session_.cancel = &cancel_;
    session_.log = [this](absl::string_view line) {
      if (line == "started" && !started_.HasBeenNotified()) started_.Notify();
    };
  }

  BuildRequest Request(const std::string& app_dir) {
    BuildRequest request;
    request.source_dir = app_dir;
    request.image = *registry::ImageReference::Parse(registry_.host_port() + "/scripted:1");
    request.source_date_epoch = 1700000000;
    return request;
  }

  // Entries left in the parent of the builds' scratch directories.
  std::vector<std::string> ScratchLeft() {
    std::vector<std::string> left;
    std::error_code ec;
    for (fs::directory_iterator it(options_.scratch_dir, ec), end; !ec && it != end;
         it.increment(ec)) {
      left.push_back(it->path().filename());
    }
    return left;
  }

  testing::TempDir tmp_{"pipeline-test-"};
  testing::FakeRegistry registry_{testing::FakeRegistry::Options{}};
  registry::CurlHttpTransport transport_;
  std::unique_ptr<registry::RegistryClient> client_;
  BubblewrapSandboxOptions sandbox_options_;
  BubblewrapSandbox sandbox_{sandbox_options_};
  buildpacks::Detector detector_ = testing::ScriptedDetector();
  std::unique_ptr<cas::LocalCas> cas_;
  PipelineDeps deps_;
  PipelineOptions options_;
  BuildSession session_;
  CancelToken cancel_;
  absl::Notification started_;
};

TEST_F(BuildPipelineTest, ACancelledBuildStopsItsStepFailsAsCancelledAndCleansItsScratch) {
  const std::string marker = absl::StrCat("86400.", ::getpid());
  testing::WriteScriptedApp(
      tmp_.Join("app"), "lock v1",
      absl::StrCat("echo started\nwhile true; do sleep ", marker, " & sleep 0.05; done\n"), "hi");
  BuildPipeline pipeline(deps_, options_);
  std::thread canceller([this] {
    // Not a timing assertion: only keeps a build that never starts from hanging the test.
    started_.WaitForNotificationWithTimeout(absl::Minutes(2));
    cancel_.Cancel();
  });
  absl::StatusOr<BuildOutcome> outcome = pipeline.Build(Request(tmp_.Join("app")), session_);
  canceller.join();
  ASSERT_TRUE(started_.HasBeenNotified());
  ASSERT_FALSE(outcome.ok());
  std::optional<BuildFailure> failure = FailureOf(outcome.status());
  ASSERT_TRUE(failure.has_value()) << outcome.status();
  EXPECT_EQ(FailureKindName(failure->kind), "cancelled") << outcome.status();
  EXPECT_EQ(failure->step, "build");
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(CountProcessesWith(marker), 0);
  EXPECT_THAT(ScratchLeft(), ::testing::IsEmpty());
  EXPECT_EQ(registry_.requests("PUT"), 0) << "a cancelled build pushed";
}

TEST_F(BuildPipelineTest, ACancelEndsTheWaitForTheAppsCache) {
  testing::WriteScriptedApp(tmp_.Join("app"), "lock v1", "echo started\n", "hi");
  // Another build of the app holds its cache.
  BuildDirs::Options held_options{options_.scratch_dir, options_.cache_dir,
                                  options_.build_owner.value_or(CurrentOwner())};
  absl::StatusOr<BuildDirs> held =
      BuildDirs::Open(held_options, registry_.host_port() + "/scripted", nullptr);
  ASSERT_TRUE(held.ok()) << held.status();
  absl::Notification waiting;
  session_.log = [&](absl::string_view line) {
    if (absl::StartsWith(line, "waiting for another build")) waiting.Notify();
  };
  std::thread canceller([&] {
    waiting.WaitForNotificationWithTimeout(absl::Minutes(2));
    cancel_.Cancel();
  });
  absl::StatusOr<BuildOutcome> outcome =
      BuildPipeline(deps_, options_).Build(Request(tmp_.Join("app")), session_);
  canceller.join();
  EXPECT_TRUE(waiting.HasBeenNotified());
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(FailureOf(outcome.status())->kind, FailureKind::kCancelled) << outcome.status();
  EXPECT_FALSE(started_.HasBeenNotified());
}

TEST_F(BuildPipelineTest, ABuildCancelledBeforeItStartsRunsNothing) {
  testing::WriteScriptedApp(tmp_.Join("app"), "lock v1", "echo started\n", "hi");
  cancel_.Cancel();
  absl::StatusOr<BuildOutcome> outcome =
      BuildPipeline(deps_, options_).Build(Request(tmp_.Join("app")), session_);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(FailureOf(outcome.status())->kind, FailureKind::kCancelled) << outcome.status();
  EXPECT_FALSE(started_.HasBeenNotified());
  EXPECT_THAT(ScratchLeft(), ::testing::IsEmpty());
}

TEST_F(BuildPipelineTest, AnUncancelledBuildPushes) {
  testing::WriteScriptedApp(tmp_.Join("app"), "lock v1", "echo started\necho dep > dep.txt\n",
                            "hi");
  absl::StatusOr<BuildOutcome> outcome =
      BuildPipeline(deps_, options_).Build(Request(tmp_.Join("app")), session_);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_TRUE(started_.HasBeenNotified());
  ASSERT_EQ(outcome->layers.size(), 2u);
  EXPECT_FALSE(outcome->layers[0].reused);
  EXPECT_THAT(ScratchLeft(), ::testing::IsEmpty());
}

TEST_F(BuildPipelineTest, ConcurrentBuildsOnOnePipelineKeepTheBlobsTheyUseFromEviction) {
  // A cap so small that every blob written evicts every other one not pinned.
  cas_.reset();
  cas::LocalCasOptions cas_options;
  cas_options.max_bytes = 1;
  absl::StatusOr<std::unique_ptr<cas::LocalCas>> cas =
      cas::LocalCas::Open(tmp_.Join("cas"), cas_options);
  ASSERT_TRUE(cas.ok()) << cas.status();
  cas_ = *std::move(cas);
  deps_.blobs = &cas_->blobs();
  deps_.actions = &cas_->actions();
  BuildPipeline pipeline(deps_, options_);

  // A: its deps layer is written, then its app step waits until the test lets it go on.
  testing::WriteScriptedApp(tmp_.Join("a"), "lock a", "echo dep-a > a.txt\n", "a");
  testing::WriteFileOrDie(tmp_.Join("a/app.sh"),
                          "echo waiting\nwhile [ ! -e /src/go ]; do sleep 0.05; done\n");
  testing::WriteScriptedApp(tmp_.Join("b"), "lock b", "echo dep-b > b.txt\n", "b");
  absl::Notification a_waiting;
  BuildSession session_a;
  registry::RegistryClientOptions insecure;
  insecure.insecure = true;
  registry::RegistryClient client_a(registry_.host_port(), &transport_, insecure);
  session_a.registry = &client_a;
  session_a.log = [&](absl::string_view line) {
    if (line == "waiting") a_waiting.Notify();
  };
  BuildRequest request_a = Request(tmp_.Join("a"));
  request_a.image = *registry::ImageReference::Parse(registry_.host_port() + "/a:1");
  absl::StatusOr<BuildOutcome> outcome_a = absl::UnknownError("not run");
  std::thread build_a([&] { outcome_a = pipeline.Build(request_a, session_a); });
  // Not a timing assertion: only keeps a build that never gets there from hanging the test.
  ASSERT_TRUE(a_waiting.WaitForNotificationWithTimeout(absl::Minutes(2)));

  // B runs to the end meanwhile, each of its writes evicting what nobody pins.
  BuildRequest request_b = Request(tmp_.Join("b"));
  request_b.image = *registry::ImageReference::Parse(registry_.host_port() + "/b:1");
  absl::StatusOr<BuildOutcome> outcome_b = pipeline.Build(request_b, session_);
  EXPECT_TRUE(outcome_b.ok()) << outcome_b.status();
  ASSERT_TRUE(cas_->EvictToFit().ok());

  testing::WriteFileOrDie(tmp_.Join("a/go"), "");
  build_a.join();
  ASSERT_TRUE(outcome_a.ok()) << outcome_a.status();
  ASSERT_EQ(outcome_a->layers.size(), 2u);
  const Digest deps_a = outcome_a->layers[0].record.blob.digest;
  EXPECT_TRUE(registry_.HasBlob("a", deps_a.ToString())) << "A pushed without its deps layer";
  // Once A has ended its blobs are fair game again.
  ASSERT_TRUE(cas_->EvictToFit().ok());
  EXPECT_FALSE(*cas_->blobs().Contains(deps_a));
}

// Two slots of one worker building two revisions of one app at once: the second waits for the
// app's cache, says so, and each image holds its own revision (A built alone again gives the
// same app layer as A built alongside B).
TEST_F(BuildPipelineTest, TwoRevisionsOfOneAppAtOnceTakeTheAppsCacheInTurnAndKeepTheirOwnCode) {
  BuildPipeline pipeline(deps_, options_);
  testing::WriteScriptedApp(tmp_.Join("a"), "lock v1", "echo dep\n", "revision A");
  testing::WriteFileOrDie(tmp_.Join("a/app.sh"),
                          "echo holding\nwhile [ ! -e /src/go ]; do sleep 0.05; done\n");
  testing::WriteScriptedApp(tmp_.Join("b"), "lock v1", "echo dep\n", "revision B");
  absl::Notification a_holding, b_waiting;
  BuildSession session_a = session_;
  session_a.log = [&](absl::string_view line) {
    if (line == "holding") a_holding.Notify();
  };
  absl::StatusOr<BuildOutcome> outcome_a = absl::UnknownError("not run");
  std::thread build_a([&] { outcome_a = pipeline.Build(Request(tmp_.Join("a")), session_a); });
  // Not a timing assertion: only keeps a build that never gets there from hanging the test.
  ASSERT_TRUE(a_holding.WaitForNotificationWithTimeout(absl::Minutes(2)));

  BuildSession session_b = session_;
  session_b.log = [&](absl::string_view line) {
    if (absl::StartsWith(line, "waiting for another build")) b_waiting.Notify();
  };
  absl::StatusOr<BuildOutcome> outcome_b = absl::UnknownError("not run");
  std::thread build_b([&] { outcome_b = pipeline.Build(Request(tmp_.Join("b")), session_b); });
  bool waited = b_waiting.WaitForNotificationWithTimeout(absl::Minutes(2));
  testing::WriteFileOrDie(tmp_.Join("a/go"), "");
  build_a.join();
  build_b.join();
  EXPECT_TRUE(waited);
  ASSERT_TRUE(outcome_a.ok()) << outcome_a.status();
  ASSERT_TRUE(outcome_b.ok()) << outcome_b.status();
  ASSERT_EQ(outcome_a->layers.size(), 2u);
  ASSERT_EQ(outcome_b->layers.size(), 2u);
  EXPECT_NE(outcome_a->layers[1].record.blob.digest, outcome_b->layers[1].record.blob.digest);

  absl::StatusOr<BuildOutcome> alone = pipeline.Build(Request(tmp_.Join("a")), session_);
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_EQ(alone->layers[1].record.blob.digest, outcome_a->layers[1].record.blob.digest);
}

}  // namespace
}  // namespace tempa::worker
