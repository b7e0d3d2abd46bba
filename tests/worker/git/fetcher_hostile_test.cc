// The fetcher against repositories and URLs made to hurt the worker: dangerous submodule URLs,
// symlinks, .git paths, oversized transfers, cancellation, and credentials that must not leak.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/loopback_http_server.h"
#include "tests/worker/git/fetcher_test_util.h"

namespace tempa::worker {
namespace {

using testing::GitDaemon;
using testing::GitRepoBuilder;
using ::testing::HasSubstr;
using ::testing::Not;

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// A commit whose tree has a gitlink "sub" and a .gitmodules naming `url` for it.
std::string CommitWithSubmoduleUrl(GitRepoBuilder& repo, const std::string& url) {
  std::string gitmodules = absl::StrCat("[submodule \"sub\"]\n\tpath = sub\n\turl = ", url, "\n");
  std::string blob = repo.WriteBlob(gitmodules);
  std::string file = repo.WriteBlob("hello");
  return repo.CommitTree(
      absl::StrCat("100644 blob ", blob, "\t.gitmodules\n", "100644 blob ", file, "\tREADME\n",
                   "160000 commit ", std::string(40, '1'), "\tsub\n"),
      "submodule");
}

TEST_F(FetcherTest, TransportHelperSubmoduleUrlIsRefused) {
  GitRepoBuilder repo(tmp_.Join("src/app"));
  std::string marker = tmp_.Join("pwned");
  CommitWithSubmoduleUrl(repo, absl::StrCat("\"ext::sh -c touch% ", marker, "\""));
  FetchRequest request = Request(repo.url(), "main");
  auto result = fetcher_->Fetch(request);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("submodule sub"));
  EXPECT_THAT(result.status().message(), HasSubstr("transport helpers"));
  EXPECT_FALSE(Exists(marker));
  EXPECT_FALSE(Exists(request.checkout_dir));
}

TEST_F(FetcherTest, OptionLikeSubmoduleUrlIsRefused) {
  GitRepoBuilder repo(tmp_.Join("src/app"));
  CommitWithSubmoduleUrl(repo, "-oProxyCommand=id");
  auto result = fetcher_->Fetch(Request(repo.url(), "main"));
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("starts with '-'"));
}

TEST_F(FetcherTest, LocalSubmoduleOfANetworkRepositoryIsRefused) {
  GitRepoBuilder secret(tmp_.Join("worker-private/secret"));
  secret.WriteFile("token", "worker secret");
  secret.Commit("secret");
  GitRepoBuilder repo(tmp_.Join("served/app.git"));
  CommitWithSubmoduleUrl(repo, secret.url());
  GitDaemon daemon(tmp_.Join("served"));
  auto result = fetcher_->Fetch(Request(daemon.Url("app.git"), "main"));
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("only allowed when the parent"));
}

TEST_F(FetcherTest, SymlinksAreCheckedOutAsLinksAndNotFollowed) {
  GitRepoBuilder repo(tmp_.Join("src/app"));
  repo.WriteFile("real/file", "content");
  repo.Symlink("abs", "/etc/passwd");
  repo.Symlink("rel", "real/file");
  repo.Symlink("dangling", "../../outside");
  repo.Commit("links");
  FetchRequest request = Request(repo.url(), "main");
  auto result = fetcher_->Fetch(request);
  ASSERT_TRUE(result.ok()) << result.status();
  for (auto [name, target] : {std::pair<std::string, std::string>{"abs", "/etc/passwd"},
                              {"rel", "real/file"},
                              {"dangling", "../../outside"}}) {
    std::string path = request.checkout_dir + "/" + name;
    struct stat st;
    ASSERT_EQ(lstat(path.c_str(), &st), 0) << name;
    EXPECT_TRUE(S_ISLNK(st.st_mode)) << name;
    char buf[256];
    ssize_t n = readlink(path.c_str(), buf, sizeof buf);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), target);
  }
}

