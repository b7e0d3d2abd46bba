// How `tempa` reaches the coordinator: address and token from flags or the environment, the
// bearer token on every call, deadlines, and the messages when that goes wrong; usage errors;
// and the real `tempa` binary handing farm commands to the farm CLI.
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/subprocess.h"
#include "tests/worker/farm_cli/farm_cli_harness.h"

namespace tempa::testing {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

using FarmCliConnectionTest = FarmCliTest;

TEST_F(FarmCliConnectionTest, EveryCallCarriesTheBearerTokenFromTheTokenFile) {
  fake().RequireToken("admin-tok");
  std::string token = File("token", "admin-tok\n");
  tempa::v1::App app;
  app.set_name("web");
  fake().PutApp(app);
  // GetApp then UpdateApp: both calls of one command carry it.
  CliResult r = Run({"apps", "update", "web", "--env", "A=1", "--token-file", token});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(fake().methods(), ElementsAre("GetApp", "UpdateApp"));
  EXPECT_THAT(fake().authorizations(), Each(std::string("Bearer admin-tok")));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("admin-tok")));
}

TEST_F(FarmCliConnectionTest, TokenComesFromTheEnvironmentWhenNoFlagNamesOne) {
  fake().RequireToken("env-tok");
  env_["TEMPA_TOKEN"] = "env-tok";
  CliResult r = Run({"apps", "list"});
  ASSERT_EQ(r.code, 0) << r.err;

  env_["TEMPA_TOKEN_FILE"] = File("token", "file-tok");  // the file wins over TEMPA_TOKEN
  fake().RequireToken("file-tok");
  r = Run({"apps", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(fake().authorizations().back(), "Bearer file-tok");
}

TEST_F(FarmCliConnectionTest, CoordinatorAddressComesFromTheEnvironment) {
  env_["TEMPA_COORDINATOR"] = coordinator_.address();
  CliResult r = RunRaw({"workers", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(fake().methods(), ElementsAre("ListWorkers"));
}

TEST_F(FarmCliConnectionTest, GlobalFlagsMayFollowTheCommand) {
  CliResult r = RunRaw({"apps", "list", "--json", "--coordinator", coordinator_.address()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["apps"].size(), 0u);
}

TEST_F(FarmCliConnectionTest, AnUnreachableCoordinatorIsNamedWithTheFix) {
  std::string address = "127.0.0.1:" + std::to_string(PickFreePort());
  CliResult r = RunRaw({"--coordinator", address, "builds", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "tempa: cannot reach the coordinator at " + address +
                       " (connection refused): start tempa-coordinator or pass --coordinator "
                       "HOST:PORT\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(FarmCliConnectionTest, MissingTokenSaysHowToPassOne) {
  fake().RequireToken("admin-tok");
  CliResult r = Run({"apps", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "tempa: the coordinator wants a token: pass --token-file F or set TEMPA_TOKEN_FILE\n");
  EXPECT_THAT(fake().authorizations(), ElementsAre(""));
}

TEST_F(FarmCliConnectionTest, AWrongTokenIsNamedByWhereItCameFrom) {
  fake().RequireToken("admin-tok");
  std::string token = File("token", "stale");
  CliResult r = Run({"--token-file", token, "apps", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("the coordinator refused the token from --token-file " + token));
  EXPECT_THAT(r.err, Not(HasSubstr("stale")));
}

TEST_F(FarmCliConnectionTest, AReadOnlyTokenIsToldWhatItMayNotDo) {
  fake().RefuseWrites();
  CliResult r = Run({"apps", "create", "web", "--repo", "u"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, StartsWith("tempa: the token may not create app web"));
  EXPECT_THAT(r.err, HasSubstr("use an admin token"));
}

TEST_F(FarmCliConnectionTest, AnUnreadableTokenFileFailsBeforeAnyCall) {
  CliResult r = Run({"--token-file", dir_.Join("missing"), "apps", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("read --token-file"));
  EXPECT_THAT(fake().methods(), IsEmpty());
}

TEST_F(FarmCliConnectionTest, ATokenFileWithASecondLineIsRefusedWithoutEchoingIt) {
  std::string token = File("token", "first-line\nsecond-line\n");
  CliResult r = Run({"--token-file", token, "apps", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("a second line?"));
  EXPECT_THAT(r.err, Not(HasSubstr("first-line")));
  EXPECT_THAT(fake().methods(), IsEmpty());
}

TEST_F(FarmCliConnectionTest, EveryCallHasADeadline) {
  CliResult r = Run({"--timeout", "1s", "apps", "show", "slow"});  // the fake never answers
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("did not answer within 1s"));
  EXPECT_THAT(r.err, HasSubstr("--timeout"));
}

TEST_F(FarmCliConnectionTest, BadUsageExitsTwoWithTheSubcommandsUsage) {
  struct Case {
    std::vector<std::string> args;
    std::string problem;
    std::string usage;
  };
  std::vector<Case> cases = {
      {{"apps", "list", "--bogus"}, "unknown flag --bogus", "tempa apps list [--json]"},
      {{"apps", "create", "web"}, "--repo URL is required", "tempa apps create NAME --repo URL"},
      {{"apps", "create", "web", "--repo", "u", "--env", "NOEQUALS"}, "not KEY=VALUE", ""},
      {{"apps", "create", "--repo", "u"}, "which app?", ""},
      {{"apps", "frobnicate"}, "unknown subcommand \"frobnicate\"", "tempa apps delete NAME"},
      {{"builds", "show"}, "which build?", "tempa builds show ID|--app NAME [--json]"},
      {{"builds", "list", "--limit", "many"}, "--limit \"many\" is not a whole number", ""},
      {{"builds", "logs", "b-1", "--follow=yes"}, "--follow takes no value", ""},
      {{"trigger", "web", "--follow", "--json"}, "does not go with --json", ""},
      {{"trigger", "web", "--commit"}, "--commit needs a value", ""},
      {{"apps", "update", "web", "--poll-interval", "often"}, "is not a duration", ""},
      {{"--timeout", "0s", "apps", "list"}, "--timeout must be positive", ""},
  };
  for (const Case& c : cases) {
    CliResult r = Run(c.args);
    EXPECT_EQ(r.code, 2) << c.args[1];
    EXPECT_THAT(r.err, HasSubstr(c.problem));
    EXPECT_THAT(r.err, HasSubstr("usage:"));
    if (!c.usage.empty()) {
      EXPECT_THAT(r.err, HasSubstr(c.usage));
    }
  }
  EXPECT_THAT(fake().methods(), IsEmpty());
}

TEST_F(FarmCliConnectionTest, HelpPrintsTheUsageAndSucceeds) {
  CliResult r = Run({"builds", "logs", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("tempa builds logs ID|--app NAME [--follow]"));
  EXPECT_THAT(r.out, HasSubstr("TEMPA_TOKEN_FILE"));
}

// The real binary: farm commands reach the farm CLI, with and without leading global flags.
TEST_F(FarmCliConnectionTest, TheTempaBinaryDispatchesFarmCommands) {
  tempa::v1::App app;
  app.set_name("web");
  fake().PutApp(app);
  std::string tempa = std::string(TEMPA_BINARY_DIR) + "/worker/tempa";
  CommandResult r =
      RunCommand({tempa, "--coordinator", coordinator_.address(), "apps", "list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["apps"][0]["name"], "web");

  r = RunCommand({tempa, "builds", "list"}, {{"TEMPA_COORDINATOR", coordinator_.address()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "no builds\n");

  r = RunCommand({tempa, "builds"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("tempa builds list"));

  r = RunCommand({tempa, "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("tempa build DIR"));
  EXPECT_THAT(r.out, HasSubstr("tempa apps create NAME --repo URL"));
}

// The real binary flushes each followed line: a reader on a pipe sees it before the build ends.
TEST_F(FarmCliConnectionTest, TheTempaBinaryStreamsFollowedLinesBeforeTheBuildEnds) {
  tempa::v1::Build done;
  done.set_id("b-5");
  done.set_status(tempa::v1::FAILED);
  absl::Notification line_read;
  std::atomic<bool> read_before_the_end{false};
  fake().AddWatchScript({{"compiling", "linking"}, 0, done, [&] {
                           read_before_the_end =
                               line_read.WaitForNotificationWithTimeout(absl::Seconds(30));
                         }});
  std::string command = std::string(TEMPA_BINARY_DIR) + "/worker/tempa --coordinator " +
                        coordinator_.address() + " builds logs b-5 --follow 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char line[256];
  while (fgets(line, sizeof(line), pipe) != nullptr) {
    out += line;
    if (std::string(line) == "linking\n" && !line_read.HasBeenNotified()) line_read.Notify();
  }
  int status = pclose(pipe);
  EXPECT_TRUE(read_before_the_end.load());
  EXPECT_EQ(out, "compiling\nlinking\n");
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);  // the build failed
}

}  // namespace
}  // namespace tempa::testing
