// The Rust build against a scripted sandbox: the cargo command line, environment and mounts,
// failure classification, and Prepare's recipe (eager build, base planned from the binary's
// libraries, app layer keyed by the binary).
#include "buildpacks/rust/rust_build.h"

#include <filesystem>

#include "buildpacks/rust/rust_buildpack.h"
#include "common/build_error.h"
#include "fake_sandbox.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks {
namespace {

using test_support::FakeSandbox;
using test_support::ReadFileOrEmpty;
using test_support::TempTree;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

const RustToolchain kToolchain{"/usr/bin/cargo", "/usr/bin/rustc",
                               "rustc 1.96.0 (ac68faa20 2026-05-25)"};

class RustBuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    context_.source_dir = source_.path();
    context_.scratch_dir = scratch_.path();
    context_.cache_dir = cache_.path();
    context_.sandbox = &sandbox_;
    context_.log = [this](absl::string_view line) { log_ += std::string(line) + "\n"; };
    // The "binary" cargo leaves: a real ELF file, so the buildpack can read its libraries.
    sandbox_.write_file = "/cache/target/release/api";
    sandbox_.file_contents = ReadFileOrEmpty("/bin/true");
    std::filesystem::create_directories(rust::CargoCacheDir(context_, kToolchain) +
                                        "/target/release");
  }

  BuildPlan Plan(bool workspace = false, bool locked = true) {
    BuildPlan plan;
    plan.language = "rust";
    plan.toolchain = kToolchain.version;
    plan.app_name = "api";
    plan.details = {{"bin", "api"},
                    {"package", "api-server"},
                    {"workspace", workspace ? "true" : "false"},
                    {"locked", locked ? "true" : "false"}};
    return plan;
  }

  RustBuildpack Buildpack() {
    RustBuildpackOptions options;
    options.run_base = [this](const rust::ElfDependencies& binary,
                              const BuildContext&) -> absl::StatusOr<PlannedLayer> {
      needed_ = binary.needed;
      PlannedLayer base{LayerRole::kBase, "fake-base", nullptr};
      return base;
    };
    return RustBuildpack(std::make_shared<FixedRustToolchainLocator>(kToolchain), options);
  }

  TempTree source_, scratch_, cache_;
  FakeSandbox sandbox_;
  BuildContext context_;
  std::string log_;
  std::vector<std::string> needed_;
};

TEST_F(RustBuildTest, CargoRunsReleaseLockedOfflineWithCachesUnderTheToolchainKey) {
  rust::CargoBuildParams params{kToolchain, "api", "api-server", true};
  SandboxCommand command =
      rust::MakeCargoBuildCommand(params, context_, "/host/src", "/host/cache").value();
  EXPECT_THAT(command.argv, ElementsAre("/usr/bin/cargo", "build", "--release", "--locked", "-p",
                                        "api-server", "--bin", "api"));
  EXPECT_EQ(command.cwd, "/src");
  EXPECT_FALSE(command.network);
  EXPECT_TRUE(command.egress.empty());
  EXPECT_THAT(command.env, Contains(Pair("CARGO_HOME", "/cache/cargo-home")));
  EXPECT_THAT(command.env, Contains(Pair("CARGO_TARGET_DIR", "/cache/target")));
  EXPECT_THAT(command.env, Contains(Pair("CARGO_NET_OFFLINE", "true")));
  EXPECT_THAT(command.env, Contains(Pair("CARGO_INCREMENTAL", "0")));
  EXPECT_THAT(command.env, Contains(Pair("RUSTC", "/usr/bin/rustc")));
  EXPECT_THAT(command.env.at("RUSTFLAGS"), HasSubstr("--remap-path-prefix=/src=/app/src"));
  EXPECT_THAT(command.env.at("RUSTFLAGS"),
              HasSubstr("--remap-path-prefix=/cache/cargo-home=/cargo"));
  ASSERT_EQ(command.mounts.size(), 2u);
  EXPECT_FALSE(command.mounts[0].writable);  // the source is read-only
  EXPECT_EQ(rust::CargoCacheDir(context_, kToolchain),
            cache_.path() + "/rust/rustc-1.96.0-ac68faa20");
}

TEST_F(RustBuildTest, UserRustflagsAddToTempasAndARegistryTurnsTheNetworkOn) {
  context_.build_env = {{"RUSTFLAGS", "-C target-cpu=native"},
                        {"CARGO_REGISTRIES_CORP_INDEX", "sparse+https://crates.corp/"}};
  rust::CargoBuildParams params{kToolchain, "api", "", true};
  SandboxCommand command = rust::MakeCargoBuildCommand(params, context_, "/s", "/c").value();
  EXPECT_THAT(command.env.at("RUSTFLAGS"), HasSubstr("--remap-path-prefix=/src=/app/src"));
  EXPECT_THAT(command.env.at("RUSTFLAGS"), HasSubstr("-C target-cpu=native"));
  EXPECT_FALSE(command.network);  // only the named registry
  EXPECT_THAT(command.egress, ElementsAre(NetworkTarget{"crates.corp", 443}));
  EXPECT_EQ(command.env.count("CARGO_NET_OFFLINE"), 0u);
  EXPECT_THAT(command.argv, Not(Contains("-p")));
}

