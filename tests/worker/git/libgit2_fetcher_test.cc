// The libgit2 fetcher against real repositories made by the test, over file:// and over git://
// from `git daemon` on loopback.
#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/git/fetcher_test_util.h"
#include "worker/git/git_url.h"

namespace tempa::worker {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using testing::GitDaemon;
using testing::GitRepoBuilder;
using ::testing::HasSubstr;

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

TEST_F(FetcherTest, FetchesTheBranchHeadOverFileUrl) {
  GitRepoBuilder repo(tmp_.Join("src/app"));
  repo.WriteFile("main.go", "v1");
  repo.Commit("one");
  repo.WriteFile("main.go", "v2");
  repo.WriteFile("bin/run", "#!/bin/sh\n", /*executable=*/true);
  std::string head = repo.Commit("two");

  FetchRequest request = Request(repo.url(), "main");
  auto result = fetcher_->Fetch(request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->commit, head);
  EXPECT_EQ(result->commit_time, 1700000000 + 120);
  EXPECT_EQ(Read(request.checkout_dir + "/main.go"), "v2");
  EXPECT_EQ(access((request.checkout_dir + "/bin/run").c_str(), X_OK), 0);
  EXPECT_FALSE(Exists(request.checkout_dir + "/.git"));
  EXPECT_TRUE(result->submodules.empty());
  EXPECT_EQ(Mirrors().size(), 1u);
  struct stat st;
  ASSERT_EQ(stat(request.checkout_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(stat(mirrors_dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(FetcherTest, FetchesAnExactOlderCommitOverGitDaemon) {
  GitRepoBuilder repo(tmp_.Join("served/app.git"));
  repo.WriteFile("f", "old");
  std::string old = repo.Commit("old");
  repo.WriteFile("f", "new");
  repo.Commit("new");
  GitDaemon daemon(tmp_.Join("served"));

  FetchRequest request = Request(daemon.Url("app.git"), "main", old);
  auto result = fetcher_->Fetch(request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->commit, old);
  EXPECT_EQ(Read(request.checkout_dir + "/f"), "old");
  EXPECT_GT(result->received_objects, 0u);
  EXPECT_GT(result->received_bytes, 0u);
  EXPECT_THAT(Logs(), Contains(HasSubstr("fetched ")));
}

TEST_F(FetcherTest, AbbreviatedShaResolvesThroughTheMirror) {
  GitRepoBuilder repo(tmp_.Join("served/app.git"));
  repo.WriteFile("f", "first");
  std::string first = repo.Commit("first");
  repo.WriteFile("f", "second");
  repo.Commit("second");
  GitDaemon daemon(tmp_.Join("served"));

  FetchRequest request = Request(daemon.Url("app.git"), "main", first.substr(0, 10));
  auto result = fetcher_->Fetch(request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->commit, first);
  EXPECT_EQ(Read(request.checkout_dir + "/f"), "first");
}

// Contents of a blob whose SHA-1 starts with the 4 hex digits `prefix`.
std::string BlobWithPrefix(const std::string& prefix) {
  for (int i = 0;; ++i) {
    std::string content = absl::StrCat("collide ", i, "\n");
    std::string object = absl::StrCat("blob ", content.size(), std::string(1, '\0'), content);
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(object.data()), object.size(), digest);
    if (absl::BytesToHexString(std::string(reinterpret_cast<char*>(digest), 2)) == prefix) {
      return content;
    }
  }
}

TEST_F(FetcherTest, AmbiguousAbbreviatedShaIsRefused) {
  GitRepoBuilder repo(tmp_.Join("src/app"));
  repo.WriteFile("f", "x");
  std::string commit = repo.Commit("one");
  std::string prefix = commit.substr(0, 4);
  repo.WriteFile("collide", BlobWithPrefix(prefix));
  repo.Commit("a blob sharing the first commit's prefix");

  auto result = fetcher_->Fetch(Request(repo.url(), "main", prefix));
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("is ambiguous"));
  auto longer = fetcher_->Fetch(Request(repo.url(), "main", commit.substr(0, 12)));
  ASSERT_TRUE(longer.ok()) << longer.status();
  EXPECT_EQ(longer->commit, commit);
}

// Over git:// (the smart protocol's negotiation) and file:// (libgit2's local transport).
class IncrementalFetchTest : public FetcherTest, public ::testing::WithParamInterface<bool> {};

TEST_P(IncrementalFetchTest, SecondFetchTransfersOnlyTheNewObjects) {
  const bool over_daemon = GetParam();
  GitRepoBuilder repo(tmp_.Join("served/app.git"));
  for (int i = 0; i < 20; ++i) {
    repo.WriteFile(absl::StrCat("dir", i % 4, "/f", i), "x" + std::to_string(i));
  }
  repo.Commit("many files");
  std::unique_ptr<GitDaemon> daemon;
  if (over_daemon) daemon = std::make_unique<GitDaemon>(tmp_.Join("served"));
  std::string url = over_daemon ? daemon->Url("app.git") : repo.url();

  auto first = fetcher_->Fetch(Request(url, "main"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GE(first->received_objects, 26u);  // 20 blobs, 5 trees, 1 commit

  repo.WriteFile("dir0/f0", "changed");
  std::string next = repo.Commit("one change");
  FetchRequest request = Request(url, "main");
  auto second = fetcher_->Fetch(request);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->commit, next);
  // The new commit, the root tree, dir0's tree and the changed blob.
  EXPECT_EQ(second->received_objects, 4u);
  EXPECT_EQ(Read(request.checkout_dir + "/dir0/f0"), "changed");

  auto third = fetcher_->Fetch(Request(url, "main"));
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->received_objects, 0u);
  EXPECT_THAT(Logs(), Contains(HasSubstr("nothing to fetch")));
}

INSTANTIATE_TEST_SUITE_P(Transports, IncrementalFetchTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "GitDaemon" : "FileUrl"; });

TEST_F(FetcherTest, CommitNotInTheRepositoryIsNotFoundAndLeavesNoCheckout) {
  GitRepoBuilder repo(tmp_.Join("served/app.git"));
  repo.WriteFile("f", "x");
  repo.Commit("one");
  GitDaemon daemon(tmp_.Join("served"));

  std::string missing(40, 'd');
  FetchRequest request = Request(daemon.Url("app.git"), "main", missing);
  auto result = fetcher_->Fetch(request);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kNotFound) << result.status();
  EXPECT_THAT(result.status().message(),
              HasSubstr(absl::StrCat("commit ", missing, " is not in ", daemon.Url("app.git"),
                                     " (branch main)")));
  EXPECT_FALSE(Exists(request.checkout_dir));
}

TEST_F(FetcherTest, CommitOnlyOnAnotherBranchIsFoundByFetchingAllHeads) {
  GitRepoBuilder repo(tmp_.Join("served/app.git"));
  repo.WriteFile("f", "main");
  repo.Commit("main");
  repo.Branch("feature");
  repo.Checkout("feature");
  repo.WriteFile("f", "feature");
  std::string feature = repo.Commit("feature");
  repo.Checkout("main");
  GitDaemon daemon(tmp_.Join("served"));

  FetchRequest request = Request(daemon.Url("app.git"), "main", feature);
  auto result = fetcher_->Fetch(request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(Read(request.checkout_dir + "/f"), "feature");
}

TEST_F(FetcherTest, UnreachableCommitIsFetchedBySha) {
  GitRepoBuilder repo(tmp_.Join("served/app.git"));
  repo.WriteFile("f", "main");
  repo.Commit("main");
  repo.Branch("tmp");
  repo.Checkout("tmp");
  repo.WriteFile("f", "orphan");
  std::string orphan = repo.Commit("orphan");
  repo.Checkout("main");
  repo.Git({"branch", "-D", "tmp"});  // the commit stays in the object store, on no ref
  repo.Git({"config", "uploadpack.allowAnySHA1InWant", "true"});
  GitDaemon daemon(tmp_.Join("served"));

  FetchRequest request = Request(daemon.Url("app.git"), "main", orphan);
  auto result = fetcher_->Fetch(request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(Read(request.checkout_dir + "/f"), "orphan");

  // A server that does not allow it: not found, after trying every head and tag.
  repo.Git({"config", "uploadpack.allowAnySHA1InWant", "false"});
  Libgit2Fetcher fresh({tmp_.Join("other-mirrors")});
  auto refused = fresh.Fetch(Request(daemon.Url("app.git"), "main", orphan));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound) << refused.status();
  EXPECT_THAT(Logs(), Contains(HasSubstr("would not send")));
}

TEST_F(FetcherTest, BrokenOrReplacedMirrorIsMadeAgain) {
  GitRepoBuilder repo(tmp_.Join("src/app"));
  repo.WriteFile("f", "x");
  std::string head = repo.Commit("one");
  ASSERT_TRUE(fetcher_->Fetch(Request(repo.url(), "main")).ok());
  ASSERT_EQ(Mirrors().size(), 1u);
  std::string mirror = mirrors_dir_ + "/" + Mirrors()[0];

  // Half-made (a crash during init): no HEAD, no objects.
  std::filesystem::remove_all(mirror);
  std::filesystem::create_directory(mirror);
  auto again = fetcher_->Fetch(Request(repo.url(), "main"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->commit, head);

  // A symlink planted where the mirror was is replaced, its target untouched.
  std::string elsewhere = tmp_.Join("elsewhere");
  std::filesystem::create_directory(elsewhere);
  std::filesystem::remove_all(mirror);
  ASSERT_EQ(symlink(elsewhere.c_str(), mirror.c_str()), 0);
  auto third = fetcher_->Fetch(Request(repo.url(), "main"));
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE(std::filesystem::is_empty(elsewhere));
  struct stat st;
  ASSERT_EQ(lstat(mirror.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST_F(FetcherTest, UnknownBranchIsNotFound) {
  GitRepoBuilder repo(tmp_.Join("src/app"));
  repo.WriteFile("f", "x");
  repo.Commit("one");
  auto result = fetcher_->Fetch(Request(repo.url(), "nope"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("branch nope is not in"));
}

TEST_F(FetcherTest, ExistingCheckoutDirIsRefused) {
  GitRepoBuilder repo(tmp_.Join("src/app"));
  repo.WriteFile("f", "x");
  repo.Commit("one");
  FetchRequest request = Request(repo.url(), "main");
  ASSERT_EQ(mkdir(request.checkout_dir.c_str(), 0700), 0);
  testing::WriteFileOrDie(request.checkout_dir + "/keep", "mine");
  auto result = fetcher_->Fetch(request);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAlreadyExists) << result.status();
  EXPECT_EQ(Read(request.checkout_dir + "/keep"), "mine");
}

TEST_F(FetcherTest, SubmodulesWithRelativeUrlsAreCheckedOutRecursively) {
  GitRepoBuilder inner(tmp_.Join("src/inner"));
  inner.WriteFile("inner.txt", "deepest");
  inner.Commit("inner");
  GitRepoBuilder lib(tmp_.Join("src/lib"));
  lib.WriteFile("lib.txt", "library");
  lib.AddSubmodule("../inner", "third_party/inner");
  lib.Commit("lib with inner");
  GitRepoBuilder app(tmp_.Join("src/app"));
  app.WriteFile("app.txt", "app");
  app.AddSubmodule("../lib", "vendor/lib");
  std::string head = app.Commit("app with lib");

  FetchRequest request = Request(app.url(), "main");
  auto result = fetcher_->Fetch(request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->commit, head);
  EXPECT_EQ(Read(request.checkout_dir + "/vendor/lib/lib.txt"), "library");
  EXPECT_EQ(Read(request.checkout_dir + "/vendor/lib/third_party/inner/inner.txt"), "deepest");
  EXPECT_THAT(result->submodules, ElementsAre("vendor/lib", "vendor/lib/third_party/inner"));
  EXPECT_FALSE(Exists(request.checkout_dir + "/vendor/lib/.git"));
  EXPECT_EQ(Mirrors().size(), 3u);
}

TEST_F(FetcherTest, ConcurrentFetchesOfOneRepositoryShareAnIntactMirror) {
  GitRepoBuilder repo(tmp_.Join("served/app.git"));
  repo.WriteFile("big", Incompressible(512 << 10, 1));
  for (int i = 0; i < 50; ++i) repo.WriteFile(absl::StrCat("f", i), std::to_string(i));
  std::string head = repo.Commit("one");
  GitDaemon daemon(tmp_.Join("served"));

  FetchRequest a = Request(daemon.Url("app.git"), "main");
  FetchRequest b = Request(daemon.Url("app.git"), "main");
  absl::StatusOr<FetchResult> ra, rb;
  std::thread ta([&] { ra = fetcher_->Fetch(a); });
  std::thread tb([&] { rb = fetcher_->Fetch(b); });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra.ok()) << ra.status();
  ASSERT_TRUE(rb.ok()) << rb.status();
  EXPECT_EQ(ra->commit, head);
  EXPECT_EQ(rb->commit, head);
  EXPECT_EQ(Read(a.checkout_dir + "/f49"), "49");
  EXPECT_EQ(Read(b.checkout_dir + "/f49"), "49");
  // One of them fetched, the other found everything in the mirror.
  EXPECT_EQ(ra->received_objects == 0, rb->received_objects != 0);
  ASSERT_EQ(Mirrors().size(), 1u);
  testing::RunGit(mirrors_dir_ + "/" + Mirrors()[0], {"fsck", "--strict", "--no-dangling"});
}

TEST_F(FetcherTest, FetchWaitsForTheMirrorLockAndCanBeCancelledWhileWaiting) {
  GitRepoBuilder repo(tmp_.Join("src/app"));
  repo.WriteFile("f", "x");
  repo.Commit("one");
  ASSERT_TRUE(fetcher_->Fetch(Request(repo.url(), "main")).ok());
  // Another worker process holds the mirror's lock.
  std::string lock_path = absl::StrCat(
      mirrors_dir_, "/", Sha256Of(NormalizedUrl(*ParseGitUrl(repo.url()))).hex(), ".lock");
  int fd = open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << lock_path;
  ASSERT_EQ(flock(fd, LOCK_EX), 0);

  FetchRequest request = Request(repo.url(), "main");
  std::atomic<int> polls{0};
  request.cancelled = [&] { return ++polls > 3; };
  auto result = fetcher_->Fetch(request);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled) << result.status();
  EXPECT_THAT(Logs(), Contains(HasSubstr("waiting for another fetch")));

  // Once released, the next fetch goes through.
  close(fd);
  EXPECT_TRUE(fetcher_->Fetch(Request(repo.url(), "main")).ok());
}

TEST_F(FetcherTest, ResolveBranchReadsTheRemoteHeadWithoutFetching) {
  GitRepoBuilder repo(tmp_.Join("served/app.git"));
  repo.WriteFile("f", "x");
  std::string head = repo.Commit("one");
  GitDaemon daemon(tmp_.Join("served"));

  auto sha = fetcher_->ResolveBranch(daemon.Url("app.git"), "main", {});
  ASSERT_TRUE(sha.ok()) << sha.status();
  EXPECT_EQ(*sha, head);
  EXPECT_TRUE(Mirrors().empty());
  auto file_sha = fetcher_->ResolveBranch(repo.path(), "main", {});
  ASSERT_TRUE(file_sha.ok()) << file_sha.status();
  EXPECT_EQ(*file_sha, head);
  EXPECT_EQ(fetcher_->ResolveBranch(daemon.Url("app.git"), "gone", {}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(FetcherTest, BadInputIsRefusedBeforeAnyNetwork) {
  EXPECT_EQ(fetcher_->Fetch(Request("ext::sh -c id", "main")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fetcher_->Fetch(Request("/srv/x", "-upload-pack=x")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fetcher_->Fetch(Request("/srv/x", "main", "not-a-sha")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fetcher_->Fetch(Request("/srv/x", "", "")).status().code(),
            absl::StatusCode::kInvalidArgument);
  FetchRequest ssh = Request("ssh://git@127.0.0.1:1/x.git", "main");
  ssh.auth.ssh_private_key = "KEY";
  absl::Status no_known_hosts = fetcher_->Fetch(ssh).status();
  EXPECT_EQ(no_known_hosts.code(), absl::StatusCode::kFailedPrecondition) << no_known_hosts;
  EXPECT_THAT(no_known_hosts.message(), HasSubstr("ssh_known_hosts"));
}

}  // namespace
}  // namespace tempa::worker
