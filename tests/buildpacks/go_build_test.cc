// The Go build's command, environment, failure mapping and recipe, against a scripted sandbox.
#include "buildpacks/go/go_build.h"

#include <map>

#include "buildpacks/go/go_buildpack.h"
#include "common/build_error.h"
#include "fake_sandbox.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks::go {
namespace {

using test_support::FakeSandbox;
using test_support::TempTree;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

const GoToolchain kToolchain{"/usr/lib/go-1.23/bin/go", "/usr/lib/go-1.23", "go1.23.5"};

class GoBuildTest : public ::testing::Test {
 protected:
  GoBuildTest() {
    source_.Write("go.mod", "module example.com/hello\n");
    source_.Write("main.go", "package main\n");
    context_.source_dir = source_.path();
    context_.scratch_dir = scratch_.path();
    context_.cache_dir = cache_.path();
    context_.sandbox = &sandbox_;
    context_.log = [this](absl::string_view line) { log_.emplace_back(line); };
    params_.toolchain = kToolchain;
    params_.app_name = "hello";
    params_.main_package = ".";
  }

  TempTree source_, scratch_, cache_;
  FakeSandbox sandbox_;
  BuildContext context_;
  GoBuildParams params_;
  std::vector<std::string> log_;
};

TEST_F(GoBuildTest, CommandIsReproducibleAndOffline) {
  SandboxCommand command =
      MakeGoBuildCommand(params_, context_, "/h/src", "/h/out", "/h/cache").value();
  EXPECT_THAT(command.argv,
              ElementsAre("/usr/lib/go-1.23/bin/go", "build", "-trimpath", "-buildvcs=false",
                          "-ldflags=-s -w -buildid=", "-o", "/out/hello", "."));
  EXPECT_EQ(command.cwd, "/src");
  EXPECT_FALSE(command.network);
  EXPECT_TRUE(command.egress.empty());
  EXPECT_THAT(command.env, ::testing::IsSupersetOf({
                               Pair("CGO_ENABLED", "0"),
                               Pair("GOCACHE", "/cache/go-build"),
                               Pair("GOMODCACHE", "/cache/go-mod"),
                               Pair("GOPATH", "/cache/gopath"),
                               Pair("HOME", "/tmp"),
                               Pair("GOROOT", "/usr/lib/go-1.23"),
                               Pair("GOPROXY", "off"),
                               Pair("GOTOOLCHAIN", "local"),
                               Pair("PATH", "/usr/lib/go-1.23/bin:/usr/bin:/bin"),
                           }));
  EXPECT_EQ(command.env.count("GOFLAGS"), 0u);
  ASSERT_EQ(command.mounts.size(), 3u);
  EXPECT_EQ(command.mounts[0].host_path, "/h/src");
  EXPECT_EQ(command.mounts[0].sandbox_path, "/src");
  EXPECT_FALSE(command.mounts[0].writable);
  EXPECT_EQ(command.mounts[1].sandbox_path, "/out");
  EXPECT_TRUE(command.mounts[1].writable);
  EXPECT_EQ(command.mounts[2].sandbox_path, "/cache");
  EXPECT_TRUE(command.mounts[2].writable);
}

TEST_F(GoBuildTest, VendoredBuildsUseModVendor) {
  params_.vendored = true;
  EXPECT_EQ(GoBuildEnv(params_, {}).at("GOFLAGS"), "-mod=vendor");
}

TEST_F(GoBuildTest, TheUserBuildEnvWinsAndAProxyIsTheOnlyWayOut) {
  context_.build_env = {{"CGO_ENABLED", "1"}, {"GOPROXY", "https://proxy.example"}};
  SandboxCommand command = MakeGoBuildCommand(params_, context_, "/s", "/o", "/c").value();
  EXPECT_EQ(command.env.at("CGO_ENABLED"), "1");
  EXPECT_EQ(command.env.at("GOPROXY"), "https://proxy.example");
  EXPECT_FALSE(command.network);  // never the whole network: the proxy and the checksum db
  EXPECT_THAT(command.egress, testing::ElementsAre(NetworkTarget{"proxy.example", 443},
                                                   NetworkTarget{"sum.golang.org", 443}));
  params_.vendored = true;  // vendored: nothing to download, so no network even with a proxy
  EXPECT_TRUE(MakeGoBuildCommand(params_, context_, "/s", "/o", "/c")->egress.empty());
  context_.build_env = {{"GOPROXY", "off"}};
  params_.vendored = false;
  EXPECT_TRUE(MakeGoBuildCommand(params_, context_, "/s", "/o", "/c")->egress.empty());
  context_.build_env = {{"GOPROXY", "proxy.example"}};  // no scheme: Go would not use it either
  auto bad = MakeGoBuildCommand(params_, context_, "/s", "/o", "/c");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), testing::HasSubstr("GOPROXY"));
}

