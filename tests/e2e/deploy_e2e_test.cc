// The deployer end to end on one machine, with real processes: a signed push becomes a build,
// the build becomes a container under runc behind nginx, and the app answers at its host name
// over TLS. Switch-overs lose no request, an unhealthy version is never switched to, a memory
// hog is killed by its limit and restarted, a rollback needs no build, and intents made while
// the deployer was down are delivered once it is back.
#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/deploy_fixture.h"
#include "tests/support/git_repo_builder.h"

namespace tempa::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kSecret[] = "deploy-webhook-secret";

// A Go web app answering its version. "/healthz" fails for the version "broken"; "/eat"
// allocates until the memory limit kills the process.
void WriteGoApp(GitRepoBuilder& repo, const std::string& version) {
  repo.WriteFile("go.mod", "module example.com/web\n\ngo 1.19\n");
  repo.WriteFile("main.go", absl::StrCat(R"(package main

import (
	"fmt"
	"net/http"
	"os"
)

const version = ")",
                                         version, R"("

func main() {
	fmt.Println("version", version, "starting")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, version)
	})
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if version == "broken" {
			http.Error(w, "not ready", 500)
			return
		}
		fmt.Fprint(w, "ok")
	})
	var hoard [][]byte
	http.HandleFunc("/eat", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 4096; i++ {
			chunk := make([]byte, 1<<20)
			for j := range chunk {
				chunk[j] = byte(j)
			}
			hoard = append(hoard, chunk)
		}
		fmt.Fprint(w, len(hoard))
	})
	http.ListenAndServe(":"+os.Getenv("PORT"), nil)
}
)"));
}

class DeployE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!DeployFarm::Available(&why)) GTEST_SKIP() << why;
    absl::Status started = stack_.Start();
    ASSERT_TRUE(started.ok()) << started << "\n" << Logs();
    std::ofstream(stack_.farm().path("secret")) << kSecret;
  }

  std::string Logs() {
    std::string logs;
    if (stack_.deployer()) absl::StrAppend(&logs, "deployer:\n", stack_.deployer()->log());
    if (stack_.farm().coordinator()) {
      absl::StrAppend(&logs, "coordinator:\n", stack_.farm().coordinator()->log());
    }
    if (stack_.farm().worker("w1")) {
      absl::StrAppend(&logs, "worker:\n", stack_.farm().worker("w1")->log());
    }
    return logs;
  }

  // Creates app `name` from a new repository; `settings` go to `tempa apps set`.
  GitRepoBuilder& CreateApp(const std::string& name, const std::vector<std::string>& settings) {
    repos_[name] = std::make_unique<GitRepoBuilder>(repo_dir_.Join(name));
    CommandResult created =
        stack_.farm().Cli({"apps", "create", name, "--repo", Url(name), "--webhook-secret-file",
                           stack_.farm().path("secret")});
    EXPECT_EQ(created.exit_code, 0) << created.err;
    if (!settings.empty()) {
      std::vector<std::string> args = {"apps", "set", name};
      args.insert(args.end(), settings.begin(), settings.end());
      CommandResult set = stack_.farm().Cli(args);
      EXPECT_EQ(set.exit_code, 0) << set.err;
    }
    return *repos_[name];
  }

  std::string Url(const std::string& name) { return "file://" + repo_dir_.Join(name); }

  // Commits `version` of app `name`, pushes it with a signed webhook; returns the build id.
  std::string Push(const std::string& name, const std::string& version) {
    GitRepoBuilder& repo = *repos_[name];
    WriteGoApp(repo, version);
    std::string sha = repo.Commit(version);
    shas_[version] = sha;
    HttpAnswer answer =
        stack_.farm().PostWebhook("push", absl::StrCat("delivery-", name, "-", version),
                                  GithubPushPayload(Url(name), "main", sha), kSecret);
    json body = json::parse(answer.body, nullptr, false);
    if (!body.is_object() || !body.contains("builds") || body["builds"].empty()) {
      ADD_FAILURE() << "push refused: " << answer.status << " " << answer.body;
      return "";
    }
    return body["builds"][0].value("id", "");
  }

  // Pushes and waits for the deploy; returns the build with its deploy.
  json PushAndDeploy(const std::string& name, const std::string& version) {
    std::string id = Push(name, version);
    absl::StatusOr<json> build = stack_.WaitForDeploy(id);
    EXPECT_TRUE(build.ok()) << build.status() << "\n" << Logs();
    return build.ok() ? *build : json::object();
  }

  std::string Host(const std::string& name) { return absl::StrCat(name, ".", kDeployDomain); }

  DeployFarm stack_;
  TempDir repo_dir_{"tempa-deploy-repos-"};
  std::map<std::string, std::unique_ptr<GitRepoBuilder>> repos_;
  std::map<std::string, std::string> shas_;
};

