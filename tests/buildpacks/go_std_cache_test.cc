// The standard-library seed's bookkeeping against a scripted "toolchain" (a sandbox that writes
// a few cache entries where go would): made once per key under a lock, published whole,
// root's and read-only, only cache entries copied (never a link's target), a new seed for a
// changed toolchain, mtimes refreshed, and an app cache seeded through descriptors only.
#include "buildpacks/go/go_std_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks::go {
namespace {

namespace fs = std::filesystem;
using test_support::TempTree;
using ::testing::HasSubstr;

std::string Hash(char c) { return std::string(64, c); }

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes what `go build std` would leave in the mounted /cache: go-build/<xx>/<hash>-{a,d}
// entries, plus whatever a test adds.
class FakeStdCompiler : public Sandbox {
 public:
  absl::StatusOr<SandboxResult> Run(const SandboxCommand& command) override {
    ++runs;
    last = command;
    std::string cache;
    for (const SandboxMount& m : command.mounts) {
      if (m.sandbox_path == "/cache" && m.writable) cache = m.host_path;
    }
    if (cache.empty()) return absl::InvalidArgumentError("no /cache mount");
    if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
    fs::create_directories(cache + "/go-build/aa");
    fs::create_directories(cache + "/go-build/bb");
    std::ofstream(cache + "/go-build/aa/" + Hash('a') + "-a") << "action fmt";
    std::ofstream(cache + "/go-build/aa/" + Hash('1') + "-d") << "object fmt";
    std::ofstream(cache + "/go-build/bb/" + Hash('b') + "-d") << "object net/http";
    std::ofstream(cache + "/go-build/README") << "go's readme";
    if (hostile) {
      // A link named like an entry, and junk names: none of it belongs in a seed.
      fs::create_symlink("/etc/passwd", cache + "/go-build/bb/" + Hash('c') + "-d");
      std::ofstream(cache + "/go-build/bb/notanentry") << "junk";
      fs::create_symlink("/etc", cache + "/go-build/cc");
    }
    return result;
  }

  std::atomic<int> runs{0};
  SandboxCommand last;
  absl::Duration delay;
  bool hostile = false;
  SandboxResult result;
};

GoToolchain RealishToolchain(const std::string& version = "go1.23.5") {
  // The key reads stat identities; any existing files do.
  return GoToolchain{"/bin/sh", "/usr", version};
}

class GoStdCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seeds_ = tree_ / "seeds";
    fs::create_directories(seeds_);
    ::chmod(seeds_.c_str(), 0711);
  }
  GoStdSeedOptions Options() {
    GoStdSeedOptions options;
    options.seeds_dir = seeds_;
    options.sandbox = &compiler_;
    options.build_uid = ::geteuid() == 0 ? 65534 : ::geteuid();
    options.build_gid = ::geteuid() == 0 ? 65534 : ::getegid();
    options.log = [this](absl::string_view line) { log_ += std::string(line) + "\n"; };
    return options;
  }

  TempTree tree_;
  std::string seeds_;
  FakeStdCompiler compiler_;
  std::string log_;
};

TEST_F(GoStdCacheTest, TheSeedIsCompiledOnceAndReusedByLaterCalls) {
  auto first = EnsureGoStdSeed(RealishToolchain(), Options());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->produced);
  auto second = EnsureGoStdSeed(RealishToolchain(), Options());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->produced);
  EXPECT_EQ(first->dir, second->dir);
  EXPECT_EQ(compiler_.runs.load(), 1);
  EXPECT_THAT(log_, HasSubstr("compiling the standard library once for go1.23.5"));
  // The toolchain ran on std with Tempa's own build flags and env, nothing of an app's.
  const std::vector<std::string>& argv = compiler_.last.argv;
  EXPECT_EQ(argv.back(), "std");
  EXPECT_THAT(argv, ::testing::Contains("-trimpath"));
  EXPECT_EQ(compiler_.last.env.at("CGO_ENABLED"), "0");
  EXPECT_EQ(compiler_.last.env.at("GOCACHE"), "/cache/go-build");
  EXPECT_TRUE(compiler_.last.egress.empty());
  EXPECT_FALSE(compiler_.last.network);
}

