// The polling fallback against the real core (RocksDB state, scheduler, delivery dedup) with a
// scripted clock and a scripted remote: a new head is queued once as a POLL build, an unchanged
// one never, a restart re-queues nothing, a hanging remote holds only its own slot, and errors
// are recorded where users look and logged once per change.
#include "coordinator/poller/branch_poller.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/core/coordinator_fixture.h"

namespace tempa::coordinator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kShaX[] = "1111111111111111111111111111111111111111";
constexpr char kShaY[] = "2222222222222222222222222222222222222222";
constexpr char kToken[] = "ghp_very-secret-token";

std::string Url(const std::string& app) { return "https://git.example.com/" + app + ".git"; }

// A remote per URL: a head, an error, or a hang until released.
class FakeResolver final : public BranchResolver {
 public:
  absl::StatusOr<std::string> ResolveBranch(const std::string& repo_url, const std::string& branch,
                                            const v1::GitCredentials& credentials) override {
    absl::MutexLock lock(&mu_);
    ++calls_[repo_url];
    tokens_seen_[repo_url] = credentials.https_token();
    auto released = [this, &repo_url]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return hanging_.count(repo_url) == 0;
    };
    mu_.Await(absl::Condition(&released));
    auto error = errors_.find(repo_url);
    if (error != errors_.end()) return error->second;
    auto head = heads_.find(repo_url);
    if (head == heads_.end()) return absl::NotFoundError("no branch " + branch);
    return head->second;
  }

  void SetHead(const std::string& url, const std::string& sha) {
    absl::MutexLock lock(&mu_);
    heads_[url] = sha;
    errors_.erase(url);
  }
  void Fail(const std::string& url, absl::Status status) {
    absl::MutexLock lock(&mu_);
    errors_[url] = std::move(status);
  }
  void Hang(const std::string& url) {
    absl::MutexLock lock(&mu_);
    hanging_[url] = true;
  }
  void Release(const std::string& url) {
    absl::MutexLock lock(&mu_);
    hanging_.erase(url);
  }
  void ReleaseAll() {
    absl::MutexLock lock(&mu_);
    hanging_.clear();
  }
  int calls(const std::string& url) {
    absl::MutexLock lock(&mu_);
    return calls_[url];
  }
  // Waits (real time, bounded) until `url` was asked `n` times: the poller's threads call in
  // their own time.
  bool AwaitCalls(const std::string& url, int n) {
    absl::MutexLock lock(&mu_);
    auto asked = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_[url] >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&asked), absl::Seconds(30));
  }
  std::string token_seen(const std::string& url) {
    absl::MutexLock lock(&mu_);
    return tokens_seen_[url];
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string> heads_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status> errors_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> hanging_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> tokens_seen_ ABSL_GUARDED_BY(mu_);
};

class BranchPollerTest : public ::testing::Test {
 protected:
  void SetUp() override { MakePoller(); }
  void TearDown() override {
    resolver_->ReleaseAll();
    poller_.reset();
  }

  void MakePoller(int max_concurrent = 4) {
    BranchPollerOptions options;
    options.max_concurrent = max_concurrent;
    options.resolve_timeout = absl::Seconds(30);
    options.jitter = 0;  // due exactly on the interval
    options.log = [this](const std::string& line) {
      absl::MutexLock lock(&log_mu_);
      log_.push_back(line);
    };
    poller_ = std::make_unique<BranchPoller>(&fixture_.core(), resolver_, options,
                                             [this] { return fixture_.clock().Now(); });
  }

  void CreateApp(const std::string& name, int interval = 10, const std::string& token = "") {
    v1::CreateAppRequest request;
    request.mutable_app()->set_name(name);
    request.mutable_app()->set_repo_url(Url(name));
    request.mutable_app()->set_poll_interval_seconds(interval);
    if (!token.empty()) request.mutable_git_credentials()->set_https_token(token);
    ASSERT_TRUE(fixture_.core().CreateApp(request).ok());
  }