TEST_F(GoBuildTest, OnlyTheModuleDownloadHasNetworkAndTheCompileIsOffline) {
  context_.build_env = {{"GOPROXY", "https://proxy.example"}};
  sandbox_.write_file = "/out/hello";
  ASSERT_TRUE(RunGoBuild(params_, context_).ok());
  ASSERT_EQ(sandbox_.commands.size(), 2u);
  const SandboxCommand& fetch = sandbox_.commands[0];
  EXPECT_THAT(fetch.argv, ElementsAre("/usr/lib/go-1.23/bin/go", "mod", "download"));
  EXPECT_THAT(fetch.egress, testing::Contains(NetworkTarget{"proxy.example", 443}));
  const SandboxCommand& compile = sandbox_.commands[1];
  EXPECT_EQ(compile.argv[1], "build");
  EXPECT_TRUE(compile.egress.empty());
  EXPECT_EQ(compile.env.at("GOPROXY"), "off");
  EXPECT_EQ(compile.mounts.size(), fetch.mounts.size());  // the same module cache
}

TEST_F(GoBuildTest, AFailedModuleDownloadIsADependencyFailureAndNothingCompiles) {
  context_.build_env = {{"GOPROXY", "https://proxy.example"}};
  sandbox_.result.exit_code = 1;
  sandbox_.output = {"go: example.com/x@v1.0.0: reading https://proxy.example/...: 404 Not Found"};
  auto output = RunGoBuild(params_, context_);
  ASSERT_FALSE(output.ok());
  EXPECT_EQ(FailureOf(output.status())->kind, FailureKind::kDependencyResolution);
  EXPECT_EQ(sandbox_.commands.size(), 1u);
}

TEST_F(GoBuildTest, AToolchainOutsideUsrIsMounted) {
  params_.toolchain = {"/opt/go/bin/go", "/opt/go", "go1.23.5"};
  SandboxCommand command = MakeGoBuildCommand(params_, context_, "/s", "/o", "/c").value();
  ASSERT_EQ(command.mounts.size(), 4u);
  EXPECT_EQ(command.mounts[3].host_path, "/opt/go");
  EXPECT_EQ(command.mounts[3].sandbox_path, "/opt/go");
  EXPECT_FALSE(command.mounts[3].writable);
}

TEST_F(GoBuildTest, ABinaryReplacedByASymlinkIsBadInputNamingItAndNotFollowed) {
  scratch_.Write("host-secret", "secret");
  sandbox_.write_file = "/out/hello";
  sandbox_.symlink_to = scratch_ / "host-secret";
  auto output = RunGoBuild(params_, context_);
  ASSERT_FALSE(output.ok());
  std::optional<BuildFailure> failure = FailureOf(output.status());
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->kind, FailureKind::kBadInput);
  EXPECT_THAT(output.status().message(), HasSubstr("go-out/hello"));
  EXPECT_THAT(output.status().message(), HasSubstr("symlink"));
}

TEST_F(GoBuildTest, ASuccessfulBuildIsTheAppLayerKeyedByTheBinary) {
  sandbox_.write_file = "/out/hello";
  auto output = RunGoBuild(params_, context_);
  ASSERT_TRUE(output.ok()) << output.status();
  std::map<std::string, oci::LayerEntry> entries;
  for (const auto& e : output->spec.entries()) entries[e.path] = e;
  ASSERT_TRUE(entries.count("app/hello"));
  EXPECT_EQ(entries["app/hello"].mode, 0755u);
  EXPECT_EQ(entries["app/hello"].source_root, scratch_ / "go-out");
  EXPECT_EQ(entries["app/hello"].source_path, "hello");
  EXPECT_THAT(output->content_key, ::testing::StartsWith("sha256:"));
  EXPECT_THAT(log_, ::testing::Contains(HasSubstr("$ go build")));
  // The same binary gives the same key; a different one does not.
  EXPECT_EQ(RunGoBuild(params_, context_)->content_key, output->content_key);
  sandbox_.file_contents = "other";
  EXPECT_NE(RunGoBuild(params_, context_)->content_key, output->content_key);
}

