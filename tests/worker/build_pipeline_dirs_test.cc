// The pipeline's private directories, tried as a hostile earlier build or another local user
// would: links planted in an app cache or where the cache belongs, a second build of the same
// app at once, names that used to collide. As root the build user is 65534, as in the CLI.
#include "worker/build_pipeline_dirs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/synchronization/notification.h"
#include "buildpacks/internal/fs_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

namespace tempa::worker {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

class BuildPipelineDirsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the build user differs from the caller only as root";
    options_.scratch_parent = tmp_.Join("area/tmp");
    options_.cache_parent = tmp_.Join("area");
    options_.build_owner = DirOwner{65534, 65534};
    options_.shared_seeds_root = tmp_.Join("system/seeds");
    // A root-owned file and directory outside the area, for links to point at.
    victim_dir_ = tmp_.Join("victim");
    fs::create_directories(victim_dir_);
    chmod(victim_dir_.c_str(), 0755);
    victim_file_ = victim_dir_ + "/secret";
    std::ofstream(victim_file_) << "root's";
    chmod(victim_file_.c_str(), 0600);
  }

  void ExpectVictimsUntouched() {
    struct stat dir = Lstat(victim_dir_);
    EXPECT_EQ(dir.st_uid, 0u);
    EXPECT_EQ(dir.st_mode & 07777, 0755u);
    struct stat file = Lstat(victim_file_);
    EXPECT_EQ(file.st_uid, 0u);
    EXPECT_EQ(file.st_mode & 07777, 0600u);
  }

  testing::TempDir tmp_{"pipeline-dirs-"};
  BuildDirs::Options options_;
  std::string victim_dir_;
  std::string victim_file_;
};

TEST(AppCacheKeyTest, NamesThatUsedToShareADirectoryGetTheirOwn) {
  EXPECT_NE(AppCacheKey("team/app"), AppCacheKey("team_app"));
  EXPECT_NE(AppCacheKey("a.b"), AppCacheKey("a_b"));
  EXPECT_EQ(AppCacheKey("team/app"), AppCacheKey("team/app"));
  EXPECT_THAT(AppCacheKey("team/app"), ::testing::StartsWith("team_app-"));
  EXPECT_EQ(AppCacheKey("..").find('/'), std::string::npos);
  EXPECT_NE(AppCacheKey("..").substr(0, 1), ".");
  EXPECT_NE(AppCacheKey(""), "");
}

TEST_F(BuildPipelineDirsTest, ScratchAndCacheAreTheBuildUsersWithMode0700InRootsParents) {
  absl::StatusOr<BuildDirs> dirs = BuildDirs::Open(options_, "team/app", nullptr);
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  ASSERT_TRUE(dirs->HandOverScratch().ok());
  for (const std::string& dir : {dirs->scratch(), dirs->app_cache()}) {
    struct stat st = Lstat(dir);
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << dir;
    EXPECT_EQ(st.st_uid, 65534u) << dir;
    EXPECT_EQ(st.st_gid, 65534u) << dir;
    EXPECT_EQ(st.st_mode & 07777, 0700u) << dir;
  }
  for (const std::string& parent : {options_.scratch_parent, options_.cache_parent + "/apps"}) {
    struct stat st = Lstat(parent);
    EXPECT_EQ(st.st_uid, 0u) << parent;
    EXPECT_EQ(st.st_mode & 07777, 0711u) << parent;
  }
  struct stat lock = Lstat(options_.cache_parent + "/locks/" + AppCacheKey("team/app") + ".lock");
  EXPECT_EQ(lock.st_uid, 0u);
  EXPECT_EQ(lock.st_mode & 077, 0u);
  // The build user can reach both (bwrap mounts them as that user).
  EXPECT_TRUE(CheckReachableBy(dirs->scratch() + "/.", 65534, 65534).ok());
  EXPECT_TRUE(CheckReachableBy(dirs->app_cache() + "/.", 65534, 65534).ok());
}

TEST_F(BuildPipelineDirsTest, ToolchainSeedsAreSharedByWorkAreasAndRootsAlone) {
  absl::StatusOr<BuildDirs> dirs = BuildDirs::Open(options_, "team/app", nullptr);
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  EXPECT_EQ(dirs->toolchain_seeds(), fs::canonical(tmp_.Join("system/seeds")).string());
  struct stat st = Lstat(dirs->toolchain_seeds());
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  // Another work area (another cache directory) finds the same seeds; so does a daemon's start.
  BuildDirs::Options other = options_;
  other.cache_parent = tmp_.Join("other");
  other.scratch_parent = tmp_.Join("other/tmp");
  absl::StatusOr<BuildDirs> other_dirs = BuildDirs::Open(other, "team/app", nullptr);
  ASSERT_TRUE(other_dirs.ok()) << other_dirs.status();
  EXPECT_EQ(other_dirs->toolchain_seeds(), dirs->toolchain_seeds());
  absl::StatusOr<std::string> seeds =
      OpenToolchainSeeds(options_.cache_parent, options_.shared_seeds_root);
  ASSERT_TRUE(seeds.ok()) << seeds.status();
  EXPECT_EQ(*seeds, dirs->toolchain_seeds());
}

