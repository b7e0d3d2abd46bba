// The farm end to end, with real processes: a git push (as GitHub's signed webhook) becomes a
// build on a tempa-worker and an image in a real registry; workers and the coordinator are
// killed with SIGKILL mid-build and the builds still end exactly once.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/farm_fixture.h"
#include "tests/support/git_repo_builder.h"

namespace tempa::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kSecret[] = "farm-webhook-secret";

// A small Go web app; `salt` changes the source so each commit builds something new.
void WriteGoApp(GitRepoBuilder& repo, const std::string& salt) {
  repo.WriteFile("go.mod", "module example.com/hello\n\ngo 1.19\n");
  repo.WriteFile("main.go", absl::StrCat(R"(package main

import (
	"fmt"
	"net/http"
	"os"
)

const salt = ")",
                                         salt, R"("

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s\n", salt)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.ListenAndServe(":"+port, nil)
}
)"));
}

class FarmE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!FarmFixture::Available(&why)) GTEST_SKIP() << why;
    ASSERT_TRUE(farm_.StartRegistry().ok());
    ASSERT_TRUE(farm_.StartCoordinator().ok()) << farm_.coordinator()->log();
    std::ofstream(farm_.path("secret")) << kSecret;
  }

  // Creates app `name` over `url` with the webhook secret.
  void CreateApp(const std::string& name, const std::string& url) {
    CommandResult created = farm_.Cli(
        {"apps", "create", name, "--repo", url, "--webhook-secret-file", farm_.path("secret")});
    ASSERT_EQ(created.exit_code, 0) << created.err;
  }

  // Posts a signed push; returns the build ids the coordinator answered with.
  std::vector<std::string> Push(const std::string& url, const std::string& sha,
                                const std::string& delivery) {
    HttpAnswer answer =
        farm_.PostWebhook("push", delivery, GithubPushPayload(url, "main", sha), kSecret);
    EXPECT_TRUE(answer.status == 201 || answer.status == 202 || answer.status == 200)
        << answer.status << " " << answer.body;
    std::vector<std::string> ids;
    json body = json::parse(answer.body, nullptr, false);
    if (body.is_object() && body.contains("builds")) {
      for (const json& build : body["builds"]) ids.push_back(build.value("id", ""));
    }
    return ids;
  }

  std::string ManifestStatus(const std::string& image) {
    // image: HOST:PORT/NAME@sha256:...
    size_t slash = image.find('/');
    size_t at = image.find('@');
    CommandResult head = RunCommand({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                                     "Accept: application/vnd.oci.image.manifest.v1+json",
                                     absl::StrCat("http://", image.substr(0, slash), "/v2/",
                                                  image.substr(slash + 1, at - slash - 1),
                                                  "/manifests/", image.substr(at + 1))});
    return head.out;
  }

  FarmFixture farm_;
  TempDir repos_{"tempa-farm-repos-"};
};

TEST_F(FarmE2eTest, SignedPushOverGitDaemonIsBuiltAndLogsStreamBeforeItEnds) {
  GitRepoBuilder repo(repos_.Join("hello"));
  WriteGoApp(repo, "one");
  std::string sha = repo.Commit("first");
  GitDaemon daemon(repos_.path());
  std::string url = daemon.Url("hello");
  CreateApp("hello", url);
  ASSERT_TRUE(farm_.StartWorker("w1").ok()) << farm_.worker("w1")->log();

  std::vector<std::string> ids = Push(url, sha, "delivery-1");
  ASSERT_EQ(ids.size(), 1u);
  // Follow the log while the build runs: output arrives before it ends.
  absl::StatusOr<std::unique_ptr<DaemonProcess>> follow = DaemonProcess::Start(
      {absl::StrCat(TEMPA_BINARY_DIR, "/worker/tempa"), "--coordinator", farm_.grpc_address(),
       "--token-file", farm_.admin_token_file(), "builds", "logs", ids[0], "--follow"},
      farm_.path("follow.log"));
  ASSERT_TRUE(follow.ok());
  ASSERT_TRUE((*follow)->WaitForLine("tempa:", absl::Minutes(2)).ok()) << (*follow)->log();
  absl::StatusOr<json> built = farm_.WaitForBuild(ids[0], {"SUCCEEDED", "FAILED"});
  ASSERT_TRUE(built.ok()) << built.status() << farm_.worker("w1")->log();
  EXPECT_EQ((*built)["status"], "SUCCEEDED") << built->dump(2);
  EXPECT_EQ((*built)["commit"], sha);
  std::string image = (*built)["image"];
  EXPECT_THAT(image, HasSubstr(farm_.registry() + "/hello@sha256:"));
  EXPECT_EQ(ManifestStatus(image), "200");
  // The follower ends by itself once the build's end reaches it.
  EXPECT_EQ((*follow)->WaitForExit(absl::Minutes(1)), 0) << (*follow)->log();
}

