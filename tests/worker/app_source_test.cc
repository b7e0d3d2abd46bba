// ResolveApp: tempa.toml and Procfile, a monorepo subdirectory, and flags over files.
#include "worker/app_source.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
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
  Write(
      "tempa.toml",
      "subdirectory = \"services/api\"\nport = 3000\n[build]\nenv = { A = \"1\", B = \"toml\" }\n");
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

TEST_F(AppSourceTest, ThePythonServerReleaseOfTheRootOrTheSubdirectoryReachesDetection) {
  Write("tempa.toml", "subdirectory = \"web\"\n");
  Write("web/tempa.toml", "[build]\npython_server = \"uvicorn==0.30.6\"\n");
  auto app = ResolveApp(dir_.path(), {}, {});
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->detect.python_server, "uvicorn==0.30.6");
  Write("tempa.toml", "subdirectory = \"web\"\n[build]\npython_server = \"gunicorn==23.0.0\"\n");
  app = ResolveApp(dir_.path(), {}, {});
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->detect.python_server, "gunicorn==23.0.0");
  EXPECT_THAT(app->notes, ::testing::Contains("python_server gunicorn==23.0.0"));
}

TEST_F(AppSourceTest, AMissingSubdirectoryIsAClearError) {
  Write("tempa.toml", "subdirectory = \"nope\"\n");
  auto app = ResolveApp(dir_.path(), {}, {});
  ASSERT_FALSE(app.ok());
  EXPECT_TRUE(absl::StrContains(app.status().message(), "nope")) << app.status();
  EXPECT_TRUE(absl::StrContains(app.status().message(), "tempa.toml")) << app.status();
}

TEST_F(AppSourceTest, TheRepositoryCannotOpenTheBuildsNetwork) {
  // A hostile repository naming the worker's own services (or a metadata endpoint) as its
  // "index" would otherwise be let through to them.
  for (const std::string key :
       {"PIP_INDEX_URL", "GOPROXY", "TEMPA_ALLOW_HOSTS", "CARGO_REGISTRIES_EVIL_INDEX"}) {
    Write("tempa.toml", "[build]\nenv = { " + key + " = \"http://169.254.169.254:80/\" }\n");
    auto app = ResolveApp(dir_.path(), {}, {});
    ASSERT_FALSE(app.ok()) << key;
    EXPECT_TRUE(absl::StrContains(app.status().message(), key)) << app.status();
    EXPECT_TRUE(absl::StrContains(app.status().message(), "--build-env " + key)) << app.status();
  }
  // The operator's own setting replaces the repository's, and other variables stay allowed.
  Write("tempa.toml",
        "[build]\nenv = { PIP_INDEX_URL = \"http://x/\", PIP_NO_BINARY = \":all:\" }\n");
  auto app = ResolveApp(dir_.path(), {}, {{"PIP_INDEX_URL", "https://mirror.example/simple"}});
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->build_env.at("PIP_INDEX_URL"), "https://mirror.example/simple");
  EXPECT_EQ(app->build_env.at("PIP_NO_BINARY"), ":all:");
}

}  // namespace
}  // namespace tempa::worker
