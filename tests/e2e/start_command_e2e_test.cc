// The operator's start command and env from outside the repository (`tempa build --start CMD
// --env K=V`), through the real binary: a Go server that exits without its flags is built with
// them, pulled back from a real registry and run under runc with only PORT set.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "tests/e2e/e2e_fixture.h"

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class StartCommandE2eTest : public TempaE2eTest {
 protected:
  // tests/e2e/apps/go-flags, copied outside any git repository.
  std::string CopyGoFlags() {
    std::string dir = tmp_.Join("go-flags");
    fs::copy(std::string(TEMPA_SOURCE_DIR) + "/tests/e2e/apps/go-flags", dir,
             fs::copy_options::recursive);
    return dir;
  }
  json ImageConfig(const std::string& image) {
    CommandResult inspect =
        RunCommand({"skopeo", "inspect", "--config", "--tls-verify=false", "docker://" + image});
    EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
    return json::parse(inspect.out, nullptr, false);
  }
};

TEST_F(StartCommandE2eTest, AGoServerThatNeedsFlagsRunsWithTheOperatorsStartCommandAndEnv) {
  if (geteuid() != 0) GTEST_SKIP() << "running images with runc needs root";
  std::string src = CopyGoFlags();
  std::string image = registry() + "/greeter:v1";
  std::string env_file = tmp_.Join("run.env");
  { std::ofstream(env_file) << "# the image's env\nexport EXTRA=from-file\nMODE=file\n"; }
  CommandResult result =
      Tempa({"build", src, "--image", image, "--cache-dir", tmp_.Join("cache"), "--json", "--start",
             "/app/greeter -greeting hello", "--env", "MODE=test", "--env-file", env_file});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  json out = json::parse(LastLine(result.out));
  EXPECT_EQ(out["start_source"], "--start");
  EXPECT_EQ(out["start_command"], json({"/app/greeter", "-greeting", "hello"}));

  json config = ImageConfig(image);
  EXPECT_EQ(config["config"]["Entrypoint"], json({"/app/greeter", "-greeting", "hello"}))
      << config.dump(2);
  std::vector<std::string> env = config["config"]["Env"];
  EXPECT_THAT(env, Contains("MODE=test"));  // --env wins over --env-file
  EXPECT_THAT(env, Contains("EXTRA=from-file"));
  EXPECT_THAT(env, Contains("PORT=8080"));  // the buildpack's env is still there
  EXPECT_EQ(config["config"]["Labels"]["dev.tempa.start-source"], "--start");

  int port = PickFreePort();
  std::string id = RunImageWithRunc(out["image"], tmp_.Join("run"), port);
  ASSERT_FALSE(id.empty());
  absl::Cleanup stop = [&] { RunCommand({"runc", "delete", "-f", id}); };
  EXPECT_EQ(HttpGetRetrying(port, "/"), "hello (mode test)\n");
}

TEST_F(StartCommandE2eTest, WithoutTheStartCommandTheImageIsTheDetectedOneAndANewDigest) {
  std::string src = CopyGoFlags();
  std::string image = registry() + "/greeter:v2";
  json plain = BuildJson(src, image, tmp_.Join("cache"));
  ASSERT_TRUE(plain.contains("digest")) << plain.dump();
  EXPECT_EQ(plain["start_source"], "detection");
  json config = ImageConfig(image);
  EXPECT_EQ(config["config"]["Entrypoint"], json({"/app/greeter"}));
  EXPECT_EQ(config["config"]["Labels"]["dev.tempa.start-source"], "detection");

  // The start command is part of the image: another one, another digest; the layers are reused.
  CommandResult result = Tempa({"build", src, "--image", image, "--cache-dir", tmp_.Join("cache"),
                                "--json", "--start", "/app/greeter -greeting hi"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  json flagged = json::parse(LastLine(result.out));
  EXPECT_NE(flagged["digest"], plain["digest"]);
  for (const json& layer : flagged["layers"]) EXPECT_TRUE(layer["reused"].get<bool>()) << layer;
}

TEST_F(StartCommandE2eTest, DetectShowsTheStartCommandAndWhereItCameFrom) {
  std::string src = CopyGoFlags();
  CommandResult detected = Tempa({"detect", src});
  ASSERT_EQ(detected.exit_code, 0) << detected.err;
  EXPECT_THAT(detected.out, HasSubstr("start:     /app/greeter (from detection)\n"));

  detected = Tempa({"detect", src, "--start", "greeter -greeting hello"});
  ASSERT_EQ(detected.exit_code, 0) << detected.err;
  EXPECT_THAT(detected.out, HasSubstr("start:     /app/greeter -greeting hello (from --start)\n"));

  detected = Tempa({"detect", src, "--json", "--start", "/app/greeter -greeting hello"});
  ASSERT_EQ(detected.exit_code, 0) << detected.err;
  json plan = json::parse(LastLine(detected.out));
  EXPECT_EQ(plan["start_source"], "--start");
  EXPECT_EQ(plan["start_command"], json({"/app/greeter", "-greeting", "hello"}));
}

TEST_F(StartCommandE2eTest, AShellStartCommandForAGoImageIsRefusedNamingTheFlag) {
  std::string src = CopyGoFlags();
  CommandResult result = Tempa({"build", src, "--image", registry() + "/greeter:bad", "--cache-dir",
                                tmp_.Join("cache"), "--start", "/app/greeter -greeting $GREETING"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("start command from --start"));
  EXPECT_THAT(result.err, HasSubstr("needs a shell for `$`"));
  EXPECT_THAT(result.err, HasSubstr("no /bin/sh"));
}

TEST_F(StartCommandE2eTest, PortOrABadNameInTheEnvIsAUsageError) {
  std::string src = CopyGoFlags();
  for (const char* env : {"PORT=9000", "1BAD=x", "A-B=x", "NOEQUALS"}) {
    CommandResult result = Tempa({"build", src, "--image", registry() + "/greeter:env",
                                  "--cache-dir", tmp_.Join("cache"), "--env", env});
    EXPECT_EQ(result.exit_code, 2) << env;
    EXPECT_THAT(result.err, HasSubstr("--env")) << env;
  }
  CommandResult port = Tempa({"build", src, "--image", registry() + "/greeter:env", "--cache-dir",
                              tmp_.Join("cache"), "--env", "PORT=9000"});
  EXPECT_THAT(port.err, HasSubstr("port = N"));
  EXPECT_THAT(port.err, HasSubstr("tempa.toml"));
}

}  // namespace
}  // namespace tempa::testing
