// The operator's run-time env for an image: names a process can take, PORT left to tempa.toml,
// env files as a shell's .env writes them; errors never show a value.
#include "worker/runtime_env.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

TEST(RuntimeEnvTest, AnEnvFileTakesCommentsExportAndCrlfAndKeepsValuesAsWritten) {
  std::map<std::string, std::string> env;
  absl::Status s = ParseRuntimeEnvFile(
      "--env-file run.env",
      "# comment\n\nexport MODE=test\r\n  URL=http://x/?a=b\nQUOTED=\"kept\"\nEMPTY=\n", env);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(env, ElementsAre(Pair("EMPTY", ""), Pair("MODE", "test"), Pair("QUOTED", "\"kept\""),
                               Pair("URL", "http://x/?a=b")));
}

TEST(RuntimeEnvTest, ABadLineIsNamedByFileAndLineWithoutItsValue) {
  std::map<std::string, std::string> env;
  absl::Status s = ParseRuntimeEnvFile("--env-file run.env", "A=1\nBAD-NAME=hunter2\n", env);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("--env-file run.env line 2"));
  EXPECT_THAT(s.message(), Not(HasSubstr("hunter2")));
}

TEST(RuntimeEnvTest, CheckRefusesPortBadNamesAndNulValues) {
  EXPECT_TRUE(CheckRuntimeEnv({{"MODE", "x"}, {"_PRIVATE", ""}, {"A1", "y"}}).ok());
  EXPECT_THAT(CheckRuntimeEnv({{"PORT", "1"}}).message(), HasSubstr("tempa.toml"));
  EXPECT_FALSE(CheckRuntimeEnv({{"1A", "x"}}).ok());
  EXPECT_FALSE(CheckRuntimeEnv({{"", "x"}}).ok());
  EXPECT_FALSE(CheckRuntimeEnv({{"A", std::string("a\0b", 3)}}).ok());
}

}  // namespace
}  // namespace tempa::worker
