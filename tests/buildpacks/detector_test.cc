// Detection on fixture trees, with a fake Go toolchain so no Go install is needed.
#include "buildpacks/detector.h"

#include <cstdlib>

#include "common/build_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks {
namespace {

using test_support::TempTree;
using ::testing::Contains;
using ::testing::HasSubstr;

constexpr char kLookedFor[] =
    "looked for go.mod, go.work or main.go (Go), Cargo.toml (Rust), requirements.txt, "
    "pyproject.toml, Pipfile, Pipfile.lock, uv.lock, setup.py, main.py or app.py (Python)";

std::string Example(const std::string& name) {
  // ctest sets TEMPA_SOURCE_DIR; the compiled-in path serves a test binary run by hand.
  const char* root = std::getenv("TEMPA_SOURCE_DIR");
  return std::string(root ? root : TEMPA_SOURCE_ROOT) + "/examples/" + name;
}

std::shared_ptr<GoToolchainLocator> FakeGo(std::string version = "go1.23.5") {
  return std::make_shared<FixedGoToolchainLocator>(
      GoToolchain{"/usr/lib/go-1.23/bin/go", "/usr/lib/go-1.23", std::move(version)});
}

class DetectorTest : public ::testing::Test {
 protected:
  absl::StatusOr<BuildPlan> DetectPlan(const std::string& dir, std::string main = "") {
    Detector detector = Detector::WithDefaultBuildpacks({go_, {}});
    DetectOptions options;
    options.main_package = std::move(main);
    auto detected = detector.Detect(dir, options);
    if (!detected.ok()) return detected.status();
    EXPECT_EQ(detected->first->language(), "go");
    return detected->second;
  }

  std::shared_ptr<GoToolchainLocator> go_ = FakeGo();
  TempTree tree_;
};

TEST_F(DetectorTest, RootMainPackageIsNamedAfterTheModule) {
  tree_.Write("go.mod", "module example.com/team/hello/v2\n\ngo 1.22\n");
  tree_.Write("main.go", "// Hello.\npackage main\n\nfunc main() {}\n");
  auto plan = DetectPlan(tree_.path());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->language, "go");
  EXPECT_EQ(plan->toolchain, "go1.23.5");
  EXPECT_EQ(plan->main_package, ".");
  EXPECT_EQ(plan->app_name, "hello");
  EXPECT_FALSE(plan->vendored);
  EXPECT_EQ(plan->port, 8080);
  EXPECT_THAT(plan->reasons, Contains(HasSubstr("go.mod found: module example.com/team/hello/v2")));
  EXPECT_THAT(plan->reasons, Contains(HasSubstr("no vendor/")));
}

TEST_F(DetectorTest, TheSingleCmdMainIsChosen) {
  tree_.Write("go.mod", "module example.com/svc\n");
  tree_.Write("svc.go", "package svc\n");
  tree_.Write("cmd/server/main.go", "package main\n");
  tree_.Write("cmd/internal/util.go", "package util\n");
  auto plan = DetectPlan(tree_.path());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->main_package, "./cmd/server");
  EXPECT_EQ(plan->app_name, "server");
  EXPECT_THAT(plan->reasons, Contains(HasSubstr("the only cmd/* with package main")));
}

TEST_F(DetectorTest, SeveralCmdMainsWithoutAChoiceListThemAndTheFix) {
  auto plan = DetectPlan(Example("go-multi"));
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("cmd/api, cmd/worker"));
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("--go-main cmd/NAME"));
  EXPECT_EQ(FailureOf(plan.status())->kind, FailureKind::kBadInput);
}

TEST_F(DetectorTest, GoMainPicksOneOfSeveral) {
  auto plan = DetectPlan(Example("go-multi"), "./cmd/worker/");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->main_package, "./cmd/worker");
  EXPECT_EQ(plan->app_name, "worker");
  EXPECT_THAT(plan->reasons, Contains(HasSubstr("chosen with --go-main")));
}

TEST_F(DetectorTest, GoMainNamingNoMainPackageIsAnErrorListingTheCandidates) {
  auto plan = DetectPlan(Example("go-multi"), "cmd/nope");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("found: cmd/api, cmd/worker"));
  EXPECT_FALSE(DetectPlan(Example("go-multi"), "../escape").ok());
}

TEST_F(DetectorTest, RootMainWinsOverCmdMainsAndTheReasonSaysSo) {
  tree_.Write("go.mod", "module example.com/both\n");
  tree_.Write("main.go", "package main\n");
  tree_.Write("cmd/tool/main.go", "package main\n");
  auto plan = DetectPlan(tree_.path());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->main_package, ".");
  EXPECT_THAT(plan->reasons, Contains(HasSubstr("also found cmd/tool")));
}

TEST_F(DetectorTest, GoWorkSearchesTheWorkspaceModules) {
  tree_.Write("go.work", "go 1.22\n\nuse (\n\t./api\n\t./lib\n)\n");
  tree_.Write("api/go.mod", "module example.com/api\n");
  tree_.Write("api/main.go", "package main\n");
  tree_.Write("lib/go.mod", "module example.com/lib\n");
  tree_.Write("lib/lib.go", "package lib\n");
  auto plan = DetectPlan(tree_.path());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->main_package, "./api");
  EXPECT_EQ(plan->app_name, "api");
  EXPECT_THAT(plan->reasons, Contains(HasSubstr("go.work found: workspace of 2 module(s)")));
}

