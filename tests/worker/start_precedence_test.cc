// Where the start command comes from, in order: the operator's (--start, or the app's settings
// on the control plane) > tempa.toml `start` > the Procfile's web: line > detection. One app
// carrying every level; each step removes the strongest and checks what comes through, with
// the source `tempa detect` names.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/temp_dir.h"
#include "worker/app_source.h"
#include "worker/cli/tempa_cli.h"

namespace tempa::worker {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class StartPrecedenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Write("app.py", "print('hi')\n");
    Write("requirements.txt", "");
    Write("Procfile", "web: python app.py --from-procfile\n");
    Write("tempa.toml", "start = \"python app.py --from-toml\"\n");
  }
  void Write(const std::string& rel, const std::string& text) {
    fs::path path = fs::path(dir_.path()) / rel;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  absl::StatusOr<AppPlan> Plan(const std::string& start = "", const std::string& source = "") {
    buildpacks::DetectOptions flags;
    flags.start = start;
    flags.start_source = source;
    return PlanApp(dir_.path(), flags, {}, detector_);
  }
  // `tempa detect DIR ARGS...` in process: exit code and stdout.
  std::pair<int, std::string> Detect(std::vector<std::string> args) {
    args.insert(args.begin(), {"detect", dir_.path()});
    std::ostringstream out, err;
    int code = cli::RunTempa(args, out, err);
    EXPECT_EQ(code, 0) << err.str();
    return {code, out.str()};
  }

  testing::TempDir dir_{"tempa-start-precedence-"};
  buildpacks::Detector detector_ = buildpacks::Detector::WithDefaultBuildpacks();
};

TEST_F(StartPrecedenceTest, EachLevelWinsOverTheOnesBelowItAndIsNamed) {
  auto planned = Plan("python app.py --from-flag");
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_THAT(planned->plan.start_command,
              ElementsAre("/bin/sh", "-c", "python app.py --from-flag"));
  EXPECT_EQ(planned->plan.start_source, "--start");
  EXPECT_THAT(planned->app.notes, ElementsAre("start command from --start"));

  planned = Plan("python app.py --from-settings", "app settings");
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_THAT(planned->plan.start_command,
              ElementsAre("/bin/sh", "-c", "python app.py --from-settings"));
  EXPECT_EQ(planned->plan.start_source, "app settings");

  planned = Plan();
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_THAT(planned->plan.start_command,
              ElementsAre("/bin/sh", "-c", "python app.py --from-toml"));
  EXPECT_EQ(planned->plan.start_source, "tempa.toml");

  fs::remove(fs::path(dir_.path()) / "tempa.toml");
  planned = Plan();
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_THAT(planned->plan.start_command,
              ElementsAre("/bin/sh", "-c", "python app.py --from-procfile"));
  EXPECT_EQ(planned->plan.start_source, "Procfile");

  fs::remove(fs::path(dir_.path()) / "Procfile");
  planned = Plan();
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(planned->plan.start_source, "detection");
  EXPECT_THAT(planned->plan.start_command.back(), HasSubstr("python app.py"));
}

TEST_F(StartPrecedenceTest, TheSubdirectorysTempaTomlIsNamedWithItsDirectory) {
  fs::remove(fs::path(dir_.path()) / "tempa.toml");
  fs::remove(fs::path(dir_.path()) / "Procfile");
  Write("tempa.toml", "subdirectory = \"web\"\n");
  Write("web/app.py", "print('hi')\n");
  Write("web/tempa.toml", "start = \"python app.py --inner\"\n");
  auto planned = Plan();
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(planned->plan.start_source, "web/tempa.toml");
  // The operator's command still wins over the subdirectory's.
  planned = Plan("python app.py --flag");
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(planned->plan.start_source, "--start");
}

TEST_F(StartPrecedenceTest, DetectPrintsTheStartCommandAndItsSourceAtEachLevel) {
  auto [code, out] = Detect({"--start", "python app.py --from-flag"});
  EXPECT_THAT(out, HasSubstr("start:     /bin/sh -c python app.py --from-flag (from --start)\n"));
  std::tie(code, out) = Detect({});
  EXPECT_THAT(out,
              HasSubstr("start:     /bin/sh -c python app.py --from-toml (from tempa.toml)\n"));
  fs::remove(fs::path(dir_.path()) / "tempa.toml");
  std::tie(code, out) = Detect({});
  EXPECT_THAT(out,
              HasSubstr("start:     /bin/sh -c python app.py --from-procfile (from Procfile)\n"));
  fs::remove(fs::path(dir_.path()) / "Procfile");
  std::tie(code, out) = Detect({"--json"});
  nlohmann::json plan = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(plan.is_discarded()) << out;
  EXPECT_EQ(plan["start_source"], "detection");
  std::tie(code, out) = Detect({"--json", "--start", "python app.py --x"});
  plan = nlohmann::json::parse(out, nullptr, false);
  EXPECT_EQ(plan["start_source"], "--start");
  EXPECT_EQ(plan["start_command"], nlohmann::json({"/bin/sh", "-c", "python app.py --x"}));
}

}  // namespace
}  // namespace tempa::worker
