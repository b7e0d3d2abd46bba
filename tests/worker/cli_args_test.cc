// Parsing of `tempa build` / `tempa detect` flags for the start command and the image's env.
#include "worker/cli/cli_args.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(CliArgsTest, BuildTakesTheStartCommandAndRepeatedEnvWithTheLastValueOfAName) {
  auto args = ParseBuildArgs({"app", "--image", "r/x", "--start", "/app/x -greeting hello", "--env",
                              "MODE=test", "--env=EMPTY=", "--env", "MODE=prod", "--env",
                              "URL=http://a/?b=c", "--env-file", "run.env"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->start, "/app/x -greeting hello");
  EXPECT_THAT(args->runtime_env,
              ElementsAre(Pair("EMPTY", ""), Pair("MODE", "prod"), Pair("URL", "http://a/?b=c")));
  EXPECT_THAT(args->env_files, ElementsAre("run.env"));
  EXPECT_TRUE(args->build_env.empty());  // the image's env is not the build's
}

TEST(CliArgsTest, AnEnvThatIsPortOrNotAVariableIsAUsageErrorNamingTheFix) {
  for (const char* bad : {"PORT=9000", "9LIVES=x", "A-B=x", "=x", "NOEQUALS", "A B=x"}) {
    auto args = ParseBuildArgs({"app", "--image", "r/x", "--env", bad});
    ASSERT_FALSE(args.ok()) << bad;
    EXPECT_THAT(args.status().message(), HasSubstr("--env")) << bad;
    EXPECT_THAT(args.status().message(), HasSubstr("usage:")) << bad;
  }
  auto port = ParseBuildArgs({"app", "--image", "r/x", "--env", "PORT=9000"});
  EXPECT_THAT(port.status().message(), HasSubstr("`port = N` in tempa.toml"));
}

TEST(CliArgsTest, ABlankStartCommandIsAUsageError) {
  for (const char* blank : {"", "   "}) {
    auto args = ParseBuildArgs({"app", "--image", "r/x", "--start", blank});
    ASSERT_FALSE(args.ok()) << "[" << blank << "]";
    EXPECT_THAT(args.status().message(), HasSubstr("--start needs a command"));
  }
  EXPECT_FALSE(ParseBuildArgs({"app", "--image", "r/x", "--start"}).ok());
}

TEST(CliArgsTest, DetectTakesTheStartCommandButNoImageEnv) {
  auto args = ParseDetectArgs({"app", "--start=gunicorn app:app --workers 2"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->start, "gunicorn app:app --workers 2");
  EXPECT_FALSE(ParseDetectArgs({"app", "--env", "A=b"}).ok());
}

TEST(CliArgsTest, CommandHelpListsTheFlagsOfBuildAndDetectOnly) {
  EXPECT_THAT(CommandHelp("build"), HasSubstr("--start CMD"));
  EXPECT_THAT(CommandHelp("build"), HasSubstr("--env K=V"));
  EXPECT_THAT(CommandHelp("build"), HasSubstr("tempa apps set NAME --env"));
  EXPECT_THAT(CommandHelp("detect"), HasSubstr("--start CMD"));
  EXPECT_EQ(CommandHelp("apps"), "");
}

}  // namespace
}  // namespace tempa::cli