TEST_F(DetectorTest, BareMainGoIsASingleFileProgram) {
  tree_.Write("main.go", "package main\n\nfunc main() {}\n");
  auto plan = DetectPlan(tree_.path());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->main_package, ".");
  EXPECT_EQ(plan->app_name, "app");
  EXPECT_FALSE(plan->vendored);
  EXPECT_THAT(plan->reasons, Contains(HasSubstr("single-file program")));
}

TEST_F(DetectorTest, VendorModulesTxtMeansVendored) {
  auto plan = DetectPlan(Example("go-hello"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->vendored);
  EXPECT_EQ(plan->app_name, "go-hello");
  EXPECT_EQ(plan->main_package, ".");
  EXPECT_THAT(plan->reasons, Contains(HasSubstr("1 required module(s)")));
  EXPECT_THAT(plan->reasons, Contains(HasSubstr("-mod=vendor")));
}

TEST_F(DetectorTest, GoModuleWithoutMainPackageSaysWhatItLookedFor) {
  tree_.Write("go.mod", "module example.com/lib\n");
  tree_.Write("lib.go", "package lib\n");
  auto plan = DetectPlan(tree_.path());
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(plan.status().message()),
              HasSubstr("no `package main` in the module root or in cmd/*"));
}

TEST_F(DetectorTest, GoDirectiveNewerThanTheToolchainIsFlagged) {
  tree_.Write("go.mod", "module example.com/new\n\ngo 1.99\n");
  tree_.Write("main.go", "package main\n");
  auto plan = DetectPlan(tree_.path());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->reasons, Contains(HasSubstr("warning: the go directive asks for go 1.99")));
}

TEST_F(DetectorTest, NothingDetectedNamesEveryFileLookedFor) {
  tree_.Write("README.md", "# docs only\n");
  tree_.Write("package.json", "{}\n");
  auto plan = DetectPlan(tree_.path());
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr(kLookedFor));
  EXPECT_THAT(std::string(plan.status().message()),
              HasSubstr("no app detected in " + tree_.path()));
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("Fix:"));
  EXPECT_EQ(FailureOf(plan.status())->kind, FailureKind::kNoAppDetected);
}

TEST_F(DetectorTest, ALanguageWithoutABuildpackYetIsNamed) {
  tree_.Write("build.zig", "// zig\n");
  std::vector<DetectorEntry> entries;
  entries.push_back({"Zig", {"build.zig"}, nullptr});
  Detector detector(std::move(entries));
  auto plan = detector.Detect(tree_.path(), DetectOptions{});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("found build.zig"));
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("cannot build Zig yet"));
}

TEST_F(DetectorTest, FirstMatchWins) {
  tree_.Write("go.mod", "module example.com/mixed\n");
  tree_.Write("main.go", "package main\n");
  tree_.Write("requirements.txt", "flask\n");
  auto plan = DetectPlan(tree_.path());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->language, "go");
}

TEST_F(DetectorTest, MissingGoToolchainGivesTheInstallHint) {
  go_ = std::make_shared<FixedGoToolchainLocator>(absl::FailedPreconditionError(
      std::string("no Go toolchain: nothing found; ") + std::string(kInstallGoHint)));
  tree_.Write("go.mod", "module example.com/x\n");
  tree_.Write("main.go", "package main\n");
  auto plan = DetectPlan(tree_.path());
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("golang-1.23-go"));
  EXPECT_EQ(FailureOf(plan.status())->kind, FailureKind::kInternal);
}

TEST_F(DetectorTest, ASymlinkedGoModIsRefusedNotFollowed) {
  tree_.Symlink("/etc/passwd", "go.mod");
  tree_.Write("main.go", "package main\n");
  auto plan = DetectPlan(tree_.path());
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("go.mod is a symlink"));
}

TEST_F(DetectorTest, AMissingSourceDirectoryIsBadInput) {
  auto plan = DetectPlan(tree_ / "nope");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
}

// A stand-in buildpack, to check the registry's ordering without any language logic.
class AlwaysBuildpack : public Buildpack {
 public:
  absl::string_view language() const override { return "always"; }
  absl::StatusOr<std::optional<BuildPlan>> Detect(const std::string&,
                                                  const DetectOptions&) override {
    BuildPlan plan;
    plan.language = "always";
    return plan;
  }
  absl::StatusOr<BuildRecipe> Prepare(const BuildPlan&, const BuildContext&) override {
    return BuildRecipe{};
  }
};

TEST(DetectorOrder, EntriesAreTriedInOrder) {
  TempTree tree;
  tree.Write("go.mod", "module example.com/x\n");
  std::vector<DetectorEntry> entries;
  entries.push_back({"Always", {"anything"}, std::make_unique<AlwaysBuildpack>()});
  for (DetectorEntry& e : DefaultDetectorEntries({FakeGo(), {}})) entries.push_back(std::move(e));
  Detector detector(std::move(entries));
  auto detected = detector.Detect(tree.path(), {});
  ASSERT_TRUE(detected.ok()) << detected.status();
  EXPECT_EQ(detected->second.language, "always");
}

}  // namespace
}  // namespace tempa::buildpacks