TEST_F(FarmE2eTest, SignedPushOverAFileUrlIsBuiltIntoTheRegistry) {
  GitRepoBuilder repo(repos_.Join("hello"));
  WriteGoApp(repo, "file");
  std::string sha = repo.Commit("first");
  ASSERT_EQ(repo.url().rfind("file://", 0), 0u) << repo.url();
  CreateApp("hello", repo.url());
  ASSERT_TRUE(farm_.StartWorker("w1").ok()) << farm_.worker("w1")->log();
  std::vector<std::string> ids = Push(repo.url(), sha, "d-file");
  ASSERT_EQ(ids.size(), 1u);
  absl::StatusOr<json> built = farm_.WaitForBuild(ids[0], {"SUCCEEDED", "FAILED"});
  ASSERT_TRUE(built.ok()) << built.status() << farm_.worker("w1")->log();
  EXPECT_EQ((*built)["status"], "SUCCEEDED") << built->dump(2);
  EXPECT_EQ((*built)["commit"], sha);
  std::string image = (*built)["image"];
  EXPECT_THAT(image, HasSubstr(farm_.registry() + "/hello@sha256:"));
  EXPECT_EQ(ManifestStatus(image), "200");
}

TEST_F(FarmE2eTest, RejectedWebhooksLeaveNoTraceAndADuplicateDeliveryBuildsOnce) {
  GitRepoBuilder repo(repos_.Join("hello"));
  WriteGoApp(repo, "two");
  std::string sha = repo.Commit("first");
  CreateApp("hello", repo.url());
  std::string body = GithubPushPayload(repo.url(), "main", sha);

  HttpAnswer bad = farm_.PostWebhook("push", "d-bad", body, "wrong-secret");
  EXPECT_EQ(bad.status, 401) << bad.body;
  HttpAnswer unknown = farm_.PostWebhook(
      "push", "d-unknown", GithubPushPayload("https://git.example.com/nobody.git", "main", sha),
      kSecret);
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_THAT(unknown.body, HasSubstr("tempa apps create"));
  HttpAnswer ping = farm_.PostWebhook(
      "ping", "d-ping", json({{"zen", "hi"}, {"repository", {{"clone_url", repo.url()}}}}).dump(),
      kSecret);
  EXPECT_EQ(ping.status, 200) << ping.body;
  absl::StatusOr<json> none = farm_.CliJson({"builds", "list"});
  ASSERT_TRUE(none.ok()) << none.status();
  json list = none->is_array() ? *none : (*none)["builds"];
  EXPECT_EQ(list.size(), 0u) << none->dump();

  std::vector<std::string> first = Push(repo.url(), sha, "d-same");
  std::vector<std::string> again = Push(repo.url(), sha, "d-same");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(again, first);
  absl::StatusOr<json> one = farm_.CliJson({"builds", "list"});
  ASSERT_TRUE(one.ok());
  list = one->is_array() ? *one : (*one)["builds"];
  EXPECT_EQ(list.size(), 1u) << one->dump();
}

TEST_F(FarmE2eTest, FivePushesToOneBranchInASecondBuildOnlyTheNewest) {
  GitRepoBuilder repo(repos_.Join("hello"));
  std::vector<std::string> shas;
  for (int i = 0; i < 5; ++i) {
    WriteGoApp(repo, absl::StrCat("push-", i));
    shas.push_back(repo.Commit(absl::StrCat("change ", i)));
  }
  CreateApp("hello", repo.url());
  ASSERT_TRUE(farm_.StartWorker("w1").ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    std::vector<std::string> made = Push(repo.url(), shas[i], absl::StrCat("d-", i));
    ASSERT_EQ(made.size(), 1u);
    ids.push_back(made[0]);
  }
  absl::StatusOr<json> newest = farm_.WaitForBuild(ids[4], {"SUCCEEDED", "FAILED"});
  ASSERT_TRUE(newest.ok()) << newest.status();
  EXPECT_EQ((*newest)["status"], "SUCCEEDED");
  EXPECT_EQ((*newest)["commit"], shas[4]);
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<json> older =
        farm_.WaitForBuild(ids[i], {"SUPERSEDED", "SUCCEEDED", "FAILED", "CANCELLED"});
    ASSERT_TRUE(older.ok());
    EXPECT_EQ((*older)["status"], "SUPERSEDED") << older->dump(2);
  }
}