TEST_F(DeployE2eTest,
       PushGoesLiveSwitchesWithoutAFailedRequestRefusesAnUnhealthyVersionAndRollsBack) {
  CreateApp("web", {"--health-path", "/healthz", "--memory", "128Mi"});
  json first = PushAndDeploy("web", "v1");
  ASSERT_EQ(first["deploy"]["status"], "DEPLOYED") << first.dump(2) << Logs();
  EXPECT_THAT(first["deploy"]["urls"].dump(), HasSubstr(stack_.EdgeUrl(Host("web"))));
  // The deployer's timed steps reach the build's record.
  EXPECT_THAT(first["deploy"]["steps"].dump(), HasSubstr("\"name\":\"switching\""));
  EXPECT_EQ(stack_.EdgeGet(Host("web")).body, "v1");
  std::string commit_host = absl::StrCat("web-", shas_["v1"].substr(0, 7), ".", kDeployDomain);
  EXPECT_EQ(stack_.EdgeGet(commit_host).body, "v1");
  EXPECT_EQ(stack_.EdgeGet("nobody.apps.test").status, 404);

  // A client polling through the switch-over sees only answers, first v1, then v2.
  std::atomic<bool> polling = true;
  std::atomic<int> failures = 0, answers = 0;
  std::string failure;
  std::thread poller([&] {
    while (polling) {
      HttpAnswer answer = stack_.EdgeGet(Host("web"));
      if (answer.status != 200 || (answer.body != "v1" && answer.body != "v2")) {
        if (failures++ == 0) failure = absl::StrCat(answer.status, " ", answer.body);
      }
      answers++;
    }
  });
  json second = PushAndDeploy("web", "v2");
  absl::SleepFor(absl::Milliseconds(500));
  polling = false;
  poller.join();
  ASSERT_EQ(second["deploy"]["status"], "DEPLOYED") << second.dump(2) << Logs();
  EXPECT_EQ(failures, 0) << "first failure: " << failure << " of " << answers << " requests";
  EXPECT_GT(answers, 10);
  EXPECT_EQ(stack_.EdgeGet(Host("web")).body, "v2");

  // A version whose health check never passes is not switched to.
  json broken = PushAndDeploy("web", "broken");
  ASSERT_EQ(broken["deploy"]["status"], "DEPLOY_FAILED") << broken.dump(2);
  EXPECT_THAT(broken["deploy"]["reason"].get<std::string>(), HasSubstr("/healthz"));
  EXPECT_THAT(broken["deploy"]["log_tail"].get<std::string>(),
              HasSubstr("version broken starting"));
  EXPECT_EQ(stack_.EdgeGet(Host("web")).body, "v2");

  // Rollback to the first build: no new build, the old version answers.
  absl::StatusOr<json> builds_before = stack_.farm().CliJson({"builds", "list", "--app", "web"});
  ASSERT_TRUE(builds_before.ok());
  absl::Time start = absl::Now();
  CommandResult rollback =
      stack_.farm().Cli({"deploys", "rollback", "web", "--to", first["id"].get<std::string>()});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.err;
  std::string answer;
  for (absl::Time until = start + absl::Minutes(2); answer != "v1" && absl::Now() < until;) {
    answer = stack_.EdgeGet(Host("web")).body;
    if (answer != "v1") absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(answer, "v1") << Logs();
  std::cout << "rollback answered with the old version after " << (absl::Now() - start) << "\n";
  absl::StatusOr<json> builds_after = stack_.farm().CliJson({"builds", "list", "--app", "web"});
  ASSERT_TRUE(builds_after.ok());
  EXPECT_EQ((*builds_after)["builds"].size(), (*builds_before)["builds"].size());
  absl::StatusOr<json> deploys = stack_.farm().CliJson({"deploys", "list", "--app", "web"});
  ASSERT_TRUE(deploys.ok());
  EXPECT_THAT(deploys->dump(), HasSubstr("\"rollback\":true"));
}

TEST_F(DeployE2eTest, AProcessPastItsMemoryLimitIsKilledAndRestartedWhileOtherAppsServe) {
  CreateApp("hog", {"--memory", "64Mi"});
  CreateApp("calm", {});
  ASSERT_EQ(PushAndDeploy("hog", "hog-v1")["deploy"]["status"], "DEPLOYED") << Logs();
  ASSERT_EQ(PushAndDeploy("calm", "calm-v1")["deploy"]["status"], "DEPLOYED") << Logs();

  HttpAnswer eaten = stack_.EdgeGet(Host("hog"), "/eat");
  EXPECT_NE(eaten.status, 200) << "4 GiB allocated under a 64 MiB limit: " << eaten.body;
  EXPECT_EQ(stack_.EdgeGet(Host("calm")).body, "calm-v1");
  // Restarted by the deployer's supervisor.
  std::string answer;
  for (int i = 0; i < 300 && answer != "hog-v1"; ++i) {
    answer = stack_.EdgeGet(Host("hog")).body;
    if (answer != "hog-v1") absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(answer, "hog-v1") << Logs();
  EXPECT_THAT(stack_.deployer()->log(), HasSubstr("memory limit")) << Logs();
}

TEST_F(DeployE2eTest, IntentsMadeWhileTheDeployerIsDownAreDeliveredOnceItIsBack) {
  CreateApp("one", {});
  CreateApp("two", {});
  stack_.KillDeployer();
  std::string first = Push("one", "one-v1");
  std::string second = Push("two", "two-v1");
  for (const std::string& id : {first, second}) {
    absl::StatusOr<json> built = stack_.farm().WaitForBuild(id, {"SUCCEEDED", "FAILED"});
    ASSERT_TRUE(built.ok()) << built.status();
    ASSERT_EQ((*built)["status"], "SUCCEEDED") << built->dump(2);
  }
  ASSERT_TRUE(stack_.StartDeployer().ok()) << Logs();
  for (const std::string& id : {first, second}) {
    absl::StatusOr<json> deployed = stack_.WaitForDeploy(id);
    ASSERT_TRUE(deployed.ok()) << deployed.status() << Logs();
    EXPECT_EQ((*deployed)["deploy"]["status"], "DEPLOYED") << deployed->dump(2);
  }
  EXPECT_EQ(stack_.EdgeGet(Host("one")).body, "one-v1");
  EXPECT_EQ(stack_.EdgeGet(Host("two")).body, "two-v1");
  // Each intent reached the deployer once, however often the coordinator retried.
  std::string log = stack_.deployer()->log();
  for (const std::string& id : {first, second}) {
    std::string accepted = absl::StrCat("accepted deploy d-", id);
    size_t count = 0;
    for (size_t at = log.find(accepted); at != std::string::npos; at = log.find(accepted, at + 1)) {
      ++count;
    }
    EXPECT_EQ(count, 1u) << accepted << "\n" << log;
  }
}

}  // namespace
}  // namespace tempa::testing