// Trees the index cannot hold, made with hash-object and mktree: a checkout must refuse them
// rather than write a .git directory (hooks, config) into the checkout.
class DotGitTreeTest : public FetcherTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(DotGitTreeTest, TreeWithAGitDirectoryIsRefused) {
  GitRepoBuilder repo(tmp_.Join("src/app"));
  std::string hook = repo.WriteBlob("#!/bin/sh\ntouch /tmp/tempa-pwned\n");
  std::string hooks_tree =
      repo.Git({"mktree"}, absl::StrCat("100755 blob ", hook, "\tpost-checkout\n"));
  std::string config = repo.WriteBlob("[core]\n\tfsmonitor = touch /tmp/tempa-pwned\n");
  std::string dotgit = repo.Git(
      {"mktree"},
      absl::StrCat("040000 tree ", hooks_tree, "\thooks\n100644 blob ", config, "\tconfig\n"));
  std::string readme = repo.WriteBlob("hi");
  repo.CommitTree(absl::StrCat("100644 blob ", readme, "\tREADME\n040000 tree ", dotgit, "\t",
                               GetParam(), "\n"),
                  "hostile");
  FetchRequest request = Request(repo.url(), "main");
  auto result = fetcher_->Fetch(request);
  EXPECT_FALSE(result.ok()) << GetParam() << " was checked out";
  EXPECT_FALSE(Exists(request.checkout_dir + "/" + GetParam() + "/config"));
  EXPECT_FALSE(Exists(request.checkout_dir));
}

INSTANTIATE_TEST_SUITE_P(Names, DotGitTreeTest,
                         ::testing::Values(".git", ".GIT", ".Git", "git~1", ".git.",
                                           ".git\xe2\x80\x8c" /* HFS ignorable */));

TEST_F(FetcherTest, TransferBiggerThanMaxFetchBytesIsRefused) {
  GitRepoBuilder repo(tmp_.Join("served/app.git"));
  repo.WriteFile("big", Incompressible(2 << 20, 7));
  repo.Commit("big");
  GitDaemon daemon(tmp_.Join("served"));
  FetchRequest request = Request(daemon.Url("app.git"), "main");
  request.max_fetch_bytes = 256 << 10;
  auto result = fetcher_->Fetch(request);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("max_fetch_bytes"));
  EXPECT_FALSE(Exists(request.checkout_dir));
  // With room enough the same repository fetches.
  FetchRequest roomy = Request(daemon.Url("app.git"), "main");
  roomy.max_fetch_bytes = 8 << 20;
  EXPECT_TRUE(fetcher_->Fetch(roomy).ok());
}

TEST_F(FetcherTest, CancellationStopsATransferMidway) {
  GitRepoBuilder repo(tmp_.Join("served/app.git"));
  repo.WriteFile("big", Incompressible(4 << 20, 9));
  repo.Commit("big");
  GitDaemon daemon(tmp_.Join("served"));
  FetchRequest request = Request(daemon.Url("app.git"), "main");
  std::atomic<int> polls{0};
  // Not cancelled until the transfer has reported progress a few times.
  request.cancelled = [&] { return ++polls > 5; };
  auto result = fetcher_->Fetch(request);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kCancelled) << result.status();
  EXPECT_FALSE(Exists(request.checkout_dir));
  EXPECT_LT(polls.load(), 100);  // stopped at the first poll that said so, not at the end
}

