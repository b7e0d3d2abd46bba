// PlanApp: the one resolution `tempa build` and `tempa detect` share. Each test writes a tree
// the way a repository would carry it and checks the plan (or the refusal) a build would get.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "common/build_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "worker/app_source.h"

namespace tempa::worker {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class AppSourcePlanTest : public ::testing::Test {
 protected:
  void Write(const std::string& rel, const std::string& text) {
    fs::path path = fs::path(dir_.path()) / rel;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  void GoModule(const std::string& dir, const std::string& module) {
    Write(dir + "/go.mod", "module " + module + "\n\ngo 1.21\n");
  }
  void GoMain(const std::string& dir) {
    Write(dir + "/main.go", "package main\n\nfunc main() {}\n");
  }
  absl::StatusOr<AppPlan> Plan(buildpacks::DetectOptions flags = {},
                               std::map<std::string, std::string> env = {}) {
    return PlanApp(dir_.path(), flags, env, detector_);
  }
  // The failure a build would report, as "kind/step".
  static std::string KindAndStep(const absl::Status& status) {
    std::optional<BuildFailure> failure = FailureOf(status);
    if (!failure) return "none";
    return std::string(FailureKindName(failure->kind)) + "/" + failure->step;
  }

  testing::TempDir dir_{"tempa-plan-app-"};
  buildpacks::Detector detector_ = buildpacks::Detector::WithDefaultBuildpacks(
      {std::make_shared<buildpacks::FixedGoToolchainLocator>(
           buildpacks::GoToolchain{"/usr/lib/go-1.23/bin/go", "/usr/lib/go-1.23", "go1.23.5"}),
       {}});
};

TEST_F(AppSourcePlanTest, MonorepoSubdirectoryIsTheAppThatIsDetected) {
  // The root is an app of its own: only tempa.toml makes the build pick services/api.
  GoModule(".", "example.com/tools");
  GoMain(".");
  Write("tempa.toml", "subdirectory = \"./services/api/\"\nport = 3000\n");
  GoModule("services/api", "example.com/shop/api");
  GoMain("services/api");
  auto planned = Plan();
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(planned->app.app_dir, dir_.path() + "/services/api");
  EXPECT_EQ(planned->app.subdirectory, "services/api");
  EXPECT_EQ(planned->plan.language, "go");
  EXPECT_EQ(planned->plan.app_name, "api");
  EXPECT_EQ(planned->plan.toolchain, "go1.23.5");
  EXPECT_EQ(planned->plan.port, 3000);
  EXPECT_THAT(planned->app.notes, ElementsAre("subdirectory services/api", "port 3000"));
}

TEST_F(AppSourcePlanTest, GoMainFromTempaTomlChoosesAmongSeveralCommands) {
  GoModule(".", "example.com/shop");
  GoMain("cmd/api");
  GoMain("cmd/worker");
  auto ambiguous = Plan();
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_THAT(ambiguous.status().message(), HasSubstr("--go-main"));
  EXPECT_EQ(KindAndStep(ambiguous.status()), "bad_input/detect");

  Write("tempa.toml", "[build]\ngo_main = \"cmd/worker\"\n");
  auto planned = Plan();
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(planned->plan.main_package, "./cmd/worker");
  EXPECT_EQ(planned->plan.app_name, "worker");
  EXPECT_THAT(planned->app.notes, ElementsAre("go_main cmd/worker"));

  buildpacks::DetectOptions flags;
  flags.main_package = "cmd/api";  // --go-main wins over tempa.toml
  planned = Plan(flags);
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(planned->plan.app_name, "api");
  EXPECT_TRUE(planned->app.notes.empty());
}

TEST_F(AppSourcePlanTest, ProcfileStartAndTempaTomlPortAreThePlans) {
  Write("app.py", "print('hi')\n");
  Write("requirements.txt", "");
  Write("Procfile", "web: python app.py --port $PORT\nworker: python jobs.py\n");
  Write("tempa.toml", "port = 3000\n");
  auto planned = Plan();
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_EQ(planned->plan.language, "python");
  EXPECT_EQ(planned->plan.port, 3000);
  EXPECT_THAT(planned->plan.start_command,
              ElementsAre("/bin/sh", "-c", "python app.py --port $PORT"));

  // tempa.toml's start beats the Procfile's web line.
  Write("tempa.toml", "port = 3000\nstart = \"python app.py --serve\"\n");
  planned = Plan();
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_THAT(planned->plan.start_command, ElementsAre("/bin/sh", "-c", "python app.py --serve"));
  EXPECT_THAT(planned->app.notes, ElementsAre("start command from tempa.toml", "port 3000"));
}

TEST_F(AppSourcePlanTest, AGoAppsProcfileStartIsItsExecFormEntrypoint) {
  GoModule(".", "example.com/api");
  GoMain(".");
  auto planned = Plan();
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_THAT(planned->plan.start_command, ElementsAre("/app/api"));

  Write("Procfile", "web: /app/api --serve\n");
  planned = Plan();
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_THAT(planned->plan.start_command, ElementsAre("/app/api", "--serve"));

  // Heroku's form names the binary where Heroku puts it: it is /app/NAME in the image.
  Write("Procfile", "web: bin/api --serve\n");
  planned = Plan();
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_THAT(planned->plan.start_command, ElementsAre("/app/api", "--serve"));

  // The Go run base has no shell: a command that needs one is refused, not run differently.
  Write("Procfile", "web: /app/api --port $PORT\n");
  planned = Plan();
  ASSERT_FALSE(planned.ok());
  EXPECT_EQ(KindAndStep(planned.status()), "bad_input/detect");
  EXPECT_THAT(planned.status().message(), HasSubstr("needs a shell for `$`"));
  EXPECT_THAT(planned.status().message(), HasSubstr("Procfile"));
}

TEST_F(AppSourcePlanTest, TheSubdirectorysOwnProcfileIsUsedAndNamed) {
  Write("tempa.toml", "subdirectory = \"web\"\n");
  Write("web/app.py", "print('hi')\n");
  Write("web/Procfile", "web: python app.py\n");
  auto planned = Plan();
  ASSERT_TRUE(planned.ok()) << planned.status();
  EXPECT_THAT(planned->plan.start_command, ElementsAre("/bin/sh", "-c", "python app.py"));
  EXPECT_THAT(planned->app.notes,
              ElementsAre("subdirectory web", "start command from web/Procfile"));
}

TEST_F(AppSourcePlanTest, EgressVariableInTempaTomlIsAConfigError) {
  GoModule(".", "example.com/app");
  GoMain(".");
  Write("tempa.toml", "[build]\nenv = { GOPROXY = \"http://169.254.169.254/\" }\n");
  auto planned = Plan();
  ASSERT_FALSE(planned.ok());
  EXPECT_EQ(KindAndStep(planned.status()), "bad_input/config");
  EXPECT_THAT(planned.status().message(), HasSubstr("--build-env GOPROXY"));
  // The operator's --build-env makes the same tree plan.
  EXPECT_TRUE(Plan({}, {{"GOPROXY", "off"}}).ok());
}

TEST_F(AppSourcePlanTest, SubdirectoryLeavingTheRepositoryIsRefusedNamingIt) {
  testing::TempDir outside("tempa-plan-outside-");
  fs::create_directories(outside.Join("app"));
  std::ofstream(outside.Join("app/main.go")) << "package main\n\nfunc main() {}\n";
  std::ofstream(outside.Join("app/go.mod")) << "module example.com/outside\n";
  ASSERT_EQ(symlink(outside.path().c_str(), (dir_.path() + "/escape").c_str()), 0);
  fs::create_directories(dir_.path() + "/services");
  ASSERT_EQ(symlink(outside.Join("app").c_str(), (dir_.path() + "/services/api").c_str()), 0);

  for (const std::string sub :
       {"../x", "services/../../x", "/etc", "escape/app", "escape", "services/api"}) {
    Write("tempa.toml", "subdirectory = \"" + sub + "\"\n");
    auto planned = Plan();
    ASSERT_FALSE(planned.ok()) << sub << " planned " << planned->app.app_dir;
    EXPECT_EQ(KindAndStep(planned.status()), "bad_input/config") << sub;
    EXPECT_THAT(planned.status().message(), HasSubstr("\"" + sub + "\"")) << sub;
    EXPECT_THAT(planned.status().message(), HasSubstr("tempa.toml")) << sub;
  }
}

TEST_F(AppSourcePlanTest, GoMainThroughASymlinkIsRefusedNamingIt) {
  // Detection would read the package clauses of the files behind the link, outside the tree.
  testing::TempDir outside("tempa-plan-outside-");
  fs::create_directories(outside.Join("app"));
  std::ofstream(outside.Join("app/main.go")) << "package main\n\nfunc main() {}\n";
  GoModule(".", "example.com/app");
  ASSERT_EQ(symlink(outside.path().c_str(), (dir_.path() + "/escape").c_str()), 0);

  Write("tempa.toml", "[build]\ngo_main = \"escape/app\"\n");
  auto planned = Plan();
  ASSERT_FALSE(planned.ok()) << "planned " << planned->plan.main_package;
  EXPECT_EQ(KindAndStep(planned.status()), "bad_input/config");
  EXPECT_THAT(planned.status().message(),
              HasSubstr("tempa.toml build.go_main \"escape/app\" goes through the symlink escape"));

  fs::remove(dir_.path() + "/tempa.toml");
  buildpacks::DetectOptions flags;
  flags.main_package = "./escape/app";
  planned = Plan(flags);
  ASSERT_FALSE(planned.ok());
  EXPECT_THAT(planned.status().message(), HasSubstr("--go-main \"./escape/app\""));
}

TEST_F(AppSourcePlanTest, ConfigFilesThatAreSymlinksAreNotRead) {
  testing::TempDir outside("tempa-plan-outside-");
  std::ofstream(outside.Join("Procfile")) << "web: cat /etc/shadow\n";
  Write("tempa.toml", "subdirectory = \"web\"\n");
  Write("web/app.py", "print('hi')\n");
  ASSERT_EQ(symlink(outside.Join("Procfile").c_str(), (dir_.path() + "/web/Procfile").c_str()), 0);
  auto planned = Plan();
  ASSERT_FALSE(planned.ok());
  EXPECT_EQ(KindAndStep(planned.status()), "bad_input/config");
  EXPECT_THAT(planned.status().message(), HasSubstr("subdirectory web"));
  EXPECT_THAT(planned.status().message(), HasSubstr("Procfile is a symlink"));
}

TEST_F(AppSourcePlanTest, OnlyTheRootTempaTomlChoosesTheDirectory) {
  Write("tempa.toml", "subdirectory = \"services\"\n");
  Write("services/tempa.toml", "subdirectory = \"api\"\n");
  Write("services/api/app.py", "print('hi')\n");
  auto planned = Plan();
  ASSERT_FALSE(planned.ok());
  EXPECT_EQ(KindAndStep(planned.status()), "bad_input/config");
  EXPECT_THAT(planned.status().message(), HasSubstr("services/tempa.toml sets subdirectory"));
}

TEST_F(AppSourcePlanTest, NothingToBuildNamesWhatWasLookedForInTheChosenDirectory) {
  Write("tempa.toml", "subdirectory = \"docs\"\n");
  Write("docs/README.md", "no app here\n");
  auto planned = Plan();
  ASSERT_FALSE(planned.ok());
  EXPECT_EQ(KindAndStep(planned.status()), "no_app_detected/detect");
  EXPECT_THAT(planned.status().message(), HasSubstr(dir_.path() + "/docs"));
  EXPECT_THAT(planned.status().message(), HasSubstr("go.mod"));
  EXPECT_THAT(planned.status().message(), HasSubstr("Cargo.toml"));
}

TEST_F(AppSourcePlanTest, ASourceThatIsNotADirectoryIsBadInput) {
  Write("file", "x");
  auto planned = PlanApp(dir_.path() + "/file", {}, {}, detector_);
  ASSERT_FALSE(planned.ok());
  EXPECT_EQ(KindAndStep(planned.status()), "bad_input/detect");
  EXPECT_THAT(planned.status().message(), HasSubstr("not a directory"));
}

}  // namespace
}  // namespace tempa::worker
