#include "buildpacks/go/go_toolchain.h"

#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks {
namespace {

using test_support::TempTree;
using ::testing::HasSubstr;

// A fake GOROOT: bin/go plus the VERSION file Go distributions ship.
void FakeGoroot(const TempTree& tree, const std::string& dir, const std::string& version) {
  tree.Write(dir + "/bin/go", "#!/bin/sh\nexit 1\n", 0755);
  tree.Write(dir + "/VERSION", version + "\ntime 2025-01-10T16:44:59Z\n");
}

HostGoToolchainOptions Isolated() {
  HostGoToolchainOptions options;
  options.tempa_go_env = "";
  options.default_paths = {};
  options.path_env = "";
  return options;
}

TEST(GoToolchain, ReadsVersionAndGorootBesideTheBinary) {
  TempTree tree;
  FakeGoroot(tree, "go", "go1.22.7");
  tree.Symlink(tree / "go/bin/go", "bin/go");  // like /usr/local/bin/go
  HostGoToolchainOptions options = Isolated();
  options.go_binary = tree / "bin/go";
  auto toolchain = HostGoToolchainLocator(options).Locate();
  ASSERT_TRUE(toolchain.ok()) << toolchain.status();
  EXPECT_EQ(toolchain->version, "go1.22.7");
  EXPECT_EQ(toolchain->goroot, tree / "go");
  EXPECT_EQ(toolchain->go_binary, tree / "go/bin/go");
  EXPECT_EQ(toolchain->BinDir(), tree / "go/bin");
}

TEST(GoToolchain, TempaGoWinsOverTheDefaultPaths) {
  TempTree tree;
  FakeGoroot(tree, "a", "go1.21.0");
  FakeGoroot(tree, "b", "go1.23.1");
  HostGoToolchainOptions options = Isolated();
  options.tempa_go_env = tree / "b/bin/go";
  options.default_paths = {tree / "a/bin/go"};
  EXPECT_EQ(HostGoToolchainLocator(options).Locate()->version, "go1.23.1");
  options.tempa_go_env = "";
  EXPECT_EQ(HostGoToolchainLocator(options).Locate()->version, "go1.21.0");
}

TEST(GoToolchain, ABrokenTempaGoIsReportedNotSkipped) {
  TempTree tree;
  FakeGoroot(tree, "a", "go1.21.0");
  HostGoToolchainOptions options = Isolated();
  options.tempa_go_env = tree / "missing/go";
  options.default_paths = {tree / "a/bin/go"};
  auto toolchain = HostGoToolchainLocator(options).Locate();
  ASSERT_FALSE(toolchain.ok());
  EXPECT_THAT(std::string(toolchain.status().message()), HasSubstr("TEMPA_GO="));
}

TEST(GoToolchain, FallsBackToPathAndGoEnvWhenThereIsNoVersionFile) {
  TempTree tree;
  // No VERSION next to it: the locator asks the binary itself.
  tree.Write("pathbin/go", "#!/bin/sh\necho /opt/fake-goroot\necho go1.21.13\n", 0755);
  HostGoToolchainOptions options = Isolated();
  options.path_env = "/nonexistent:" + (tree / "pathbin");
  auto toolchain = HostGoToolchainLocator(options).Locate();
  ASSERT_TRUE(toolchain.ok()) << toolchain.status();
  EXPECT_EQ(toolchain->version, "go1.21.13");
  EXPECT_EQ(toolchain->goroot, "/opt/fake-goroot");
}

TEST(GoToolchain, NoGoAnywhereSaysHowToInstallIt) {
  auto toolchain = HostGoToolchainLocator(Isolated()).Locate();
  ASSERT_FALSE(toolchain.ok());
  EXPECT_EQ(toolchain.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(toolchain.status().message()),
              HasSubstr("install golang-1.23-go from bookworm-backports: scripts/setup does it"));
}

TEST(GoToolchain, FindsTheHostGo) {
  if (access("/usr/lib/go-1.23/bin/go", X_OK) != 0) GTEST_SKIP() << "Go 1.23 not installed";
  HostGoToolchainOptions options;
  options.tempa_go_env = "";
  auto toolchain = HostGoToolchainLocator(options).Locate();
  ASSERT_TRUE(toolchain.ok()) << toolchain.status();
  EXPECT_THAT(toolchain->version, ::testing::StartsWith("go1.23"));
  EXPECT_EQ(toolchain->goroot, "/usr/lib/go-1.23");
}

}  // namespace
}  // namespace tempa::buildpacks