  // One poll round that sees the answers of `apps` (whose remotes answer at once).
  void Round(const std::vector<std::string>& apps) {
    poller_->PollOnce();
    for (const std::string& app : apps) {
      ASSERT_TRUE(poller_->AwaitResolution(app, absl::Seconds(30))) << app;
    }
    poller_->PollOnce();
  }

  std::vector<v1::Build> Builds(const std::string& app) {
    absl::StatusOr<std::vector<v1::Build>> builds = fixture_.core().ListBuilds(app, 100);
    EXPECT_TRUE(builds.ok()) << builds.status();
    return builds.ok() ? *builds : std::vector<v1::Build>();
  }

  std::string PollError(const std::string& app) {
    absl::StatusOr<v1::App> got = fixture_.core().GetApp(app);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? got->last_poll_error() : "";
  }

  int LogLinesWith(const std::string& text) {
    absl::MutexLock lock(&log_mu_);
    int n = 0;
    for (const std::string& line : log_) n += absl::StrContains(line, text);
    return n;
  }

  std::string Log() {
    absl::MutexLock lock(&log_mu_);
    return absl::StrJoin(log_, "\n");
  }

  testing::CoordinatorFixture fixture_;
  std::shared_ptr<FakeResolver> resolver_ = std::make_shared<FakeResolver>();
  std::unique_ptr<BranchPoller> poller_;
  absl::Mutex log_mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(log_mu_);
};

TEST_F(BranchPollerTest, ANewHeadIsQueuedAsExactlyOnePollBuild) {
  CreateApp("hello");
  resolver_->SetHead(Url("hello"), kShaX);
  Round({"hello"});

  std::vector<v1::Build> builds = Builds("hello");
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].commit(), kShaX);
  EXPECT_EQ(builds[0].branch(), "main");
  EXPECT_EQ(builds[0].trigger(), v1::POLL);
  EXPECT_EQ(builds[0].delivery_id(), PollDeliveryId("hello", "main", kShaX));
  EXPECT_EQ(PollError("hello"), "");
}

TEST_F(BranchPollerTest, AnUnchangedHeadQueuesNothingAndAMovedOneQueuesTheNewCommit) {
  CreateApp("hello");
  resolver_->SetHead(Url("hello"), kShaX);
  Round({"hello"});
  // Before the interval is up nobody asks the remote again.
  fixture_.clock().Advance(absl::Seconds(5));
  Round({"hello"});
  EXPECT_EQ(resolver_->calls(Url("hello")), 1);

  fixture_.clock().Advance(absl::Seconds(5));
  Round({"hello"});
  fixture_.clock().Advance(absl::Seconds(10));
  Round({"hello"});
  EXPECT_EQ(resolver_->calls(Url("hello")), 3);
  EXPECT_EQ(Builds("hello").size(), 1u);

  resolver_->SetHead(Url("hello"), kShaY);
  fixture_.clock().Advance(absl::Seconds(10));
  Round({"hello"});
  std::vector<v1::Build> builds = Builds("hello");
  ASSERT_EQ(builds.size(), 2u);
  std::vector<std::string> commits = {builds[0].commit(), builds[1].commit()};
  EXPECT_THAT(commits, ::testing::UnorderedElementsAre(kShaX, kShaY));
}

TEST_F(BranchPollerTest, ARestartedCoordinatorDoesNotQueueACommitItQueuedBefore) {
  CreateApp("hello");
  resolver_->SetHead(Url("hello"), kShaX);
  Round({"hello"});
  ASSERT_EQ(Builds("hello").size(), 1u);

  poller_.reset();
  fixture_.Restart();
  MakePoller();
  Round({"hello"});
  EXPECT_EQ(resolver_->calls(Url("hello")), 2);  // it did ask again
  EXPECT_EQ(Builds("hello").size(), 1u);

  // A head that moved while it was down is still built.
  resolver_->SetHead(Url("hello"), kShaY);
  fixture_.clock().Advance(absl::Seconds(10));
  Round({"hello"});
  EXPECT_EQ(Builds("hello").size(), 2u);
}

