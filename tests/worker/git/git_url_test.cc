#include "worker/git/git_url.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::worker {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(GitUrlTest, ParsesEveryAcceptedForm) {
  auto https = ParseGitUrl("https://user:pw@GitHub.com:8443/org/repo.git");
  ASSERT_TRUE(https.ok()) << https.status();
  EXPECT_EQ(https->scheme, "https");
  EXPECT_EQ(https->user, "user");
  EXPECT_EQ(https->password, "pw");
  EXPECT_EQ(https->host, "github.com");
  EXPECT_EQ(https->port, "8443");
  EXPECT_EQ(https->path, "/org/repo.git");

  auto scp = ParseGitUrl("git@github.com:org/repo.git");
  ASSERT_TRUE(scp.ok()) << scp.status();
  EXPECT_TRUE(scp->scp_like);
  EXPECT_EQ(scp->scheme, "ssh");
  EXPECT_EQ(scp->user, "git");
  EXPECT_EQ(scp->path, "org/repo.git");

  EXPECT_TRUE(ParseGitUrl("/srv/repo")->local());
  EXPECT_TRUE(ParseGitUrl("file:///srv/repo")->local());
  EXPECT_EQ(ParseGitUrl("git://127.0.0.1:9418/x")->port, "9418");
}

TEST(GitUrlTest, RefusesUrlsThatRunCommandsOrLookLikeOptions) {
  for (const char* bad :
       {"ext::sh -c touch% /tmp/x", "fd::3", "-oProxyCommand=x", "ssh://-oProxyCommand=touch/x",
        "relative/path", "ftp://h/x", "https://host/x\ny", "file://otherhost/x", "host:-path"}) {
    EXPECT_FALSE(ParseGitUrl(bad).ok()) << bad;
  }
}

TEST(GitUrlTest, NormalizedUrlIgnoresSpellingOfOneRepository) {
  auto key = [](const char* url) { return NormalizedUrl(*ParseGitUrl(url)); };
  EXPECT_EQ(key("https://GitHub.com/org/repo.git"), key("https://github.com/org/repo/"));
  EXPECT_EQ(key("https://tok@github.com:443/org/repo"), key("https://github.com/org/repo"));
  EXPECT_EQ(key("git@github.com:org/repo.git"), key("ssh://github.com/org/repo"));
  EXPECT_EQ(key("/srv/repo"), key("file:///srv/repo"));
  EXPECT_NE(key("/srv/repo"), key("/srv/repo.git"));  // two directories on disk
  EXPECT_NE(key("https://github.com/org/a"), key("https://github.com/org/b"));
}

TEST(GitUrlTest, RedactsPasswordsAndTokensGivenAsUser) {
  EXPECT_EQ(RedactUrl("https://u:secret@h/x"), "https://u:***@h/x");
  EXPECT_EQ(RedactUrl("https://ghp_secret@h/x"), "https://***@h/x");
  EXPECT_EQ(RedactUrl("ssh://git@h/x"), "ssh://git@h/x");
  EXPECT_EQ(RedactUrl("https://h/x@y"), "https://h/x@y");
}

TEST(GitUrlTest, ResolvesRelativeSubmoduleUrlsAsGitDoes) {
  EXPECT_EQ(*ResolveSubmoduleUrl("https://h/org/app.git", "../lib.git"), "https://h/org/lib.git");
  EXPECT_EQ(*ResolveSubmoduleUrl("https://h/org/app/", "./sub"), "https://h/org/app/sub");
  EXPECT_EQ(*ResolveSubmoduleUrl("git@h:org/app.git", "../lib"), "git@h:org/lib");
  EXPECT_EQ(*ResolveSubmoduleUrl("git@h:app", "../lib"), "git@h:lib");
  EXPECT_EQ(*ResolveSubmoduleUrl("file:///srv/app", "../lib"), "file:///srv/lib");
  EXPECT_EQ(*ResolveSubmoduleUrl("/srv/app", "../../lib"), "/lib");
  EXPECT_EQ(*ResolveSubmoduleUrl("https://h/org/app", "https://other/x"), "https://other/x");
  EXPECT_FALSE(ResolveSubmoduleUrl("https://h/app", "../../x").ok());
}

TEST(GitUrlTest, RefusesDangerousSubmoduleUrls) {
  for (const char* bad : {"ext::sh -c 'touch /tmp/pwned'", "fd::7", "-u./payload", "https://h/x\tq",
                          "/etc", "file:///etc"}) {
    auto r = ResolveSubmoduleUrl("https://h/org/app", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("is refused")) << bad;
  }
  // A local parent may have local submodules.
  EXPECT_TRUE(ResolveSubmoduleUrl("/srv/app", "/srv/lib").ok());
  // Not even a local parent may use a transport helper.
  EXPECT_FALSE(ResolveSubmoduleUrl("/srv/app", "ext::sh").ok());
}

TEST(GitUrlTest, ErrorsNameTheUrlWithoutItsPassword) {
  auto r = ParseGitUrl("gopher://u:hunter2@h/x");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), Not(HasSubstr("hunter2")));
  EXPECT_THAT(r.status().message(), HasSubstr("gopher://u:***@h/x"));
}

}  // namespace
}  // namespace tempa::worker
