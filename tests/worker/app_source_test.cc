// ResolveApp: tempa.toml and Procfile, a monorepo subdirectory, and flags over files.
#include "worker/app_source.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa::worker {
namespace {

namespace fs = std::filesystem;

class AppSourceTest : public ::testing::Test {
 protected:
  void Write(const std::string& rel, const std::string& text) {
    fs::path path = fs::path(dir_.path()) / rel;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  testing::TempDir dir_{"tempa-app-source-"};
};

TEST_F(AppSourceTest, NoConfigBuildsTheRootAsIs) {
  auto app = ResolveApp(dir_.path(), {}, {{"K", "v"}});
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->app_dir, dir_.path());
  EXPECT_EQ(app->build_env.at("K"), "v");
  EXPECT_TRUE(app->detect.start.empty());
}

TEST_F(AppSourceTest, MonorepoSubdirectoryBecomesTheAppRootWithItsProcfile) {
  Write("tempa.toml", "subdirectory = \"services/api\"\nport = 3000\n[build]\nenv = { A = \"1\", B = \"toml\" }\n");
  Write("services/api/Procfile", "web: ./server --port $PORT\nworker: ./jobs\n");
  auto app = ResolveApp(dir_.path(), {}, {{"B", "flag"}});
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->app_dir, dir_.path() + "/services/api");
  EXPECT_EQ(app->detect.start, "./server --port $PORT");
  EXPECT_EQ(app->detect.port, 3000);
  EXPECT_EQ(app->build_env.at("A"), "1");
  EXPECT_EQ(app->build_env.at("B"), "flag");  // the CLI wins over tempa.toml
}

TEST_F(AppSourceTest, FlagsBeatTheConfigFile) {
  Write("tempa.toml", "[build]\ngo_main = \"cmd/worker\"\n");
  buildpacks::DetectOptions flags;
  flags.main_package = "cmd/api";
  auto app = ResolveApp(dir_.path(), flags, {});
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->detect.main_package, "cmd/api");
}

TEST_F(AppSourceTest, AMissingSubdirectoryIsAClearError) {
  Write("tempa.toml", "subdirectory = \"nope\"\n");
  auto app = ResolveApp(dir_.path(), {}, {});
  ASSERT_FALSE(app.ok());
  EXPECT_TRUE(absl::StrContains(app.status().message(), "nope")) << app.status();
  EXPECT_TRUE(absl::StrContains(app.status().message(), "tempa.toml")) << app.status();
}

}  // namespace
}  // namespace tempa::worker