TEST_F(BranchPollerTest, AHangingRemoteHoldsOnlyItsOwnSlotAndOtherAppsGoOnBeingPolled) {
  CreateApp("stuck");
  CreateApp("fine");
  resolver_->Hang(Url("stuck"));
  resolver_->SetHead(Url("stuck"), kShaX);
  resolver_->SetHead(Url("fine"), kShaX);
  Round({"fine"});
  EXPECT_EQ(Builds("fine").size(), 1u);

  resolver_->SetHead(Url("fine"), kShaY);
  for (int i = 0; i < 4; ++i) {  // 40 s: past the stuck call's 30 s deadline
    fixture_.clock().Advance(absl::Seconds(10));
    Round({"fine"});
  }
  EXPECT_EQ(resolver_->calls(Url("fine")), 5);
  EXPECT_EQ(Builds("fine").size(), 2u);
  // The stuck one is reported, not asked again while its call still runs.
  ASSERT_TRUE(resolver_->AwaitCalls(Url("stuck"), 1));
  EXPECT_EQ(resolver_->calls(Url("stuck")), 1);
  EXPECT_THAT(PollError("stuck"), HasSubstr("did not answer within 30s"));
  EXPECT_EQ(LogLinesWith("poll app stuck: the git server did not answer"), 1) << Log();
  EXPECT_TRUE(Builds("stuck").empty());

  // When it answers at last, its head is built and the error goes.
  resolver_->Release(Url("stuck"));
  ASSERT_TRUE(poller_->AwaitResolution("stuck", absl::Seconds(30)));
  poller_->PollOnce();
  EXPECT_EQ(Builds("stuck").size(), 1u);
  EXPECT_EQ(PollError("stuck"), "");
}

TEST_F(BranchPollerTest, NoMoreThanMaxConcurrentResolutionsRunAtOnce) {
  MakePoller(/*max_concurrent=*/2);
  for (const char* name : {"a", "b", "c"}) {
    CreateApp(name);
    resolver_->Hang(Url(name));
  }
  poller_->PollOnce();
  fixture_.clock().Advance(absl::Minutes(5));
  poller_->PollOnce();
  EXPECT_EQ(poller_->running(), 2);
  ASSERT_TRUE(resolver_->AwaitCalls(Url("a"), 1));
  ASSERT_TRUE(resolver_->AwaitCalls(Url("b"), 1));
  EXPECT_EQ(resolver_->calls(Url("c")), 0);

  // A freed slot goes to the app that waited.
  resolver_->SetHead(Url("a"), kShaX);
  resolver_->Release(Url("a"));
  ASSERT_TRUE(poller_->AwaitResolution("a", absl::Seconds(30)));
  poller_->PollOnce();
  EXPECT_EQ(poller_->running(), 2);
  EXPECT_TRUE(resolver_->AwaitCalls(Url("c"), 1));
}

TEST_F(BranchPollerTest, AFailingRemoteIsRecordedAndLoggedOncePerChangeAndClearedWhenItWorks) {
  CreateApp("private", 10, kToken);
  resolver_->Fail(Url("private"), absl::UnauthenticatedError("the server refused the token"));
  for (int i = 0; i < 3; ++i) {
    Round({"private"});
    fixture_.clock().Advance(absl::Seconds(10));
  }
  EXPECT_EQ(resolver_->calls(Url("private")), 3);
  EXPECT_EQ(resolver_->token_seen(Url("private")), kToken);  // the core handed them over
  EXPECT_THAT(PollError("private"), HasSubstr("the server refused the token"));
  EXPECT_EQ(LogLinesWith("refused the token"), 1) << Log();
  EXPECT_TRUE(Builds("private").empty());

  resolver_->Fail(Url("private"), absl::UnavailableError("connection reset"));
  Round({"private"});
  EXPECT_THAT(PollError("private"), HasSubstr("connection reset"));
  EXPECT_EQ(LogLinesWith("connection reset"), 1) << Log();

  fixture_.clock().Advance(absl::Seconds(10));
  resolver_->SetHead(Url("private"), kShaX);
  Round({"private"});
  EXPECT_EQ(PollError("private"), "");
  EXPECT_EQ(LogLinesWith("polling works again"), 1) << Log();
  EXPECT_EQ(Builds("private").size(), 1u);
  EXPECT_THAT(Log(), Not(HasSubstr(kToken)));
}