TEST_F(GoStdCacheTest, TheSeedIsRootsReadOnlyAndLeavesNoWorkDirectories) {
  auto seed = EnsureGoStdSeed(RealishToolchain(), Options());
  ASSERT_TRUE(seed.ok()) << seed.status();
  std::string entry = seed->dir + "/go-build/aa/" + Hash('a') + "-a";
  struct stat st;
  ASSERT_EQ(::lstat(entry.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_EQ(Slurp(entry), "action fmt");
  for (const std::string& dir : {seed->dir, seed->dir + "/go-build", seed->dir + "/go-build/aa"}) {
    ASSERT_EQ(::lstat(dir.c_str(), &st), 0) << dir;
    EXPECT_EQ(st.st_mode & 07777, 0700u) << dir;
    EXPECT_EQ(st.st_uid, ::geteuid()) << dir;
  }
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(seeds_)) names.push_back(e.path().filename());
  EXPECT_THAT(names,
              ::testing::UnorderedElementsAre("go-" + seed->key, "go-" + seed->key + ".lock"));
  EXPECT_THAT(Slurp(seed->dir + "/INFO"), HasSubstr("entries 3"));
}

TEST_F(GoStdCacheTest, OnlyCacheEntryFilesAreCopiedNeverALinksTarget) {
  compiler_.hostile = true;
  auto seed = EnsureGoStdSeed(RealishToolchain(), Options());
  ASSERT_TRUE(seed.ok()) << seed.status();
  EXPECT_FALSE(fs::exists(fs::symlink_status(seed->dir + "/go-build/bb/" + Hash('c') + "-d")));
  EXPECT_FALSE(fs::exists(seed->dir + "/go-build/bb/notanentry"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(seed->dir + "/go-build/cc")));
  EXPECT_FALSE(fs::exists(seed->dir + "/go-build/README"));
  EXPECT_EQ(Slurp(seed->dir + "/go-build/bb/" + Hash('b') + "-d"), "object net/http");
}

TEST_F(GoStdCacheTest, AnotherToolchainGetsItsOwnSeedAndTheOldOneStays) {
  auto old_seed = EnsureGoStdSeed(RealishToolchain("go1.23.5"), Options());
  auto new_seed = EnsureGoStdSeed(RealishToolchain("go1.23.6"), Options());
  ASSERT_TRUE(old_seed.ok() && new_seed.ok());
  EXPECT_NE(old_seed->key, new_seed->key);
  EXPECT_TRUE(new_seed->produced);
  EXPECT_EQ(compiler_.runs.load(), 2);
  EXPECT_TRUE(fs::exists(old_seed->dir + "/INFO"));
  // The same version from another GOROOT (a rebuilt toolchain elsewhere) is another key too.
  EXPECT_NE(GoStdSeedKey(GoToolchain{"/bin/sh", "/opt/go", "go1.23.5"}),
            GoStdSeedKey(RealishToolchain("go1.23.5")));
  EXPECT_EQ(GoStdSeedKey(RealishToolchain()), GoStdSeedKey(RealishToolchain()));
}

TEST_F(GoStdCacheTest, ANewToolchainsSeedRemovesSeedsUnusedForAMonthOnly) {
  auto unused = EnsureGoStdSeed(RealishToolchain("go1.21.0"), Options());
  auto recent = EnsureGoStdSeed(RealishToolchain("go1.22.0"), Options());
  ASSERT_TRUE(unused.ok() && recent.ok());
  // An app cache still links one of the unused seed's files.
  tree_.Mkdir("app/go");
  ASSERT_TRUE(SeedGoCache(unused->dir, tree_ / "app/go/go-build", true).ok());
  auto old_time = fs::file_time_type::clock::now() - std::chrono::hours(24 * 40);
  fs::last_write_time(unused->dir + "/INFO", old_time);
  auto now_seed = EnsureGoStdSeed(RealishToolchain("go1.23.5"), Options());
  ASSERT_TRUE(now_seed.ok()) << now_seed.status();
  EXPECT_FALSE(fs::exists(unused->dir));
  EXPECT_TRUE(fs::exists(recent->dir + "/INFO"));
  EXPECT_EQ(Slurp(tree_ / ("app/go/go-build/bb/" + Hash('b') + "-d")), "object net/http");
  for (const auto& e : fs::directory_iterator(seeds_)) {
    EXPECT_FALSE(absl::StartsWith(e.path().filename().string(), ".")) << e.path();
  }
}

TEST_F(GoStdCacheTest, ConcurrentFirstCallsCompileOnceAndAllGetTheWholeSeed) {
  compiler_.delay = absl::Milliseconds(300);
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<GoStdSeed>> seeds(4, absl::UnknownError("not run"));
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { seeds[i] = EnsureGoStdSeed(RealishToolchain(), Options()); });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(compiler_.runs.load(), 1);
  int produced = 0;
  for (const auto& seed : seeds) {
    ASSERT_TRUE(seed.ok()) << seed.status();
    produced += seed->produced;
    EXPECT_EQ(Slurp(seed->dir + "/go-build/bb/" + Hash('b') + "-d"), "object net/http");
  }
  EXPECT_EQ(produced, 1);
}