TEST_F(GoBuildTest, ACompileErrorCarriesTheCompilerMessage) {
  sandbox_.output = {"# example.com/hello", "./main.go:4:2: undefined: nope"};
  sandbox_.result.exit_code = 1;
  auto output = RunGoBuild(params_, context_);
  ASSERT_FALSE(output.ok());
  EXPECT_EQ(output.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(output.status().message()),
              ::testing::StartsWith("go build failed (exit 1):"));
  EXPECT_THAT(std::string(output.status().message()), HasSubstr("undefined: nope"));
  auto failure = FailureOf(output.status());
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->kind, FailureKind::kCompile);
  EXPECT_EQ(failure->step, "build");
  EXPECT_THAT(failure->log_tail, HasSubstr("undefined: nope"));
  EXPECT_THAT(log_, ::testing::Contains("./main.go:4:2: undefined: nope"));
}

TEST_F(GoBuildTest, AMissingModuleIsADependencyFailure) {
  sandbox_.output = {
      "main.go:3:8: no required module provides package example.com/missing; to add it:"};
  sandbox_.result.exit_code = 1;
  auto output = RunGoBuild(params_, context_);
  ASSERT_FALSE(output.ok());
  EXPECT_EQ(FailureOf(output.status())->kind, FailureKind::kDependencyResolution);
}

TEST_F(GoBuildTest, ATimeoutIsATimeout) {
  sandbox_.output = {"compiling..."};
  sandbox_.result.outcome = SandboxResult::Outcome::kTimedOut;
  sandbox_.result.exit_code = -1;
  auto output = RunGoBuild(params_, context_);
  ASSERT_FALSE(output.ok());
  EXPECT_EQ(output.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(output.status().message()), HasSubstr("go build timed out after 30m"));
  EXPECT_EQ(FailureOf(output.status())->kind, FailureKind::kTimeout);
}

TEST_F(GoBuildTest, ABareMainGoIsBuiltFromACopyWithAGeneratedGoMod) {
  TempTree bare;
  bare.Write("main.go", "package main\n\nfunc main() {}\n");
  bare.Write("util.go", "package main\n");
  bare.Write("README.md", "not copied\n");
  context_.source_dir = bare.path();
  params_.single_file = true;
  params_.app_name = "app";
  sandbox_.write_file = "/out/app";
  ASSERT_TRUE(RunGoBuild(params_, context_).ok());
  const SandboxCommand& command = sandbox_.commands.back();
  EXPECT_EQ(command.mounts[0].host_path, scratch_ / "go-src");
  EXPECT_EQ(test_support::ReadFileOrEmpty(scratch_ / "go-src/go.mod"), "module app\n\ngo 1.23\n");
  EXPECT_TRUE(std::filesystem::exists(scratch_ / "go-src/util.go"));
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "go-src/README.md"));
  EXPECT_EQ(command.env.at("GOWORK"), "off");
}

TEST_F(GoBuildTest, PrepareGivesBaseThenAppAndTheRuntimeConfig) {
  TempTree host;
  host.Write("etc/ssl/certs/ca-certificates.crt", "certs");
  host.Write("usr/share/zoneinfo/Etc/UTC", "TZif");
  GoBuildpack buildpack(std::make_shared<FixedGoToolchainLocator>(kToolchain), {host.path()});
  auto plan = buildpack.Detect(source_.path(), {});
  ASSERT_TRUE(plan.ok() && plan->has_value()) << plan.status();
  auto recipe = buildpack.Prepare(**plan, context_);
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  ASSERT_EQ(recipe->layers.size(), 2u);
  EXPECT_EQ(recipe->layers[0].role, LayerRole::kBase);
  EXPECT_FALSE(recipe->layers[0].input_key.empty());
  EXPECT_EQ(recipe->layers[1].role, LayerRole::kApp);
  EXPECT_TRUE(recipe->layers[1].input_key.empty());
  EXPECT_TRUE(sandbox_.commands.empty());  // produced lazily, by the pipeline

  const ImageConfigSpec& config = recipe->config;
  EXPECT_THAT(config.entrypoint, ElementsAre("/app/hello"));
  EXPECT_EQ(config.working_dir, "/app");
  EXPECT_EQ(config.user, "65532:65532");
  EXPECT_EQ(config.port, 8080);
  EXPECT_EQ(config.env.at("PORT"), "8080");
  EXPECT_EQ(config.env.at("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(config.labels.at("org.opencontainers.image.title"), "hello");

  sandbox_.write_file = "/out/hello";
  auto app = recipe->layers[1].produce();
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(sandbox_.commands.size(), 1u);
}

}  // namespace
}  // namespace tempa::buildpacks::go