TEST_F(FarmE2eTest, BuildOfAKilledWorkerIsLeasedAgainAndSucceedsOnAnother) {
  GitRepoBuilder repo(repos_.Join("hello"));
  WriteGoApp(repo, "three");
  std::string sha = repo.Commit("first");
  CreateApp("hello", repo.url());
  ASSERT_TRUE(farm_.StartWorker("w1").ok());
  ASSERT_TRUE(farm_.StartWorker("w2").ok());
  std::vector<std::string> ids = Push(repo.url(), sha, "d-kill");
  ASSERT_EQ(ids.size(), 1u);
  // Whichever worker holds the lease dies (SIGKILL) the moment it has it.
  std::string holder, other;
  for (int i = 0; i < 1200 && holder.empty(); ++i) {
    for (auto [name, peer] : {std::pair<std::string, std::string>{"w1", "w2"}, {"w2", "w1"}}) {
      if (farm_.worker(name)->log().find("leased") != std::string::npos) {
        holder = name;
        other = peer;
        break;
      }
    }
    if (holder.empty()) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_FALSE(holder.empty()) << "no worker leased the build";
  farm_.KillWorker(holder);
  absl::StatusOr<json> built = farm_.WaitForBuild(ids[0], {"SUCCEEDED", "FAILED"});
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ((*built)["status"], "SUCCEEDED") << built->dump(2);
  EXPECT_EQ((*built)["worker_id"], other);
  // 2, unless the survivor's heartbeats stalled past the lease under load and it ran once more.
  EXPECT_GE((*built)["attempt"].get<int>(), 2);
}

TEST_F(FarmE2eTest, CoordinatorKilledWithBuildsQueuedAndRunningLosesNothingAfterRestart) {
  std::vector<std::string> urls;
  for (std::string name : {"alpha", "beta", "gamma"}) {
    GitRepoBuilder repo(repos_.Join(name));
    WriteGoApp(repo, name);
    std::string sha = repo.Commit("first");
    CreateApp(name, repo.url());
    urls.push_back(repo.url());
  }
  ASSERT_TRUE(farm_.StartWorker("w1").ok());
  std::vector<std::string> ids;
  for (size_t i = 0; i < urls.size(); ++i) {
    GitRepoBuilder repo(repos_.Join(std::vector<std::string>{"alpha", "beta", "gamma"}[i]));
    std::vector<std::string> made = Push(urls[i], repo.Head(), absl::StrCat("d-crash-", i));
    ASSERT_EQ(made.size(), 1u);
    ids.push_back(made[0]);
  }
  ASSERT_TRUE(farm_.worker("w1")->WaitForLine("leased", absl::Minutes(1)).ok());
  farm_.KillCoordinator();
  absl::SleepFor(absl::Seconds(1));
  ASSERT_TRUE(farm_.StartCoordinator().ok()) << farm_.coordinator()->log();
  for (const std::string& id : ids) {
    absl::StatusOr<json> built = farm_.WaitForBuild(id, {"SUCCEEDED", "FAILED"}, absl::Minutes(4));
    ASSERT_TRUE(built.ok()) << built.status() << farm_.worker("w1")->log();
    EXPECT_EQ((*built)["status"], "SUCCEEDED") << built->dump(2);
  }
  absl::StatusOr<json> all = farm_.CliJson({"builds", "list"});
  ASSERT_TRUE(all.ok());
  json list = all->is_array() ? *all : (*all)["builds"];
  EXPECT_EQ(list.size(), 3u) << all->dump(2);
}

// Holds 127.0.0.1:PORT of `address` ("127.0.0.1:PORT") as a listener; -1 when it cannot.
int HoldPort(const std::string& address) {
  int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  if (holder < 0 || ::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(holder, 1) != 0) {
    if (holder >= 0) ::close(holder);
    return -1;
  }
  return holder;
}

// The fixture's own guard against CI's "address already in use": another listener holding the
// picked gRPC or webhook port before the first start makes it pick again, and the farm answers.
TEST(FarmFixtureTest, AFirstStartMovesToOtherPortsWhenAnotherListenerHoldsAPickedOne) {
  std::string why;
  if (!FarmFixture::Available(&why)) GTEST_SKIP() << why;
  for (bool grpc : {true, false}) {
    SCOPED_TRACE(grpc ? "gRPC port held" : "webhook port held");
    FarmFixture farm;
    ASSERT_TRUE(farm.StartRegistry().ok());
    const std::string taken = grpc ? farm.grpc_address() : farm.webhook_address();
    int holder = HoldPort(taken);
    ASSERT_GE(holder, 0);

    absl::Status started = farm.StartCoordinator();
    ::close(holder);

    ASSERT_TRUE(started.ok()) << started << "\n" << farm.coordinator()->log();
    EXPECT_NE(grpc ? farm.grpc_address() : farm.webhook_address(), taken);
    EXPECT_THAT(farm.coordinator()->log(), HasSubstr(taken));
    CommandResult apps = farm.Cli({"apps", "list"});
    EXPECT_EQ(apps.exit_code, 0) << apps.err;
  }
}

}  // namespace
}  // namespace tempa::testing
