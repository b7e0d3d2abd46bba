// The `tempa` command line as a whole: help in every form a user types, the version line, and
// the exit codes the README's table promises (0 done, 1 failed, 2 bad usage).
#include "worker/cli/tempa_cli.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/temp_dir.h"

namespace tempa::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

struct Result {
  int code;
  std::string out, err;
};

Result RunCli(std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = RunTempa(std::move(args), out, err);
  return {code, out.str(), err.str()};
}

TEST(TempaCliTest, VersionPrintsOneLineWithTheProjectVersion) {
  for (const char* form : {"--version", "version"}) {
    Result r = RunCli({form});
    EXPECT_EQ(r.code, 0) << form << r.err;
    EXPECT_THAT(r.out, MatchesRegex("tempa [0-9]+\\.[0-9]+\\.[0-9]+( \\(commit [0-9a-f]+\\))?\n"))
        << form;
  }
  EXPECT_EQ(RunCli({"--version", "extra"}).code, 2);
}

TEST(TempaCliTest, HelpListsEveryCommand) {
  for (const char* form : {"help", "--help", "-h"}) {
    Result r = RunCli({form});
    EXPECT_EQ(r.code, 0) << form;
    for (const char* command : {"tempa build", "tempa detect", "tempa apps set", "tempa trigger",
                                "tempa deploys list", "tempa help", "tempa --version"}) {
      EXPECT_THAT(r.out, HasSubstr(command)) << form;
    }
  }
}

TEST(TempaCliTest, EachCommandsHelpComesInEveryFormWithExitZero) {
  struct Case {
    std::vector<std::string> args;
    std::string shows;
  };
  for (const Case& c : std::vector<Case>{
           {{"help", "build"}, "--start CMD"},
           {{"build", "--help"}, "--start CMD"},
           {{"build", "-h"}, "--env K=V"},
           {{"build", "app", "--image", "r/x", "--help"}, "--env-file F"},
           {{"help", "detect"}, "tempa detect DIR"},
           {{"detect", "--help"}, "tempa detect DIR"},
           {{"help", "apps", "set"}, "tempa apps set NAME"},
           {{"apps", "set", "--help"}, "tempa apps set NAME"},
           {{"help", "apps"}, "tempa apps create"},
           {{"help", "trigger"}, "tempa trigger NAME"},
           {{"builds", "logs", "-h"}, "tempa builds logs"},
       }) {
    Result r = RunCli(c.args);
    EXPECT_EQ(r.code, 0) << c.args[0] << " " << c.args[1] << ": " << r.err;
    EXPECT_THAT(r.out, HasSubstr(c.shows)) << c.args[0] << " " << c.args[1];
  }
  // One command's help, not the whole list.
  EXPECT_THAT(RunCli({"build", "--help"}).out, Not(HasSubstr("tempa detect")));
  EXPECT_THAT(RunCli({"help", "apps", "set"}).out, Not(HasSubstr("tempa builds")));
  EXPECT_THAT(RunCli({"help", "apps", "set"}).out, HasSubstr("--start CMD"));
}

TEST(TempaCliTest, BadUsageExitsTwoWithTheUsageOnStderr) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"bild"},
           {"build"},
           {"build", "app"},
           {"build", "app", "--image", "r/x", "--bogus"},
           {"build", "app", "--image", "r/x", "--env", "PORT=1"},
           {"detect", "app", "--bogus"},
           {"detect"},
           {"help", "bild"},
           {"apps", "set"},
           {"apps", "bogus"},
           {"trigger", "app", "--bogus"},
       }) {
    Result r = RunCli(args);
    std::string shown = args.empty() ? "(none)" : args[0];
    EXPECT_EQ(r.code, 2) << shown << ": " << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr("usage:")) << shown;
    EXPECT_EQ(r.out, "") << shown;
  }
}

TEST(TempaCliTest, ACommandThatRanAndFailedExitsOne) {
  testing::TempDir empty("tempa-cli-empty-");
  // Nothing to build: the failure's kind on stderr, and in the JSON with --json.
  Result r = RunCli({"detect", empty.path()});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("[no_app_detected"));
  r = RunCli({"detect", empty.path(), "--json"});
  EXPECT_EQ(r.code, 1);
  nlohmann::json error = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(error.is_discarded()) << r.out;
  EXPECT_EQ(error["error"]["kind"], "no_app_detected");
  EXPECT_EQ(RunCli({"detect", empty.path() + "/missing"}).code, 1);
  // `--start -h` starts the app with -h; it asks for no help.
  EXPECT_EQ(RunCli({"detect", empty.path(), "--start", "-h"}).code, 1);

  // The coordinator cannot be reached: a failure, not bad usage.
  std::string closed = "127.0.0.1:" + std::to_string(testing::PickFreePort());
  r = RunCli({"--coordinator", closed, "--timeout", "5s", "apps", "list"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot reach the coordinator"));
}

}  // namespace
}  // namespace tempa::cli
