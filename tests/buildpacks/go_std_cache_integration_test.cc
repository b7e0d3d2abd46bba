// The standard-library seed with the real toolchain in the real sandbox: a new app's first build
// compiles none of the standard library (its cache gains only its own packages' entries beside
// the seed's links), the build user cannot change a seeded file (only unlink its own link), and
// go's mtime bumps and trim on seeded entries neither fail the build nor touch the seed.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "buildpacks/go/go_buildpack.h"
#include "buildpacks/go/go_std_cache.h"
#include "common/digest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"
#include "tests/support/buildpack_integration_test.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

namespace tempa::buildpacks {
namespace {

namespace fs = std::filesystem;
using test_support::TempTree;
using ::testing::HasSubstr;

constexpr uid_t kBuildUid = 65534;

std::string Example(const std::string& name) {
  const char* root = std::getenv("TEMPA_SOURCE_DIR");
  return std::string(root ? root : TEMPA_SOURCE_ROOT) + "/examples/" + name;
}

// What a GOCACHE holds after a build: entries that are root's links to the seed, and entries
// the build wrote itself (what it compiled).
struct CacheCount {
  int seed_links = 0;
  int own = 0;
};
CacheCount CountCache(const std::string& gocache) {
  CacheCount count;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(gocache, ec)) {
    struct stat st;
    if (::lstat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    std::string name = e.path().filename();
    if (name.size() != 66) continue;  // README, trim.txt
    if (st.st_uid == 0 && st.st_nlink >= 2 && (st.st_mode & 0222) == 0) {
      ++count.seed_links;
    } else if (st.st_uid == kBuildUid) {
      ++count.own;
    }
  }
  return count;
}

// Any one entry file of a seed, relative to its go-build.
std::string SomeSeedEntry(const std::string& seed) {
  for (const auto& e : fs::recursive_directory_iterator(seed + "/go-build")) {
    if (e.is_regular_file()) return fs::relative(e.path(), seed + "/go-build");
  }
  return "";
}

class GoStdCacheIntegrationTest : public tempa::testing::BuildpackIntegrationTest {
 protected:
  // One seeds directory for the whole suite and, under ctest (a process per test), for every
  // process: kept beside the test binary when the build user can reach it. Concurrent first
  // uses (ctest -j) wait on the seed's lock.
  static void SetUpTestSuite() {
    owned_ = new TempTree();
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    bool reachable = !ec && CheckReachableBy(self.string(), kBuildUid, kBuildUid).ok();
    seeds_ = reachable ? (self.parent_path() / "go-std-seed-test").string() : (*owned_ / "seeds");
    fs::create_directories(seeds_, ec);
    ::chmod(seeds_.c_str(), 0711);
  }
  static void TearDownTestSuite() {
    delete owned_;
    owned_ = nullptr;
  }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the seed is shared read-only with another build user";
    auto toolchain = HostGoToolchainLocator().Locate();
    if (!toolchain.ok()) GTEST_SKIP() << toolchain.status();
    toolchain_ = *toolchain;
    BuildpackIntegrationTest::SetUp();
    if (IsSkipped()) return;
    buildpack_ = std::make_unique<GoBuildpack>(std::make_shared<HostGoToolchainLocator>());
  }

  std::string CopyExample(const TempTree& tree, const std::string& name) {
    fs::copy(Example(name), tree / name, fs::copy_options::recursive);
    return tree / name;
  }

  absl::StatusOr<go::GoStdSeed> Seed() {
    go::GoStdSeedOptions options;
    options.seeds_dir = seeds_;
    options.sandbox = &sandbox_;
    options.build_uid = kBuildUid;
    options.build_gid = kBuildUid;
    return go::EnsureGoStdSeed(toolchain_, options);
  }

