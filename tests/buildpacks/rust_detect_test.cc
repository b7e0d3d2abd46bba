// Rust detection on fixture trees: packages, [[bin]] targets, workspaces with globs, choosing
// among several binaries, Cargo.lock handling and start commands. A fake toolchain, so no Rust
// install is needed.
#include <memory>

#include "buildpacks/rust/rust_buildpack.h"
#include "common/build_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks {
namespace {

using test_support::TempTree;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kMain[] = "fn main() {}\n";

class RustDetectTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::optional<BuildPlan>> Detect(DetectOptions options = {}) {
    RustBuildpack buildpack(std::make_shared<FixedRustToolchainLocator>(
        RustToolchain{"/usr/bin/cargo", "/usr/bin/rustc", "rustc 1.96.0 (ac68faa20 2026-05-25)"}));
    return buildpack.Detect(tree_.path(), options);
  }
  // The plan, failing the test when detection did not produce one.
  BuildPlan Plan(DetectOptions options = {}) {
    auto plan = Detect(options);
    EXPECT_TRUE(plan.ok()) << plan.status();
    if (!plan.ok() || !plan->has_value()) {
      ADD_FAILURE() << "no plan";
      return {};
    }
    return **plan;
  }
  void Package(const std::string& dir, const std::string& name, const std::string& extra = "") {
    tree_.Write(dir + "/Cargo.toml", "[package]\nname = \"" + name +
                                         "\"\nversion = \"0.1.0\"\nedition = \"2021\"\n" + extra);
  }

  TempTree tree_;
};

TEST_F(RustDetectTest, NoCargoTomlIsNotRust) {
  tree_.Write("main.rs", kMain);
  auto plan = Detect();
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->has_value());
}

TEST_F(RustDetectTest, SinglePackageBuildsItsMainRs) {
  Package(".", "api");
  tree_.Write("src/main.rs", kMain);
  tree_.Write("Cargo.lock", "version = 4\n");
  BuildPlan plan = Plan();
  EXPECT_EQ(plan.language, "rust");
  EXPECT_EQ(plan.app_name, "api");
  EXPECT_EQ(plan.toolchain, "rustc 1.96.0 (ac68faa20 2026-05-25)");
  EXPECT_EQ(plan.port, 8080);
  EXPECT_THAT(plan.start_command, ElementsAre("/app/api"));
  EXPECT_THAT(plan.details, Contains(Pair("bin", "api")));
  EXPECT_THAT(plan.details, Contains(Pair("package", "api")));
  EXPECT_THAT(plan.details, Contains(Pair("manifest", "Cargo.toml")));
  EXPECT_THAT(plan.details, Contains(Pair("workspace", "false")));
  EXPECT_THAT(plan.details, Contains(Pair("locked", "true")));
  EXPECT_THAT(plan.reasons, Contains(HasSubstr("Cargo.lock found: cargo build --locked")));
}

TEST_F(RustDetectTest, MissingCargoLockIsAWarningNotAFailure) {
  Package(".", "api");
  tree_.Write("src/main.rs", kMain);
  BuildPlan plan = Plan();
  EXPECT_THAT(plan.details, Contains(Pair("locked", "false")));
  EXPECT_THAT(plan.reasons, Contains(HasSubstr("warning: no Cargo.lock")));
}

TEST_F(RustDetectTest, ExplicitBinTargetWithItsOwnPath) {
  Package(".", "server-lib",
          "\n[lib]\npath = \"src/lib.rs\"\n\n[[bin]]\nname = \"serve\"\npath = \"bin/serve.rs\"\n");
  tree_.Write("src/lib.rs", "");
  tree_.Write("bin/serve.rs", kMain);
  BuildPlan plan = Plan();
  EXPECT_EQ(plan.app_name, "serve");
  EXPECT_THAT(plan.details, Contains(Pair("package", "server-lib")));
}

TEST_F(RustDetectTest, BinTargetRenamingMainRsReplacesTheInferredOne) {
  Package(".", "pkg", "\n[[bin]]\nname = \"renamed\"\npath = \"src/main.rs\"\n");
  tree_.Write("src/main.rs", kMain);
  EXPECT_EQ(Plan().app_name, "renamed");
}

TEST_F(RustDetectTest, WorkspaceWithGlobMembersAndOneBinary) {
  tree_.Write("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n");
  Package("crates/server", "my-server");
  tree_.Write("crates/server/src/main.rs", kMain);
  Package("crates/util", "util");
  tree_.Write("crates/util/src/lib.rs", "");
  tree_.Mkdir("crates/not-a-crate");  // no Cargo.toml: not a member
  BuildPlan plan = Plan();
  EXPECT_EQ(plan.app_name, "my-server");
  EXPECT_THAT(plan.details, Contains(Pair("package", "my-server")));
  EXPECT_THAT(plan.details, Contains(Pair("manifest", "crates/server/Cargo.toml")));
  EXPECT_THAT(plan.details, Contains(Pair("workspace", "true")));
  EXPECT_THAT(plan.reasons,
              Contains(HasSubstr("workspace of 2 package(s): crates/server, crates/util")));
}