// An HTTP server that asks for credentials and refuses every one, recording what it was sent.
TEST_F(FetcherTest, TokenIsHandedOnceAndNeverLogged) {
  absl::Mutex mu;
  std::vector<std::string> authorizations;
  testing::LoopbackHttpServer server("127.0.0.1", [&](httplib::Server& s) {
    s.Get(".*", [&](const httplib::Request& req, httplib::Response& res) {
      absl::MutexLock lock(&mu);
      if (req.has_header("Authorization"))
        authorizations.push_back(req.get_header_value("Authorization"));
      res.status = 401;
      res.set_header("WWW-Authenticate", "Basic realm=\"git\"");
    });
  });
  const std::string token = "tok_SECRET_4f9a1c";
  const std::string url_password = "pw_SECRET_77aa";
  FetchRequest request = Request(
      absl::StrCat("http://user:", url_password, "@127.0.0.1:", server.port(), "/org/app.git"),
      "main");
  request.auth.https_token = token;
  auto result = fetcher_->Fetch(request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << result.status();
  EXPECT_THAT(result.status().message(), Not(HasSubstr(token)));
  EXPECT_THAT(result.status().message(), Not(HasSubstr(url_password)));
  EXPECT_THAT(result.status().message(), HasSubstr("refused the app's credentials"));
  for (const std::string& line : Logs()) {
    EXPECT_THAT(line, Not(HasSubstr(token)));
    EXPECT_THAT(line, Not(HasSubstr(url_password)));
  }
  {
    absl::MutexLock lock(&mu);
    // The URL's own user:password, then the token once: no retry loop.
    std::string token_header = "Basic " + absl::Base64Escape("x-access-token:" + token);
    EXPECT_EQ(std::count(authorizations.begin(), authorizations.end(), token_header), 1);
    EXPECT_LE(authorizations.size(), 3u);
  }

  auto resolve = fetcher_->ResolveBranch(request.repo_url, "main", request.auth);
  ASSERT_FALSE(resolve.ok());
  EXPECT_THAT(resolve.status().message(), Not(HasSubstr(token)));
  EXPECT_THAT(resolve.status().message(), Not(HasSubstr(url_password)));
}

TEST_F(FetcherTest, TokenIsNotHandedToAnotherHost) {
  absl::Mutex mu;
  std::vector<std::string> authorizations;
  testing::LoopbackHttpServer server("127.0.0.1", [&](httplib::Server& s) {
    s.Get(".*", [&](const httplib::Request& req, httplib::Response& res) {
      absl::MutexLock lock(&mu);
      if (req.has_header("Authorization"))
        authorizations.push_back(req.get_header_value("Authorization"));
      res.status = 401;
      res.set_header("WWW-Authenticate", "Basic realm=\"git\"");
    });
  });
  // The app's repository is on 127.0.0.1:1; a submodule on another host asks for credentials.
  GitRepoBuilder repo(tmp_.Join("src/app"));
  CommitWithSubmoduleUrl(repo, absl::StrCat("http://127.0.0.1:", server.port(), "/lib.git"));
  FetchRequest request = Request(repo.url(), "main");
  request.auth.https_token = "tok_SECRET_other_host";
  auto result = fetcher_->Fetch(request);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("none are given for it"));
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(authorizations.empty());
}

}  // namespace
}  // namespace tempa::worker

namespace tempa::worker {
namespace {

// A tree with two entries named "a": a symlink to a directory outside the checkout, then a
// directory holding "b". Writing a/b must not go through the link.
TEST_F(FetcherTest, SymlinkAndDirectoryOfOneNameCannotWriteOutsideTheCheckout) {
  std::string outside = tmp_.Join("outside");
  ASSERT_EQ(mkdir(outside.c_str(), 0700), 0);
  testing::GitRepoBuilder repo(tmp_.Join("src/app"));
  std::string link = repo.WriteBlob(outside);
  std::string payload = repo.WriteBlob("pwned");
  std::string dir = repo.Git({"mktree"}, absl::StrCat("100644 blob ", payload, "\tb\n"));
  repo.CommitTree(absl::StrCat("120000 blob ", link, "\ta\n040000 tree ", dir, "\ta\n"), "dup");
  FetchRequest request = Request(repo.url(), "main");
  auto result = fetcher_->Fetch(request);
  EXPECT_FALSE(Exists(outside + "/b")) << "checkout wrote through a symlink";
  if (result.ok()) {
    struct stat st;
    ASSERT_EQ(lstat((request.checkout_dir + "/a").c_str(), &st), 0);
  }
}

}  // namespace
}  // namespace tempa::worker
