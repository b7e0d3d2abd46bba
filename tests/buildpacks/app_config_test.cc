// tempa.toml and Procfile: every key, errors that name file:line, Procfile variants, and which
// start command wins.
#include "buildpacks/app_config.h"

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/buildpacks/temp_tree.h"

namespace tempa::buildpacks {
namespace {

using test_support::TempTree;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

class AppConfigTest : public ::testing::Test {
 protected:
  AppConfig Load() {
    absl::StatusOr<AppConfig> config = LoadAppConfig(tree_.path());
    EXPECT_TRUE(config.ok()) << config.status();
    return config.ok() ? *config : AppConfig{};
  }
  std::string Error() {
    absl::StatusOr<AppConfig> config = LoadAppConfig(tree_.path());
    EXPECT_FALSE(config.ok());
    if (config.ok()) return "";
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
    return std::string(config.status().message());
  }
  TempTree tree_;
};

TEST_F(AppConfigTest, NoFilesIsAnEmptyConfig) {
  AppConfig c = Load();
  EXPECT_EQ(c.subdirectory, "");
  EXPECT_FALSE(c.port.has_value());
  EXPECT_EQ(c.start, "");
  EXPECT_EQ(c.start_source, "");
  EXPECT_TRUE(c.build_env.empty());
}

TEST_F(AppConfigTest, ReadsEveryKey) {
  tree_.Write("services/api/main.go", "package main\n");
  tree_.Write("tempa.toml", R"(# the API service
subdirectory = "services/api"
port = 3000
start = "gunicorn app:app"

[build]
env = { GOFLAGS = "-tags=prod", CGO_ENABLED = "0" }
go_main = "cmd/api"
rust_bin = "server"
python_module = "app:app"
python_server = "gunicorn==23.0.0"
)");
  AppConfig c = Load();
  EXPECT_EQ(c.subdirectory, "services/api");
  EXPECT_EQ(c.port, 3000);
  EXPECT_EQ(c.start, "gunicorn app:app");
  EXPECT_EQ(c.start_source, "tempa.toml");
  EXPECT_THAT(c.build_env,
              UnorderedElementsAre(Pair("GOFLAGS", "-tags=prod"), Pair("CGO_ENABLED", "0")));
  EXPECT_EQ(c.go_main, "cmd/api");
  EXPECT_EQ(c.rust_bin, "server");
  EXPECT_EQ(c.python_module, "app:app");
  EXPECT_EQ(c.python_server, "gunicorn==23.0.0");
}

TEST_F(AppConfigTest, CollectstaticIsUnsetUnlessTheBuildTableSaysSo) {
  EXPECT_FALSE(Load().collectstatic.has_value());
  tree_.Write("tempa.toml", "[build]\ncollectstatic = false\n");
  EXPECT_EQ(Load().collectstatic, false);
  tree_.Write("tempa.toml", "[build]\ncollectstatic = \"no\"\n");
  EXPECT_THAT(Error(), HasSubstr("tempa.toml:2: build.collectstatic must be true or false"));
}

TEST_F(AppConfigTest, BuildEnvAsItsOwnTable) {
  tree_.Write("tempa.toml", "[build.env]\nGOPROXY = \"off\"\n");
  EXPECT_THAT(Load().build_env, UnorderedElementsAre(Pair("GOPROXY", "off")));
}

TEST_F(AppConfigTest, SubdirectoryIsNormalised) {
  tree_.Write("tempa.toml", "subdirectory = \"./services//api/\"\n");
  EXPECT_EQ(Load().subdirectory, "services/api");
}

TEST_F(AppConfigTest, UnknownKeyNamesFileLineAndKey) {
  tree_.Write("tempa.toml", "port = 3000\n\nprot = 8080\n");
  std::string e = Error();
  EXPECT_THAT(e, HasSubstr("tempa.toml:3:"));
  EXPECT_THAT(e, HasSubstr("unknown key \"prot\""));
}

TEST_F(AppConfigTest, UnknownBuildKeyNamesFileLineAndKey) {
  tree_.Write("tempa.toml", "[build]\ngo_main = \"cmd/api\"\ngomain = \"x\"\n");
  std::string e = Error();
  EXPECT_THAT(e, HasSubstr("tempa.toml:3:"));
  EXPECT_THAT(e, HasSubstr("unknown key \"build.gomain\""));
}

TEST_F(AppConfigTest, PortMustBeAnIntegerInRange) {
  tree_.Write("tempa.toml", "\nport = \"3000\"\n");
  EXPECT_THAT(Error(), HasSubstr("tempa.toml:2: port must be an integer between 1 and 65535"));
  tree_.Write("tempa.toml", "port = 70000\n");
  EXPECT_THAT(Error(), HasSubstr("tempa.toml:1: port must be an integer"));
  tree_.Write("tempa.toml", "port = 0\n");
  EXPECT_THAT(Error(), HasSubstr("tempa.toml:1: port"));
}

TEST_F(AppConfigTest, TypeErrorsNameTheLine) {
  tree_.Write("tempa.toml", "start = [\"gunicorn\"]\n");
  EXPECT_THAT(Error(), HasSubstr("tempa.toml:1: start must be a string"));
  tree_.Write("tempa.toml", "[build]\n\nenv = { PORT = 3000 }\n");
  EXPECT_THAT(Error(), HasSubstr("tempa.toml:3: build.env.PORT must be a string"));
  tree_.Write("tempa.toml", "build = \"fast\"\n");
  EXPECT_THAT(Error(), HasSubstr("tempa.toml:1: build must be a table"));
  tree_.Write("tempa.toml", "[build]\ngo_main = 3\n");
  EXPECT_THAT(Error(), HasSubstr("tempa.toml:2: build.go_main must be a string"));
  tree_.Write("tempa.toml", "start = \"  \"\n");
  EXPECT_THAT(Error(), HasSubstr("tempa.toml:1: start is empty"));
}

TEST_F(AppConfigTest, SyntaxErrorsNameTheLine) {
  tree_.Write("tempa.toml", "port = 3000\nstart = \"unterminated\n");
  EXPECT_THAT(Error(), HasSubstr("tempa.toml:2: "));
}

TEST_F(AppConfigTest, SubdirectoryMustStayInsideTheRepository) {
  tree_.Write("tempa.toml", "subdirectory = \"/etc\"\n");
  EXPECT_THAT(Error(), HasSubstr("tempa.toml:1: subdirectory \"/etc\" must be relative"));
  tree_.Write("tempa.toml", "\nsubdirectory = \"services/../../other\"\n");
  EXPECT_THAT(Error(), HasSubstr("tempa.toml:2: subdirectory \"services/../../other\" must stay "
                                 "inside the repository"));
  tree_.Write("tempa.toml", "subdirectory = \"..\"\n");
  EXPECT_THAT(Error(), HasSubstr("must stay inside"));
}

TEST_F(AppConfigTest, SubdirectoryThroughASymlinkIsRefused) {
  std::filesystem::create_directory_symlink("/etc", tree_ / "escape");
  tree_.Write("tempa.toml", "subdirectory = \"escape/ssl\"\n");
  EXPECT_THAT(Error(), HasSubstr("goes through the symlink escape"));
}

TEST_F(AppConfigTest, ConfigFilesThatAreSymlinksAreRefused) {
  std::filesystem::create_symlink("/etc/passwd", tree_ / "Procfile");
  EXPECT_THAT(Error(), HasSubstr("Procfile is a symlink"));
}

TEST_F(AppConfigTest, ProcfileWebIsTheStartCommand) {
  tree_.Write("Procfile",
              "# processes\nrelease: ./migrate\nweb:   ./server --port $PORT  \n"
              "worker: ./jobs\n");
  AppConfig c = Load();
  EXPECT_EQ(c.start, "./server --port $PORT");
  EXPECT_EQ(c.start_source, "Procfile");
}

TEST_F(AppConfigTest, ProcfileWithCrlfAndBlankLines) {
  tree_.Write("Procfile", "\r\n\r\nweb: gunicorn app:app\r\n");
  EXPECT_EQ(Load().start, "gunicorn app:app");
}

TEST_F(AppConfigTest, ProcfileWithoutWebIsFine) {
  tree_.Write("Procfile", "worker: python jobs.py\n");
  AppConfig c = Load();
  EXPECT_EQ(c.start, "");
  EXPECT_EQ(c.start_source, "");
}

TEST_F(AppConfigTest, ProcfileErrorsNameTheLine) {
  tree_.Write("Procfile", "worker: ./jobs\nthis is not a process line\n");
  EXPECT_THAT(Error(), HasSubstr("Procfile:2: expected \"type: command\""));
  tree_.Write("Procfile", "web:\n");
  EXPECT_THAT(Error(), HasSubstr("Procfile:1: web has no command"));
  tree_.Write("Procfile", "web: a\nweb: b\n");
  EXPECT_THAT(Error(), HasSubstr("Procfile:2: second web process type (the first is on line 1)"));
}

TEST_F(AppConfigTest, TempaTomlStartBeatsProcfile) {
  tree_.Write("Procfile", "web: ./from-procfile\n");
  tree_.Write("tempa.toml", "start = \"./from-toml\"\n");
  AppConfig c = Load();
  EXPECT_EQ(c.start, "./from-toml");
  EXPECT_EQ(c.start_source, "tempa.toml");
}

TEST_F(AppConfigTest, ProcfileFillsInWhenTempaTomlHasNoStart) {
  tree_.Write("Procfile", "web: ./from-procfile\n");
  tree_.Write("tempa.toml", "port = 9000\n");
  AppConfig c = Load();
  EXPECT_EQ(c.start, "./from-procfile");
  EXPECT_EQ(c.start_source, "Procfile");
  EXPECT_EQ(c.port, 9000);
}

}  // namespace
}  // namespace tempa::buildpacks