TEST_F(RustDetectTest, TheExampleWorkspaceIsDetected) {
  const char* root = std::getenv("TEMPA_SOURCE_DIR");
  RustBuildpack buildpack(std::make_shared<FixedRustToolchainLocator>(
      RustToolchain{"/usr/bin/cargo", "/usr/bin/rustc", "rustc 1.96.0"}));
  auto plan =
      buildpack.Detect(std::string(root ? root : TEMPA_SOURCE_ROOT) + "/examples/rust-hello", {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->has_value());
  EXPECT_EQ((*plan)->app_name, "rust-hello");
  EXPECT_THAT((*plan)->details, Contains(Pair("locked", "true")));
}

TEST_F(RustDetectTest, SeveralBinariesWithoutAChoiceListThemAndTheFix) {
  tree_.Write("Cargo.toml", "[workspace]\nmembers = [\"api\", \"worker\"]\n");
  Package("api", "api");
  tree_.Write("api/src/main.rs", kMain);
  tree_.Write("api/src/bin/migrate.rs", kMain);
  Package("worker", "worker");
  tree_.Write("worker/src/main.rs", kMain);
  auto plan = Detect();
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(plan.status().message());
  EXPECT_THAT(message, HasSubstr("api, migrate (package api), worker"));
  EXPECT_THAT(message, HasSubstr("[build] rust_bin = \"NAME\""));
  EXPECT_EQ(FailureOf(plan.status())->kind, FailureKind::kBadInput);
}

TEST_F(RustDetectTest, SeveralBinariesWithAChoiceBuildTheChosenOne) {
  tree_.Write("Cargo.toml", "[workspace]\nmembers = [\"api\", \"worker\"]\n");
  Package("api", "api");
  tree_.Write("api/src/main.rs", kMain);
  tree_.Write("api/src/bin/migrate/main.rs", kMain);
  Package("worker", "worker");
  tree_.Write("worker/src/main.rs", kMain);
  DetectOptions options;
  options.rust_bin = "migrate";
  BuildPlan plan = Plan(options);
  EXPECT_EQ(plan.app_name, "migrate");
  EXPECT_THAT(plan.details, Contains(Pair("package", "api")));
  EXPECT_THAT(plan.reasons, Contains(HasSubstr("chosen by rust_bin")));

  options.rust_bin = "nope";
  auto wrong = Detect(options);
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("no binary target has that name"));
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("worker"));
}

TEST_F(RustDetectTest, ALibraryOnlyProjectHasNothingToRun) {
  Package(".", "just-a-lib");
  tree_.Write("src/lib.rs", "");
  auto plan = Detect();
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("no binary target"));
}

TEST_F(RustDetectTest, MembersOutsideTheTreeAreRefused) {
  tree_.Write("Cargo.toml", "[workspace]\nmembers = [\"../elsewhere\"]\n");
  auto plan = Detect();
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("leaves the source tree"));
}

TEST_F(RustDetectTest, ABrokenManifestNamesTheFileAndLine) {
  tree_.Write("Cargo.toml", "[package]\nname = \"x\"\nversion = 0.1.0\"\n");
  auto plan = Detect();
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("Cargo.toml:3:"));
}

TEST_F(RustDetectTest, StartCommandRunsWithoutAShellOrIsRefused) {
  Package(".", "api");
  tree_.Write("src/main.rs", kMain);
  DetectOptions options;
  options.start = "/app/api --verbose";
  options.start_source = "tempa.toml";
  options.port = 3000;
  BuildPlan plan = Plan(options);
  EXPECT_THAT(plan.start_command, ElementsAre("/app/api", "--verbose"));
  EXPECT_EQ(plan.port, 3000);

  options.start = "/app/api --port $PORT";
  auto shell = Detect(options);
  ASSERT_FALSE(shell.ok());
  EXPECT_THAT(std::string(shell.status().message()), HasSubstr("needs a shell"));
  EXPECT_THAT(std::string(shell.status().message()), HasSubstr("tempa.toml"));
}

TEST_F(RustDetectTest, MissingToolchainGivesTheInstallHint) {
  Package(".", "api");
  tree_.Write("src/main.rs", kMain);
  RustBuildpack buildpack(std::make_shared<FixedRustToolchainLocator>(absl::FailedPreconditionError(
      std::string("no Rust toolchain; ") + std::string(kInstallRustHint))));
  auto plan = buildpack.Detect(tree_.path(), {});
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("cargo-web"));
}

}  // namespace
}  // namespace tempa::buildpacks
