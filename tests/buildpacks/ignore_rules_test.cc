#include "buildpacks/internal/ignore_rules.h"

#include <string>

#include "gtest/gtest.h"

namespace tempa::buildpacks::internal {
namespace {

IgnoreRules Git(const std::string& text) {
  absl::StatusOr<IgnoreRules> rules = IgnoreRules::Parse(text, IgnoreSyntax::kGitignore, "t");
  EXPECT_TRUE(rules.ok()) << rules.status();
  return rules.ok() ? *rules : IgnoreRules();
}

IgnoreRules Docker(const std::string& text) {
  absl::StatusOr<IgnoreRules> rules = IgnoreRules::Parse(text, IgnoreSyntax::kDockerignore, "t");
  EXPECT_TRUE(rules.ok()) << rules.status();
  return rules.ok() ? *rules : IgnoreRules();
}

TEST(GitignoreRules, CommentsBlankLinesAndEscapes) {
  IgnoreRules rules = Git("# a comment\n\n\\#hash\n\\!bang\nplain   \nspace\\ \n");
  EXPECT_EQ(rules.size(), 4u);
  EXPECT_TRUE(rules.Excluded("#hash", false));
  EXPECT_FALSE(rules.Excluded("# a comment", false));
  EXPECT_TRUE(rules.Excluded("!bang", false));
  EXPECT_TRUE(rules.Excluded("plain", false));  // trailing spaces trimmed
  EXPECT_FALSE(rules.Excluded("plain   ", false));
  EXPECT_TRUE(rules.Excluded("space ", false));  // an escaped one kept
}

TEST(GitignoreRules, ASlashlessPatternMatchesAtAnyDepth) {
  IgnoreRules rules = Git("*.log\nsecret.env\n");
  EXPECT_TRUE(rules.Excluded("a.log", false));
  EXPECT_TRUE(rules.Excluded("deep/er/b.log", false));
  EXPECT_TRUE(rules.Excluded("config/secret.env", false));
  EXPECT_FALSE(rules.Excluded("a.log.txt", false));
  EXPECT_FALSE(rules.Excluded("secret.envx", false));
}

TEST(GitignoreRules, ASlashAtTheStartOrInTheMiddleAnchorsToTheRoot) {
  IgnoreRules rules = Git("/root.txt\ndocs/internal\n");
  EXPECT_TRUE(rules.Excluded("root.txt", false));
  EXPECT_FALSE(rules.Excluded("sub/root.txt", false));
  EXPECT_TRUE(rules.Excluded("docs/internal", true));
  EXPECT_TRUE(rules.Excluded("docs/internal/x.md", false));  // under an excluded directory
  EXPECT_FALSE(rules.Excluded("web/docs/internal", true));
}

TEST(GitignoreRules, ATrailingSlashMatchesDirectoriesOnly) {
  IgnoreRules rules = Git("build/\n");
  EXPECT_TRUE(rules.Excluded("build", true));
  EXPECT_TRUE(rules.Excluded("build/out.bin", false));
  EXPECT_TRUE(rules.Excluded("web/build", true));
  EXPECT_FALSE(rules.Excluded("build", false));  // a file named build stays
}

TEST(GitignoreRules, DoubleStars) {
  IgnoreRules leading = Git("**/cache\n");
  EXPECT_TRUE(leading.Excluded("cache", true));
  EXPECT_TRUE(leading.Excluded("a/b/cache", false));
  IgnoreRules trailing = Git("assets/**\n");
  EXPECT_FALSE(trailing.Excluded("assets", true));  // everything inside, not the directory
  EXPECT_TRUE(trailing.Excluded("assets/a.png", false));
  EXPECT_TRUE(trailing.Excluded("assets/x/y/z.png", false));
  IgnoreRules middle = Git("a/**/b\n");
  EXPECT_TRUE(middle.Excluded("a/b", false));
  EXPECT_TRUE(middle.Excluded("a/x/b", false));
  EXPECT_TRUE(middle.Excluded("a/x/y/b", false));
  EXPECT_FALSE(middle.Excluded("x/a/b", false));
}

TEST(GitignoreRules, StarQuestionMarkAndBracketsStayWithinAComponent) {
  IgnoreRules rules = Git("/t*.html\nv?.txt\n[abc]x.css\n[!a]y.css\n");
  EXPECT_TRUE(rules.Excluded("top.html", false));
  EXPECT_FALSE(rules.Excluded("t/op.html", false));
  EXPECT_TRUE(rules.Excluded("v1.txt", false));
  EXPECT_FALSE(rules.Excluded("v12.txt", false));
  EXPECT_TRUE(rules.Excluded("bx.css", false));
  EXPECT_FALSE(rules.Excluded("dx.css", false));
  EXPECT_TRUE(rules.Excluded("by.css", false));
  EXPECT_FALSE(rules.Excluded("ay.css", false));
}

TEST(GitignoreRules, NegationReincludesButNeverUnderAnExcludedDirectory) {
  IgnoreRules rules = Git("*.env\n!public.env\nlogs/\n!logs/keep.log\ndata/*\n!data/seed.json\n");
  EXPECT_TRUE(rules.Excluded("secret.env", false));
  EXPECT_FALSE(rules.Excluded("public.env", false));
  // logs/ itself is excluded: a file under it cannot come back.
  EXPECT_TRUE(rules.Excluded("logs/keep.log", false));
  // data/ is not, only what is in it: the exception applies.
  EXPECT_FALSE(rules.Excluded("data/seed.json", false));
  EXPECT_TRUE(rules.Excluded("data/big.bin", false));
}

TEST(GitignoreRules, TheLastMatchingRuleWins) {
  IgnoreRules rules = Git("!a.txt\na.txt\n");
  EXPECT_TRUE(rules.Excluded("a.txt", false));
  IgnoreRules back = Git("a.txt\n!a.txt\n");
  EXPECT_FALSE(back.Excluded("a.txt", false));
}

TEST(DockerignoreRules, EveryPatternIsRelativeToTheRoot) {
  IgnoreRules rules = Docker("secret.env\n./docs\n/tmp/\n");
  EXPECT_TRUE(rules.Excluded("secret.env", false));
  EXPECT_FALSE(rules.Excluded("config/secret.env", false));  // unlike gitignore
  EXPECT_TRUE(rules.Excluded("docs", true));
  EXPECT_TRUE(rules.Excluded("tmp", true));
}

TEST(DockerignoreRules, AMatchedDirectoryExcludesEverythingUnderIt) {
  IgnoreRules rules = Docker("node_modules\n");
  EXPECT_TRUE(rules.Excluded("node_modules/a/b.js", false));
  EXPECT_FALSE(rules.Excluded("web/node_modules/a.js", false));
}

TEST(DockerignoreRules, DoubleStarAndExceptions) {
  IgnoreRules rules = Docker("**/*.md\n!README.md\n");
  EXPECT_TRUE(rules.Excluded("CHANGES.md", false));
  EXPECT_TRUE(rules.Excluded("docs/a/b.md", false));
  EXPECT_FALSE(rules.Excluded("README.md", false));
  // Docker's exceptions reach into an excluded directory.
  IgnoreRules reach = Docker("docs\n!docs/public.html\n");
  EXPECT_TRUE(reach.Excluded("docs/private.html", false));
  EXPECT_FALSE(reach.Excluded("docs/public.html", false));
  EXPECT_TRUE(reach.has_negations());
}

TEST(IgnoreRulesLimits, AFileOverOneMebibyteIsRefusedNamingTheLimit) {
  std::string huge(kMaxIgnoreFileBytes + 1, 'a');
  absl::StatusOr<IgnoreRules> rules =
      IgnoreRules::Parse(huge, IgnoreSyntax::kGitignore, ".tempaignore");
  ASSERT_FALSE(rules.ok());
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(rules.status().message().find(".tempaignore is"), std::string::npos) << rules.status();
  EXPECT_NE(rules.status().message().find("1048576"), std::string::npos) << rules.status();
}

TEST(IgnoreRulesLimits, MoreThanTenThousandPatternsAreRefused) {
  std::string text;
  for (size_t i = 0; i <= kMaxIgnorePatterns; ++i) text += "f" + std::to_string(i) + "\n";
  absl::StatusOr<IgnoreRules> rules =
      IgnoreRules::Parse(text, IgnoreSyntax::kDockerignore, ".dockerignore");
  ASSERT_FALSE(rules.ok());
  EXPECT_NE(rules.status().message().find("more than 10000 patterns"), std::string::npos)
      << rules.status();
}

TEST(IgnoreRulesGlobs, NegationInAListIsRefused) {
  absl::StatusOr<IgnoreRules> rules = IgnoreRules::FromGlobs({"ok/", "!no"}, "tempa.toml include");
  ASSERT_FALSE(rules.ok());
  EXPECT_NE(rules.status().message().find("tempa.toml include pattern \"!no\""), std::string::npos)
      << rules.status();
}

}  // namespace
}  // namespace tempa::buildpacks::internal