TEST_F(GoStdCacheTest, AFailedCompileLeavesNoSeedAndTheNextCallTriesAgain) {
  compiler_.result.exit_code = 2;
  compiler_.result.log_tail = "compile: out of luck";
  auto seed = EnsureGoStdSeed(RealishToolchain(), Options());
  ASSERT_FALSE(seed.ok());
  EXPECT_THAT(std::string(seed.status().message()), HasSubstr("out of luck"));
  EXPECT_FALSE(fs::exists(seeds_ + "/go-" + GoStdSeedKey(RealishToolchain())));
  compiler_.result = SandboxResult();
  auto again = EnsureGoStdSeed(RealishToolchain(), Options());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->produced);
}

TEST_F(GoStdCacheTest, WhatACrashedRunLeftIsReplaced) {
  std::string key = GoStdSeedKey(RealishToolchain());
  tree_.Write("seeds/.staging-go-" + key + "/go-build/aa/" + Hash('a') + "-a", "stale");
  tree_.Write("seeds/.work-go-" + key + "/go-build/zz", "stale");
  auto seed = EnsureGoStdSeed(RealishToolchain(), Options());
  ASSERT_TRUE(seed.ok()) << seed.status();
  EXPECT_EQ(Slurp(seed->dir + "/go-build/aa/" + Hash('a') + "-a"), "action fmt");
  EXPECT_FALSE(fs::exists(seeds_ + "/.staging-go-" + key));
  EXPECT_FALSE(fs::exists(seeds_ + "/.work-go-" + key));
}

TEST_F(GoStdCacheTest, AStaleSeedGetsFreshMtimesSoGoNeverTrimsIt) {
  auto seed = EnsureGoStdSeed(RealishToolchain(), Options());
  ASSERT_TRUE(seed.ok());
  std::string entry = seed->dir + "/go-build/aa/" + Hash('a') + "-a";
  auto old_time = fs::file_time_type::clock::now() - std::chrono::hours(24 * 10);
  fs::last_write_time(entry, old_time);
  fs::last_write_time(seed->dir + "/INFO", old_time);
  auto again = EnsureGoStdSeed(RealishToolchain(), Options());
  ASSERT_TRUE(again.ok());
  EXPECT_GT(fs::last_write_time(entry), fs::file_time_type::clock::now() - std::chrono::hours(1));
  EXPECT_EQ(compiler_.runs.load(), 1);
}

