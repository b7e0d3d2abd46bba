// ResolveApp's runtime-file lists: tempa.toml's include/exclude reach the build, the root's
// winning over a monorepo subdirectory's.
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "worker/app_source.h"

namespace tempa::worker {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

void Write(const std::string& root, const std::string& rel, const std::string& text) {
  fs::path path = fs::path(root) / rel;
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

TEST(AppSourceFiles, IncludeAndExcludeReachTheResolvedApp) {
  testing::TempDir dir("tempa-app-files-");
  Write(dir.path(), "tempa.toml", "include = [\"vendor/assets/\"]\nexclude = [\"docs/\"]\n");
  auto app = ResolveApp(dir.path(), {}, {});
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_THAT(app->include_files, ElementsAre("vendor/assets/"));
  EXPECT_THAT(app->exclude_files, ElementsAre("docs/"));
  // `tempa detect` and the build's first progress line show them.
  EXPECT_THAT(app->notes, ::testing::IsSupersetOf({"include vendor/assets/", "exclude docs/"}));
}

TEST(AppSourceFiles, TheRootsListsWinAndTheSubdirectoryFillsTheRest) {
  testing::TempDir dir("tempa-app-files-");
  Write(dir.path(), "tempa.toml", "subdirectory = \"web\"\nexclude = [\"*.mp4\"]\n");
  Write(dir.path(), "web/tempa.toml", "include = [\"go.mod\"]\nexclude = [\"ignored/\"]\n");
  auto app = ResolveApp(dir.path(), {}, {});
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_THAT(app->include_files, ElementsAre("go.mod"));
  EXPECT_THAT(app->exclude_files, ElementsAre("*.mp4"));
}

}  // namespace
}  // namespace tempa::worker
