// `tempa detect` through the real binary reports the plan `tempa build` builds: the same app,
// directory, main package, start command and port for a monorepo with tempa.toml and a Procfile
// (checked against the pushed image's config), and the same refusals with the same JSON error.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class DetectE2eTest : public TempaE2eTest {
 protected:
  void SetUp() override {
    TempaE2eTest::SetUp();
    chmod(tmp_.path().c_str(), 0755);  // the build user reaches the sources below
  }
  void Write(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << text;
  }
  // `tempa detect DIR --json`, parsed; null (and a test failure) when it fails.
  json DetectJson(const std::string& dir) {
    CommandResult r = Tempa({"detect", dir, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json parsed = json::parse(LastLine(r.out), nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << "stdout is not JSON: " << r.out;
    return parsed.is_discarded() ? json() : parsed;
  }
  // The pushed image's config section, via skopeo.
  json ImageConfig(const std::string& image) {
    CommandResult inspect =
        RunCommand({"skopeo", "inspect", "--config", "--tls-verify=false", "docker://" + image});
    EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
    json parsed = json::parse(inspect.out, nullptr, false);
    return parsed.is_discarded() ? json() : parsed["config"];
  }
};

TEST_F(DetectE2eTest, DetectMatchesTheBuildOfAMonorepoGoAppWithGoMainInItsTempaToml) {
  // The root is a Go app itself: only tempa.toml sends the build to services/shop, whose own
  // tempa.toml picks one of its two commands.
  std::string repo = tmp_.Join("repo");
  Write(repo + "/go.mod", "module example.com/tools\n\ngo 1.21\n");
  Write(repo + "/main.go", "package main\n\nfunc main() {}\n");
  Write(repo + "/tempa.toml", "subdirectory = \"services/shop\"\nport = 3000\n");
  fs::create_directories(repo + "/services");
  fs::copy(fs::path(TEMPA_SOURCE_DIR) / "examples/go-multi", repo + "/services/shop",
           fs::copy_options::recursive);
  Write(repo + "/services/shop/tempa.toml", "[build]\ngo_main = \"cmd/worker\"\n");
  Write(repo + "/services/shop/Procfile", "web: /app/worker --from-procfile\n");

  json plan = DetectJson(repo);
  EXPECT_EQ(plan["language"], "go") << plan.dump();
  EXPECT_EQ(plan["app"], "worker") << plan.dump();
  EXPECT_EQ(plan["main_package"], "./cmd/worker") << plan.dump();
  EXPECT_EQ(plan["subdirectory"], "services/shop") << plan.dump();
  EXPECT_EQ(plan["app_dir"], repo + "/services/shop") << plan.dump();
  EXPECT_EQ(plan["port"], 3000) << plan.dump();
  EXPECT_EQ(plan["start_command"], json::array({"/app/worker", "--from-procfile"})) << plan.dump();
  EXPECT_EQ(plan["notes"], json::array({"subdirectory services/shop", "go_main cmd/worker",
                                        "start command from services/shop/Procfile", "port 3000"}))
      << plan.dump();

  CommandResult text = Tempa({"detect", repo});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(absl::StrContains(text.out, "directory: services/shop\n")) << text.out;
  EXPECT_TRUE(absl::StrContains(text.out, "main:      ./cmd/worker\n")) << text.out;

  std::string image = registry() + "/shop:v1";
  json built = BuildJson(repo, image, tmp_.Join("cache"));
  EXPECT_EQ(built["language"], plan["language"]) << built.dump();
  EXPECT_EQ(built["toolchain"], plan["toolchain"]) << built.dump();
  EXPECT_EQ(built["app"], plan["app"]) << built.dump();
  json config = ImageConfig(image);
  EXPECT_EQ(config["Entrypoint"], plan["start_command"]) << config.dump();
  EXPECT_EQ(config["Labels"]["dev.tempa.main-package"], plan["main_package"]) << config.dump();
  EXPECT_TRUE(config["ExposedPorts"].contains(absl::StrCat(plan["port"].get<int>(), "/tcp")))
      << config.dump();
}

TEST_F(DetectE2eTest, DetectMatchesTheBuildOfAProcfileStartAndATempaTomlPort) {
  std::string repo = CopyExample("rust-hello", "repo");
  Write(repo + "/Procfile", "web: /app/rust-hello --listen-from-procfile\nworker: /app/jobs\n");
  Write(repo + "/tempa.toml", "port = 3000\n");

  json plan = DetectJson(repo);
  EXPECT_EQ(plan["language"], "rust") << plan.dump();
  EXPECT_EQ(plan["app"], "rust-hello") << plan.dump();
  EXPECT_EQ(plan["port"], 3000) << plan.dump();
  EXPECT_EQ(plan["start_command"], json::array({"/app/rust-hello", "--listen-from-procfile"}))
      << plan.dump();
  EXPECT_EQ(plan["details"]["bin"], "rust-hello") << plan.dump();
  EXPECT_EQ(plan["notes"], json::array({"start command from Procfile", "port 3000"}))
      << plan.dump();

  std::string image = registry() + "/procfile:v1";
  json built = BuildJson(repo, image, tmp_.Join("cache"));
  EXPECT_EQ(built["language"], plan["language"]) << built.dump();
  EXPECT_EQ(built["toolchain"], plan["toolchain"]) << built.dump();
  EXPECT_EQ(built["app"], plan["app"]) << built.dump();
  json config = ImageConfig(image);
  EXPECT_EQ(config["Entrypoint"], plan["start_command"]) << config.dump();
  EXPECT_TRUE(config["ExposedPorts"].contains("3000/tcp")) << config.dump();
}

TEST_F(DetectE2eTest, DetectRefusesWhatTheBuildRefusesWithTheSameError) {
  testing::TempDir outside("tempa-detect-outside-");
  Write(outside.Join("app/go.mod"), "module example.com/outside\n\ngo 1.21\n");
  Write(outside.Join("app/main.go"), "package main\n\nfunc main() {}\n");

  struct Case {
    std::string name;
    std::string tempa_toml;
    std::string kind, step, names;  // the expected error and a text it must name
  };
  std::vector<Case> cases = {
      {"egress", "[build]\nenv = { GOPROXY = \"http://169.254.169.254/\" }\n", "bad_input",
       "config", "--build-env GOPROXY"},
      {"dotdot", "subdirectory = \"../x\"\n", "bad_input", "config", "\"../x\""},
      {"symlink", "subdirectory = \"escape/app\"\n", "bad_input", "config", "symlink escape"},
      {"go_main", "[build]\ngo_main = \"escape/app\"\n", "bad_input", "config", "symlink escape"},
      {"missing", "subdirectory = \"nope\"\n", "bad_input", "config", "\"nope\""},
      {"empty", "subdirectory = \"docs\"\n", "no_app_detected", "detect", "Cargo.toml"},
  };
  for (const Case& c : cases) {
    std::string repo = tmp_.Join("refused-" + c.name);
    Write(repo + "/go.mod", "module example.com/root\n\ngo 1.21\n");
    Write(repo + "/main.go", "package main\n\nfunc main() {}\n");
    Write(repo + "/docs/README.md", "no app here\n");
    Write(repo + "/tempa.toml", c.tempa_toml);
    ASSERT_EQ(symlink(outside.path().c_str(), (repo + "/escape").c_str()), 0);

    CommandResult detect = Tempa({"detect", repo, "--json"});
    CommandResult build = Tempa({"build", repo, "--image", registry() + "/refused", "--cache-dir",
                                 tmp_.Join("cache"), "--json"});
    EXPECT_EQ(detect.exit_code, 1) << c.name << ": " << detect.out << detect.err;
    EXPECT_EQ(build.exit_code, 1) << c.name << ": " << build.err;
    json error = ErrorOf(detect);
    EXPECT_EQ(error, ErrorOf(build)) << c.name;
    EXPECT_EQ(error["kind"], c.kind) << c.name << ": " << detect.out;
    EXPECT_EQ(error["step"], c.step) << c.name << ": " << detect.out;
    EXPECT_TRUE(absl::StrContains(error.value("message", ""), c.names))
        << c.name << ": " << detect.out;
    EXPECT_TRUE(absl::StrContains(detect.err, "tempa: detect failed [" + c.kind))
        << c.name << ": " << detect.err;
  }
}

TEST_F(DetectE2eTest, DetectTakesTheOperatorsBuildEnvLikeTheBuild) {
  std::string repo = CopyExample("go-hello", "repo");
  Write(repo + "/tempa.toml", "[build]\nenv = { GOPROXY = \"http://169.254.169.254/\" }\n");
  EXPECT_EQ(Tempa({"detect", repo, "--json"}).exit_code, 1);
  CommandResult r = Tempa({"detect", repo, "--json", "--build-env", "GOPROXY=off"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json plan = json::parse(LastLine(r.out), nullptr, false);
  ASSERT_FALSE(plan.is_discarded()) << r.out;
  EXPECT_EQ(plan["build_env"], json::array({"GOPROXY"})) << r.out;  // names, never values
}

}  // namespace
}  // namespace tempa::testing