  GoToolchain toolchain_;
  std::unique_ptr<GoBuildpack> buildpack_;
  static TempTree* owned_;
  static std::string seeds_;
};

TempTree* GoStdCacheIntegrationTest::owned_ = nullptr;
std::string GoStdCacheIntegrationTest::seeds_;

TEST_F(GoStdCacheIntegrationTest, ANewAppsFirstBuildCompilesNoStandardLibraryPackage) {
  TempTree source, scratch, cache;
  toolchain_seed_dir_ = seeds_;
  auto app =
      DetectAndBuild(*buildpack_, CopyExample(source, "go-hello"), scratch.path(), cache.path());
  ASSERT_TRUE(app.ok()) << app.status() << "\n" << log_;
  EXPECT_THAT(log_, HasSubstr("standard library from the " + toolchain_.version + " seed"));
  CacheCount count = CountCache(cache / "go/go-build");
  // The seed is the whole standard library (about 2,000 entries for go1.23); the app's build
  // wrote entries only for what it compiled: its main package, its one vendored module and the
  // link. A cache key that missed the seed would compile net/http's ~150 packages here.
  EXPECT_GE(count.seed_links, 1000) << log_;
  EXPECT_LE(count.own, 60) << "the build compiled standard library packages\n" << log_;
}

TEST_F(GoStdCacheIntegrationTest, TheBuildUserCannotChangeASeededFileOnlyUnlinkItsLink) {
  TempTree source, scratch, cache;
  toolchain_seed_dir_ = seeds_;
  auto app =
      DetectAndBuild(*buildpack_, CopyExample(source, "go-hello"), scratch.path(), cache.path());
  ASSERT_TRUE(app.ok()) << app.status() << "\n" << log_;
  auto seed = Seed();
  ASSERT_TRUE(seed.ok()) << seed.status();
  std::string entry = SomeSeedEntry(seed->dir);
  ASSERT_FALSE(entry.empty());
  std::string seed_file = seed->dir + "/go-build/" + entry;
  auto before = Sha256OfFile(seed_file);
  ASSERT_TRUE(before.ok());
  struct stat seed_st;
  ASSERT_EQ(::stat(seed_file.c_str(), &seed_st), 0);

  // A "build" of this app: the build user, its cache mounted writable, tries everything.
  SandboxCommand attack;
  std::string f = "/cache/go/go-build/" + entry;
  attack.argv = {"/bin/sh", "-c",
                 "f=" + f +
                     "\n"
                     "(echo evil >> \"$f\") 2>/dev/null && echo WROTE\n"
                     "(: > \"$f\") 2>/dev/null && echo TRUNCATED\n"
                     "chmod 0666 \"$f\" 2>/dev/null && echo CHMODDED\n"
                     "touch -d @0 \"$f\" 2>/dev/null && echo BACKDATED\n"
                     "touch \"$f\" 2>/dev/null && echo TOUCHED\n"
                     "rm -f \"$f\" && echo UNLINKED\n"};
  attack.env = {{"PATH", "/usr/bin:/bin"}};
  attack.cwd = "/cache";
  attack.mounts = {{cache.path(), "/cache", true}};
  std::string out;
  attack.on_output = [&out](absl::string_view line) { out += std::string(line) + "\n"; };
  auto ran = sandbox_.Run(attack);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_EQ(out, "UNLINKED\n");

  auto after = Sha256OfFile(seed_file);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, *before);
  struct stat now_st;
  ASSERT_EQ(::stat(seed_file.c_str(), &now_st), 0);
  EXPECT_EQ(now_st.st_mode & 07777, 0444u);
  EXPECT_EQ(now_st.st_uid, 0u);
  EXPECT_EQ(now_st.st_mtim.tv_sec, seed_st.st_mtim.tv_sec);
  // The next build's seeding puts the link back.
  auto again = go::SeedGoCache(seed->dir, cache / "go/go-build", true);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->added, 1u);
}

TEST_F(GoStdCacheIntegrationTest, GosMtimeBumpsAndTrimOnSeededEntriesLeaveTheSeedAlone) {
  auto seed = Seed();
  ASSERT_TRUE(seed.ok()) << seed.status();
  // A private copy of the seed (new inodes, root's, 0444) whose entries look 10 days unused: go
  // then tries to bump the mtimes of those it uses (refused) and its trim unlinks every one
  // from the app's cache. Neither may fail the build or change the copy.
  TempTree mine, source, scratch, cache;
  std::string copy = mine / "seed";
  fs::copy(seed->dir, copy, fs::copy_options::recursive);
  auto old_time = fs::file_time_type::clock::now() - std::chrono::hours(24 * 10);
  std::string entry = SomeSeedEntry(copy);
  for (const auto& e : fs::recursive_directory_iterator(copy + "/go-build")) {
    if (!e.is_regular_file()) continue;
    fs::last_write_time(e.path(), old_time);
    ::chmod(e.path().c_str(), 0444);
  }
  auto before = Sha256OfFile(copy + "/go-build/" + entry);
  ASSERT_TRUE(PrepareForSandbox(cache.path(), {}).ok());
  fs::create_directories(cache / "go");
  ASSERT_EQ(::chown((cache / "go").c_str(), kBuildUid, kBuildUid), 0);
  auto linked = go::SeedGoCache(copy, cache / "go/go-build", true);
  ASSERT_TRUE(linked.ok()) << linked.status();
  ASSERT_GE(linked->added, 1000u);

  toolchain_seed_dir_.clear();  // the build must not re-seed from the shared seed
  auto app =
      DetectAndBuild(*buildpack_, CopyExample(source, "go-hello"), scratch.path(), cache.path());
  ASSERT_TRUE(app.ok()) << app.status() << "\n" << log_;
  // Trim ran (a new cache has no trim.txt) and unlinked the old links: none is left.
  EXPECT_EQ(CountCache(cache / "go/go-build").seed_links, 0);
  // The copy is whole and unchanged, its mtimes still the old ones.
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(copy + "/go-build")) {
    if (!e.is_regular_file()) continue;
    ++files;
    EXPECT_LT(fs::last_write_time(e.path()), old_time + std::chrono::hours(1)) << e.path();
  }
  EXPECT_EQ(static_cast<size_t>(files), linked->added);
  EXPECT_EQ(*Sha256OfFile(copy + "/go-build/" + entry), *before);
  // The hand-over walk before the build left root's shared files root's.
  struct stat st;
  ASSERT_EQ(::stat((copy + "/go-build/" + entry).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
}

}  // namespace
}  // namespace tempa::buildpacks