TEST_F(BuildPipelineDirsTest, SeedsStayInTheAreaWhenOthersCouldChangeTheSharedRoot) {
  fs::create_directories(tmp_.Join("system"));
  ::chmod(tmp_.Join("system").c_str(), 0777);
  // And a link left where the area's seeds belong is replaced, never followed.
  fs::create_directories(options_.cache_parent);
  fs::create_directory_symlink(victim_dir_, options_.cache_parent + "/seeds");
  absl::StatusOr<BuildDirs> dirs = BuildDirs::Open(options_, "team/app", nullptr);
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  EXPECT_EQ(dirs->toolchain_seeds(), fs::canonical(options_.cache_parent).string() + "/seeds");
  struct stat st = Lstat(dirs->toolchain_seeds());
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  EXPECT_FALSE(fs::exists(tmp_.Join("system/seeds")));
  ExpectVictimsUntouched();
}

TEST_F(BuildPipelineDirsTest, TheScratchDirectoryGoesWithTheBuildButNotWhatItsLinksPointAt) {
  std::string scratch;
  {
    absl::StatusOr<BuildDirs> dirs = BuildDirs::Open(options_, "app", nullptr);
    ASSERT_TRUE(dirs.ok()) << dirs.status();
    scratch = dirs->scratch();
    fs::create_directories(scratch + "/out/deep");
    fs::create_directory_symlink(victim_dir_, scratch + "/out/dir-link");
    fs::create_symlink(victim_file_, scratch + "/out/deep/file-link");
    chmod((scratch + "/out/deep").c_str(), 0);  // a build may leave what it cannot list
  }
  EXPECT_FALSE(fs::exists(fs::symlink_status(scratch)));
  EXPECT_TRUE(fs::exists(victim_file_));
  ExpectVictimsUntouched();
}

TEST_F(BuildPipelineDirsTest, AStaleAppCacheThatIsASymlinkIsReplacedNeverFollowed) {
  std::string apps = options_.cache_parent + "/apps";
  fs::create_directories(apps);
  std::string cache = apps + "/" + AppCacheKey("app");
  fs::create_directory_symlink(victim_dir_, cache);

  absl::StatusOr<BuildDirs> dirs = BuildDirs::Open(options_, "app", nullptr);
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  struct stat st = Lstat(cache);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_uid, 65534u);
  ExpectVictimsUntouched();
  EXPECT_TRUE(fs::exists(victim_file_));
}

TEST_F(BuildPipelineDirsTest, LinksPlantedInAnAppCacheChangeNoModeOrOwnerOutsideIt) {
  std::string cache;
  {
    absl::StatusOr<BuildDirs> first = BuildDirs::Open(options_, "app", nullptr);
    ASSERT_TRUE(first.ok()) << first.status();
    cache = first->app_cache();
  }
  // What an earlier build (or a local user with the build uid) could leave behind.
  fs::create_directory_symlink(victim_dir_, cache + "/go");
  fs::create_symlink(victim_file_, cache + "/file-link");
  fs::create_directories(cache + "/rust");
  fs::create_directory_symlink(victim_dir_, cache + "/rust/target");
  ASSERT_EQ(link(victim_file_.c_str(), (cache + "/hard-link").c_str()), 0);

  absl::StatusOr<BuildDirs> dirs = BuildDirs::Open(options_, "app", nullptr);
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  ASSERT_TRUE(PrepareForSandbox(dirs->app_cache(), {}).ok());
  // The buildpacks then make their cache directories in it.
  absl::Status go = buildpacks::internal::MakeDirs(dirs->app_cache() + "/go", 0700);
  EXPECT_EQ(go.code(), absl::StatusCode::kInvalidArgument) << go;
  EXPECT_THAT(go.message(), HasSubstr("symlink"));
  absl::Status target = buildpacks::internal::MakeDirs(dirs->app_cache() + "/rust/target/x", 0700);
  EXPECT_FALSE(target.ok());
  EXPECT_FALSE(fs::exists(victim_dir_ + "/x"));
  EXPECT_EQ(Lstat(cache + "/file-link").st_uid, 65534u);  // the link itself is handed over
  ExpectVictimsUntouched();
}

TEST_F(BuildPipelineDirsTest, MakeDirsGivesNewDirectoriesToTheOwnerOfTheirParent) {
  absl::StatusOr<BuildDirs> dirs = BuildDirs::Open(options_, "app", nullptr);
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  ASSERT_TRUE(dirs->HandOverScratch().ok());
  std::string out = dirs->scratch() + "/go-out/nested";
  ASSERT_TRUE(buildpacks::internal::MakeDirs(out, 0700).ok());
  for (const std::string& dir : {dirs->scratch() + "/go-out", out}) {
    struct stat st = Lstat(dir);
    EXPECT_EQ(st.st_uid, 65534u) << dir;
    EXPECT_EQ(st.st_mode & 07777, 0700u) << dir;
  }
  // In root's directory, root's.
  std::string mine = tmp_.Join("root-made/x");
  ASSERT_TRUE(buildpacks::internal::MakeDirs(mine, 0755).ok());
  EXPECT_EQ(Lstat(mine).st_uid, 0u);
  EXPECT_EQ(Lstat(mine).st_mode & 07777, 0755u);
}