TEST_F(BranchPollerTest, AppsWithoutAnIntervalAreNeverPolledAndTurningItOffStopsPolling) {
  CreateApp("webhooks-only", 0);
  CreateApp("hello");
  resolver_->SetHead(Url("hello"), kShaX);
  Round({"hello"});
  EXPECT_EQ(resolver_->calls(Url("webhooks-only")), 0);

  v1::UpdateAppRequest off;
  off.mutable_app()->set_name("hello");
  off.mutable_app()->set_poll_interval_seconds(0);
  off.add_update_mask("poll_interval_seconds");
  ASSERT_TRUE(fixture_.core().UpdateApp(off).ok());
  fixture_.clock().Advance(absl::Minutes(1));
  Round({});
  EXPECT_EQ(resolver_->calls(Url("hello")), 1);
}

TEST_F(BranchPollerTest, AHeadAWebhookAlreadyQueuedIsNotBuiltAgain) {
  CreateApp("hello");
  absl::StatusOr<std::vector<AcceptedBuild>> pushed =
      fixture_.core().AcceptPush("delivery-1", {PushTarget{"hello", "main", kShaX}});
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  resolver_->SetHead(Url("hello"), kShaX);
  Round({"hello"});
  std::vector<v1::Build> builds = Builds("hello");
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].trigger(), v1::WEBHOOK);

  resolver_->SetHead(Url("hello"), kShaY);
  fixture_.clock().Advance(absl::Seconds(10));
  Round({"hello"});
  builds = Builds("hello");
  ASSERT_EQ(builds.size(), 2u);
  EXPECT_EQ(builds[0].commit(), kShaY);
  EXPECT_EQ(builds[0].trigger(), v1::POLL);
}

TEST_F(BranchPollerTest, UsersCannotSetThePollErrorAndChangingTheRepositoryClearsIt) {
  v1::CreateAppRequest request;
  request.mutable_app()->set_name("hello");
  request.mutable_app()->set_repo_url(Url("hello"));
  request.mutable_app()->set_poll_interval_seconds(10);
  request.mutable_app()->set_last_poll_error("forged");
  ASSERT_TRUE(fixture_.core().CreateApp(request).ok());
  EXPECT_EQ(PollError("hello"), "");

  resolver_->Fail(Url("hello"), absl::NotFoundError("no branch main"));
  Round({"hello"});
  EXPECT_THAT(PollError("hello"), HasSubstr("no branch main"));
  v1::UpdateAppRequest moved;
  moved.mutable_app()->set_name("hello");
  moved.mutable_app()->set_repo_url(Url("elsewhere"));
  moved.add_update_mask("repo_url");
  ASSERT_TRUE(fixture_.core().UpdateApp(moved).ok());
  EXPECT_EQ(PollError("hello"), "");
  // The next poll reads the new repository at once.
  resolver_->SetHead(Url("elsewhere"), kShaX);
  poller_->PollOnce();
  ASSERT_TRUE(poller_->AwaitResolution("hello", absl::Seconds(30)));
  poller_->PollOnce();
  EXPECT_EQ(resolver_->calls(Url("elsewhere")), 1);
  EXPECT_EQ(Builds("hello").size(), 1u);
}

TEST(PollDeliveryIdTest, StaysWithinTheDeliveryIdLimitForTheLongestBranch) {
  std::string branch(255, 'b');
  std::string id = PollDeliveryId(std::string(63, 'a'), branch, kShaX);
  EXPECT_LE(id.size(), 256u);
  EXPECT_NE(id, PollDeliveryId(std::string(63, 'a'), branch, kShaY));
  EXPECT_EQ(PollDeliveryId("hello", "main", kShaX), absl::StrCat("poll:hello:main:", kShaX));
}

}  // namespace
}  // namespace tempa::coordinator
