// `tempa apps set NAME --start CMD` reaches the build: real coordinator, worker and registry
// processes; the image the worker pushes starts with the app's command, and `apps show` says so.
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/farm_fixture.h"
#include "tests/support/git_repo_builder.h"

namespace tempa::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string ReadSource(const std::string& name) {
  std::ifstream in(std::string(TEMPA_SOURCE_DIR) + "/tests/e2e/apps/go-flags/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class FarmStartCommandE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!FarmFixture::Available(&why)) GTEST_SKIP() << why;
    ASSERT_TRUE(farm_.StartRegistry().ok());
    ASSERT_TRUE(farm_.StartCoordinator().ok()) << farm_.coordinator()->log();
    ASSERT_TRUE(farm_.StartWorker("w1").ok()) << farm_.worker("w1")->log();
  }

  // Triggers a build of `app`'s branch head and waits for it; the built image, "" on failure.
  std::string Build(const std::string& app) {
    CommandResult triggered = farm_.Cli({"trigger", app, "--json"});
    EXPECT_EQ(triggered.exit_code, 0) << triggered.err;
    std::string id = json::parse(triggered.out, nullptr, false).value("id", "");
    absl::StatusOr<json> built = farm_.WaitForBuild(id, {"SUCCEEDED", "FAILED"});
    EXPECT_TRUE(built.ok()) << built.status() << farm_.worker("w1")->log();
    if (!built.ok()) return "";
    EXPECT_EQ((*built)["status"], "SUCCEEDED") << built->dump(2);
    return built->value("image", "");
  }

  json ImageConfig(const std::string& image) {
    CommandResult inspect =
        RunCommand({"skopeo", "inspect", "--config", "--tls-verify=false", "docker://" + image});
    EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
    return json::parse(inspect.out, nullptr, false);
  }

  FarmFixture farm_;
  TempDir repos_{"tempa-farm-start-repos-"};
};

TEST_F(FarmStartCommandE2eTest, TheAppsStartCommandIsTheEntrypointOfItsNextImage) {
  GitRepoBuilder repo(repos_.Join("greeter"));
  repo.WriteFile("go.mod", ReadSource("go.mod"));
  repo.WriteFile("main.go", ReadSource("main.go"));
  repo.Commit("greeter");
  CommandResult created = farm_.Cli({"apps", "create", "greeter", "--repo", repo.url()});
  ASSERT_EQ(created.exit_code, 0) << created.err;

  CommandResult set =
      farm_.Cli({"apps", "set", "greeter", "--start", "/app/greeter -greeting farm"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_THAT(set.out, HasSubstr("the next build starts it with: /app/greeter -greeting farm"));
  CommandResult shown = farm_.Cli({"apps", "show", "greeter"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("/app/greeter -greeting farm (app settings)"));
  absl::StatusOr<json> shown_json = farm_.CliJson({"apps", "show", "greeter"});
  ASSERT_TRUE(shown_json.ok()) << shown_json.status();
  EXPECT_EQ((*shown_json)["start_command"], "/app/greeter -greeting farm");

  std::string image = Build("greeter");
  ASSERT_FALSE(image.empty());
  json config = ImageConfig(image);
  EXPECT_EQ(config["config"]["Entrypoint"], json({"/app/greeter", "-greeting", "farm"}))
      << config.dump(2);
  EXPECT_EQ(config["config"]["Labels"]["dev.tempa.start-source"], "app settings");

  // --start "" gives the repository back its say: the detected command, a new image.
  set = farm_.Cli({"apps", "set", "greeter", "--start", ""});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  shown_json = farm_.CliJson({"apps", "show", "greeter"});
  ASSERT_TRUE(shown_json.ok()) << shown_json.status();
  EXPECT_EQ((*shown_json)["start_command"], "");
  std::string again = Build("greeter");
  ASSERT_FALSE(again.empty());
  EXPECT_NE(again, image);
  config = ImageConfig(again);
  EXPECT_EQ(config["config"]["Entrypoint"], json({"/app/greeter"}));
  EXPECT_EQ(config["config"]["Labels"]["dev.tempa.start-source"], "detection");
}

}  // namespace
}  // namespace tempa::testing