TEST_F(BuildPipelineDirsTest, ASecondBuildOfTheSameAppWaitsUntilTheFirstReleasesItsCache) {
  auto first =
      std::make_unique<absl::StatusOr<BuildDirs>>(BuildDirs::Open(options_, "app", nullptr));
  ASSERT_TRUE(first->ok()) << first->status();

  absl::Notification waiting;
  std::atomic<bool> second_has_cache{false};
  std::string logged;
  absl::Status second_status;
  std::thread second([&] {
    absl::StatusOr<BuildDirs> dirs = BuildDirs::Open(options_, "app", [&](absl::string_view line) {
      logged = std::string(line);
      waiting.Notify();
    });
    second_status = dirs.status();
    second_has_cache = true;
  });
  waiting.WaitForNotification();
  EXPECT_EQ(logged, "waiting for another build of app to finish with its cache");
  EXPECT_FALSE(second_has_cache.load()) << "the second build got the cache while the first held it";
  // Another app is not held up.
  absl::StatusOr<BuildDirs> other = BuildDirs::Open(options_, "other-app", nullptr);
  EXPECT_TRUE(other.ok()) << other.status();

  first.reset();
  second.join();
  EXPECT_TRUE(second_has_cache.load());
  EXPECT_TRUE(second_status.ok()) << second_status;
}

TEST_F(BuildPipelineDirsTest, AnUnreadableSourceDirectoryIsReportedNotJustItsParents) {
  std::string src = tmp_.Join("src");
  fs::create_directories(src);
  chmod(src.c_str(), 0700);
  absl::Status s = CheckReadableBy(src, 65534, 65534);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("mode 0700"));
  chmod(src.c_str(), 0711);
  EXPECT_FALSE(CheckReadableBy(src, 65534, 65534).ok()) << "searchable but not listable";
  chmod(src.c_str(), 0755);
  EXPECT_TRUE(CheckReadableBy(src, 65534, 65534).ok());
  // Below it too: a private file or directory anywhere in the tree (not in .git).
  fs::create_directories(src + "/.git/objects");
  chmod((src + "/.git/objects").c_str(), 0700);
  EXPECT_TRUE(CheckReadableBy(src, 65534, 65534).ok()) << ".git is never mounted";
  fs::create_directories(src + "/pkg");
  std::ofstream(src + "/pkg/config.go") << "package pkg\n";
  chmod((src + "/pkg/config.go").c_str(), 0600);
  s = CheckReadableBy(src, 65534, 65534);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr(src + "/pkg/config.go (mode 0600"));
  chmod((src + "/pkg/config.go").c_str(), 0644);
  fs::create_symlink("/etc/shadow", src + "/pkg/link");  // not followed
  EXPECT_TRUE(CheckReadableBy(src, 65534, 65534).ok());
}

TEST_F(BuildPipelineDirsTest, BuildDirectoriesStayOnlyUnderDirectoriesNoOtherUserCanChange) {
  std::string ours = tmp_.Join("ours/cache");
  fs::create_directories(ours);
  EXPECT_TRUE(CheckOnlyWeCanChange(ours).ok()) << "root's, under sticky /tmp";
  std::string theirs = tmp_.Join("theirs");
  fs::create_directories(theirs + "/cache");
  ASSERT_EQ(chown(theirs.c_str(), 65534, 65534), 0);
  absl::Status s = CheckOnlyWeCanChange(theirs + "/cache");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr(theirs + " can be changed by uid 65534"));
  std::string group_writable = tmp_.Join("group-writable");
  fs::create_directories(group_writable);
  chmod(group_writable.c_str(), 0775);
  EXPECT_FALSE(CheckOnlyWeCanChange(group_writable).ok());
  fs::create_directory_symlink(ours, tmp_.Join("link"));
  EXPECT_FALSE(CheckOnlyWeCanChange(tmp_.Join("link")).ok()) << "a real path is wanted";
}

TEST_F(BuildPipelineDirsTest, APrivateAreaIsKeyedByTheCacheDirectorysRealPath) {
  std::string a = tmp_.Join("cache-a");
  std::string b = tmp_.Join("cache-b");
  fs::create_directories(a);
  fs::create_directories(b);
  fs::create_directory_symlink(a, tmp_.Join("link-to-a"));
  absl::StatusOr<std::string> area_a = PrivateAreaFor(a, "/root-of-areas");
  absl::StatusOr<std::string> area_b = PrivateAreaFor(b, "/root-of-areas");
  absl::StatusOr<std::string> via_link = PrivateAreaFor(tmp_.Join("link-to-a"), "/root-of-areas");
  ASSERT_TRUE(area_a.ok() && area_b.ok() && via_link.ok());
  EXPECT_NE(*area_a, *area_b);
  EXPECT_EQ(*area_a, *via_link);
  EXPECT_THAT(*area_a, ::testing::StartsWith("/root-of-areas/"));
}

}  // namespace
}  // namespace tempa::worker