TEST_F(GoStdCacheTest, SeedingLinksTheSeedsFilesAndKeepsWhatTheCacheHas) {
  auto seed = EnsureGoStdSeed(RealishToolchain(), Options());
  ASSERT_TRUE(seed.ok());
  // The app's cache already has one of the names (its own build wrote it).
  tree_.Write("app/go/go-build/aa/" + Hash('a') + "-a", "the app's own");
  auto stats = SeedGoCache(seed->dir, tree_ / "app/go/go-build", /*hard_link=*/true);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->added, 2u);
  EXPECT_EQ(stats->present, 1u);
  EXPECT_EQ(Slurp(tree_ / ("app/go/go-build/aa/" + Hash('a') + "-a")), "the app's own");
  struct stat linked, original;
  ASSERT_EQ(::stat((tree_ / ("app/go/go-build/bb/" + Hash('b') + "-d")).c_str(), &linked), 0);
  ASSERT_EQ(::stat((seed->dir + "/go-build/bb/" + Hash('b') + "-d").c_str(), &original), 0);
  EXPECT_EQ(linked.st_ino, original.st_ino);
  // Seeding again adds nothing; an entry go trimmed away comes back.
  ASSERT_EQ(::unlink((tree_ / ("app/go/go-build/bb/" + Hash('b') + "-d")).c_str()), 0);
  auto again = SeedGoCache(seed->dir, tree_ / "app/go/go-build", true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->added, 1u);
  EXPECT_EQ(again->present, 2u);
}

TEST_F(GoStdCacheTest, CopyingGivesTheCacheItsOwnFiles) {
  auto seed = EnsureGoStdSeed(RealishToolchain(), Options());
  ASSERT_TRUE(seed.ok());
  tree_.Mkdir("app/go");
  auto stats = SeedGoCache(seed->dir, tree_ / "app/go/go-build", /*hard_link=*/false);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->added, 3u);
  struct stat copied;
  ASSERT_EQ(::stat((tree_ / ("app/go/go-build/bb/" + Hash('b') + "-d")).c_str(), &copied), 0);
  EXPECT_EQ(copied.st_nlink, 1u);
}

TEST_F(GoStdCacheTest, ALinkPlantedInTheAppCacheIsNeverFollowed) {
  auto seed = EnsureGoStdSeed(RealishToolchain(), Options());
  ASSERT_TRUE(seed.ok());
  tree_.Mkdir("elsewhere");
  tree_.Mkdir("app/go");
  tree_.Symlink(tree_ / "elsewhere", "app/go/go-build");
  EXPECT_FALSE(SeedGoCache(seed->dir, tree_ / "app/go/go-build", true).ok());
  // An <xx> directory swapped for a link: refused, nothing lands where it points.
  tree_.Mkdir("app2/go/go-build");
  tree_.Symlink(tree_ / "elsewhere", "app2/go/go-build/aa");
  EXPECT_FALSE(SeedGoCache(seed->dir, tree_ / "app2/go/go-build", true).ok());
  EXPECT_TRUE(fs::is_empty(tree_ / "elsewhere"));
}

TEST_F(GoStdCacheTest, AnAppBuildWithoutASeedDirectoryIsNotSeeded) {
  BuildContext context;
  context.sandbox = &compiler_;
  context.scratch_dir = tree_.path();
  tree_.Mkdir("app/go");
  SeedAppGoCache(RealishToolchain(), context, tree_ / "app/go/go-build");
  EXPECT_EQ(compiler_.runs.load(), 0);
  EXPECT_FALSE(fs::exists(tree_ / "app/go/go-build"));
}

TEST_F(GoStdCacheTest, AnAppBuildIsSeededAndSaysSo) {
  BuildContext context;
  context.sandbox = &compiler_;
  context.scratch_dir = tree_.path();
  context.toolchain_seed_dir = seeds_;
  context.log = [this](absl::string_view line) { log_ += std::string(line) + "\n"; };
  tree_.Mkdir("app/go");
  SeedAppGoCache(RealishToolchain(), context, tree_ / "app/go/go-build");
  EXPECT_EQ(compiler_.runs.load(), 1);
  EXPECT_THAT(log_, HasSubstr("standard library from the go1.23.5 seed (3 cache entries"));
  EXPECT_TRUE(fs::exists(tree_ / ("app/go/go-build/aa/" + Hash('a') + "-a")));
}

}  // namespace
}  // namespace tempa::buildpacks::go
