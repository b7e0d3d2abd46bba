#include "worker/git/gitmodules.h"

#include "gtest/gtest.h"

namespace tempa::worker {
namespace {

TEST(GitmodulesTest, ReadsPathAndUrlOfEachSubmodule) {
  auto r = ParseGitmodules(
      "# comment\n"
      "[submodule \"lib\"]\n"
      "\tpath = vendor/lib\n"
      "\turl = ../lib.git ; trailing comment\n"
      "[submodule \"with \\\"quote\\\"\"]\n"
      "  PATH = \"a b\"\n"
      "  url = https://h/x \\\n"
      "  [core]\n"
      "[include]\n"
      "  path = /etc/passwd\n"
      "[submodule.old]\n"
      "  url = git://h/old\n");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].name, "lib");
  EXPECT_EQ((*r)[0].path, "vendor/lib");
  EXPECT_EQ((*r)[0].url, "../lib.git");
  EXPECT_EQ((*r)[1].name, "with \"quote\"");
  EXPECT_EQ((*r)[1].path, "a b");
  EXPECT_EQ((*r)[2].name, "old");
  EXPECT_EQ((*r)[2].url, "git://h/old");
}

TEST(GitmodulesTest, KeepsControlCharactersSoTheUrlCheckSeesThem) {
  auto r = ParseGitmodules("[submodule \"x\"]\n path = x\n url = \"https://h/a\\nb\"\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].url, "https://h/a\nb");
}

TEST(GitmodulesTest, RefusesBrokenSyntaxWithTheLine) {
  auto r = ParseGitmodules("[submodule \"x\"]\n url = \"unterminated\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("line 2"), absl::string_view::npos);
  EXPECT_FALSE(ParseGitmodules("[submodule \"x\"\n").ok());
  EXPECT_FALSE(ParseGitmodules("= value\n").ok());
}

}  // namespace
}  // namespace tempa::worker