TEST_F(RustBuildTest, OnlyTheCrateFetchHasNetworkAndTheCompileIsOffline) {
  context_.build_env = {{"CARGO_REGISTRIES_CORP_INDEX", "sparse+https://crates.corp/"}};
  rust::CargoBuildParams params{kToolchain, "api", "", true};
  (void)rust::RunCargoBuild(params, context_);  // the fake builds no binary; the commands count
  ASSERT_GE(sandbox_.commands.size(), 2u);
  const SandboxCommand& fetch = sandbox_.commands[0];
  EXPECT_THAT(fetch.argv, ElementsAre("/usr/bin/cargo", "fetch", "--locked"));
  EXPECT_THAT(fetch.egress, ElementsAre(NetworkTarget{"crates.corp", 443}));
  const SandboxCommand& compile = sandbox_.commands[1];
  EXPECT_EQ(compile.argv[1], "build");
  EXPECT_TRUE(compile.egress.empty());
  EXPECT_EQ(compile.env.at("CARGO_NET_OFFLINE"), "true");
}

TEST_F(RustBuildTest, PrepareBuildsFirstAndPlansTheBaseFromTheBinarysLibraries) {
  auto recipe = Buildpack().Prepare(Plan(/*workspace=*/true), context_);
  ASSERT_TRUE(recipe.ok()) << recipe.status() << log_;
  ASSERT_EQ(sandbox_.commands.size(), 1u);  // built already, during Prepare
  EXPECT_THAT(sandbox_.commands[0].argv, Contains("api-server"));
  EXPECT_THAT(needed_, ElementsAre("libc.so.6"));
  ASSERT_EQ(recipe->layers.size(), 2u);
  EXPECT_EQ(recipe->layers[0].role, LayerRole::kBase);
  EXPECT_EQ(recipe->layers[0].input_key, "fake-base");
  EXPECT_EQ(recipe->layers[1].role, LayerRole::kApp);
  auto app = recipe->layers[1].produce();
  ASSERT_TRUE(app.ok());
  ASSERT_EQ(app->spec.entries().size(), 2u);
  EXPECT_EQ(app->spec.entries()[1].path, "app/api");
  EXPECT_EQ(app->spec.entries()[1].mode, 0755u);
  EXPECT_FALSE(app->content_key.empty());
  EXPECT_EQ(sandbox_.commands.size(), 1u);  // produce() does not build again

  const ImageConfigSpec& config = recipe->config;
  EXPECT_THAT(config.entrypoint, ElementsAre("/app/api"));
  EXPECT_EQ(config.user, "65532:65532");
  EXPECT_EQ(config.working_dir, "/app");
  EXPECT_THAT(config.env, Contains(Pair("PORT", "8080")));
  EXPECT_THAT(log_, HasSubstr("binary links libc.so.6"));
}

TEST_F(RustBuildTest, WithoutCargoLockTheSourceIsCopiedAndMountedWritable) {
  source_.Write("Cargo.toml", "[package]\nname = \"api\"\n");
  source_.Write("src/main.rs", "fn main() {}\n");
  auto recipe = Buildpack().Prepare(Plan(false, /*locked=*/false), context_);
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  const SandboxCommand& command = sandbox_.commands.at(0);
  EXPECT_THAT(command.argv, Not(Contains("--locked")));
  EXPECT_EQ(command.mounts[0].host_path, scratch_.path() + "/rust-src");
  EXPECT_TRUE(command.mounts[0].writable);
  EXPECT_EQ(ReadFileOrEmpty(scratch_ / "rust-src/src/main.rs"), "fn main() {}\n");
}

TEST_F(RustBuildTest, ACompileErrorCarriesTheCompilersWords) {
  sandbox_.write_file.clear();
  sandbox_.output = {"   Compiling api v0.1.0 (/src)",
                     "error[E0425]: cannot find value `nope` in this scope"};
  sandbox_.result.exit_code = 101;
  auto recipe = Buildpack().Prepare(Plan(), context_);
  ASSERT_FALSE(recipe.ok());
  EXPECT_THAT(std::string(recipe.status().message()),
              ::testing::StartsWith("cargo build failed (exit 101):"));
  EXPECT_THAT(std::string(recipe.status().message()), HasSubstr("cannot find value `nope`"));
  EXPECT_EQ(FailureOf(recipe.status())->kind, FailureKind::kCompile);
  EXPECT_EQ(FailureOf(recipe.status())->step, "build");
}

TEST_F(RustBuildTest, AnUnavailableCrateIsADependencyFailure) {
  sandbox_.write_file.clear();
  sandbox_.output = {"error: no matching package named `serde` found",
                     "location searched: crates.io index",
                     "As a reminder, you're using offline mode (--offline) which can sometimes"};
  sandbox_.result.exit_code = 101;
  auto recipe = Buildpack().Prepare(Plan(), context_);
  ASSERT_FALSE(recipe.ok());
  EXPECT_EQ(FailureOf(recipe.status())->kind, FailureKind::kDependencyResolution);
}

TEST_F(RustBuildTest, TimeoutsAreTimeouts) {
  sandbox_.write_file.clear();
  sandbox_.result.outcome = SandboxResult::Outcome::kTimedOut;
  context_.limits.wall_time = absl::Minutes(2);
  auto recipe = Buildpack().Prepare(Plan(), context_);
  ASSERT_FALSE(recipe.ok());
  EXPECT_THAT(std::string(recipe.status().message()), HasSubstr("timed out after 2m"));
  EXPECT_EQ(FailureOf(recipe.status())->kind, FailureKind::kTimeout);
}

TEST_F(RustBuildTest, APlanWithAHostileBinaryNameIsRefused) {
  BuildPlan plan = Plan();
  plan.details["bin"] = "../../etc/passwd";
  auto recipe = Buildpack().Prepare(plan, context_);
  ASSERT_FALSE(recipe.ok());
  EXPECT_TRUE(sandbox_.commands.empty());
}

}  // namespace
}  // namespace tempa::buildpacks
