// Reading Cargo projects (manifests, target discovery, member globs), ELF dependency parsing on
// the host's own binaries, and the host toolchain locator on fake cargo/rustc scripts.
#include "buildpacks/rust/rust_source.h"

#include <unistd.h>

#include "buildpacks/rust/elf_needed.h"
#include "buildpacks/rust/rust_toolchain.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks {
namespace {

using test_support::TempTree;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(CargoManifest, ReadsPackageBinsAndWorkspace) {
  auto manifest = rust::ParseCargoManifest(R"(
[package]
name = "api"
autobins = false

[[bin]]
name = "serve"
path = "src/serve.rs"

[[bin]]
name = "admin"

[workspace]
members = ["crates/*", "tools/cli"]
exclude = ["crates/old"]
)",
                                           "Cargo.toml");
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->package, "api");
  EXPECT_FALSE(manifest->autobins);
  EXPECT_THAT(manifest->bins, ElementsAre(Pair("serve", "src/serve.rs"), Pair("admin", "")));
  EXPECT_TRUE(manifest->workspace);
  EXPECT_THAT(manifest->members, ElementsAre("crates/*", "tools/cli"));
  EXPECT_THAT(manifest->exclude, ElementsAre("crates/old"));
}

TEST(CargoManifest, VirtualManifestHasNoPackage) {
  auto manifest = rust::ParseCargoManifest("[workspace]\nmembers = []\n", "Cargo.toml");
  ASSERT_TRUE(manifest.ok());
  EXPECT_FALSE(manifest->package.has_value());
  EXPECT_TRUE(manifest->workspace);
}

TEST(CargoManifest, WrongTypesNameTheKeyAndLine) {
  auto manifest = rust::ParseCargoManifest("[package]\nname = 3\n", "a/Cargo.toml");
  ASSERT_FALSE(manifest.ok());
  EXPECT_EQ(manifest.status().message(), "a/Cargo.toml:2: package.name must be a string");
  manifest = rust::ParseCargoManifest("[workspace]\nmembers = \"x\"\n", "Cargo.toml");
  ASSERT_FALSE(manifest.ok());
  EXPECT_THAT(std::string(manifest.status().message()), HasSubstr("workspace.members"));
}

TEST(CargoBinTargets, AutoDiscoveryFollowsCargo) {
  TempTree tree;
  tree.Write("src/main.rs", "");
  tree.Write("src/bin/tool.rs", "");
  tree.Write("src/bin/multi/main.rs", "");
  tree.Write("src/bin/multi/helper.rs", "");
  rust::CargoManifest manifest;
  manifest.package = "app";
  std::vector<std::string> names;
  for (const auto& bin : rust::BinTargets(tree.path(), ".", manifest)) names.push_back(bin.name);
  EXPECT_THAT(names, ElementsAre("app", "multi", "tool"));

  manifest.autobins = false;
  EXPECT_TRUE(rust::BinTargets(tree.path(), ".", manifest).empty());
}

TEST(CargoMembers, GlobsMatchDirectoriesWithACargoToml) {
  TempTree tree;
  tree.Write("crates/a/Cargo.toml", "");
  tree.Write("crates/b/Cargo.toml", "");
  tree.Write("crates/.hidden/Cargo.toml", "");
  tree.Mkdir("crates/empty");
  tree.Write("crates/file", "");
  tree.Symlink(tree / "crates/a", "crates/link");
  auto members = rust::ExpandMembers(tree.path(), "./crates/*");
  ASSERT_TRUE(members.ok()) << members.status();
  EXPECT_THAT(*members, ElementsAre("crates/a", "crates/b"));
  EXPECT_THAT(*rust::ExpandMembers(tree.path(), "crates/b"), ElementsAre("crates/b"));
  EXPECT_FALSE(rust::ExpandMembers(tree.path(), "/etc").ok());
  EXPECT_FALSE(rust::ExpandMembers(tree.path(), "crates/../..").ok());
}

TEST(CargoProject, ExcludedMembersAreSkipped) {
  TempTree tree;
  tree.Write("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\nexclude = [\"crates/old\"]\n");
  tree.Write("crates/new/Cargo.toml", "[package]\nname = \"new\"\n");
  tree.Write("crates/new/src/main.rs", "");
  tree.Write("crates/old/Cargo.toml", "[package]\nname = \"old\"\n");
  tree.Write("crates/old/src/main.rs", "");
  auto project = rust::ReadCargoProject(tree.path());
  ASSERT_TRUE(project.ok()) << project.status();
  EXPECT_THAT(project->members, ElementsAre("crates/new"));
  ASSERT_EQ(project->bins.size(), 1u);
  EXPECT_EQ(project->bins[0].manifest, "crates/new/Cargo.toml");
}

TEST(ElfDependencies, ADynamicBinaryNamesLibcAndItsInterpreter) {
  auto deps = rust::ReadElfDependencies("/bin/true");
  ASSERT_TRUE(deps.ok()) << deps.status();
  EXPECT_THAT(deps->needed, ElementsAre("libc.so.6"));
  EXPECT_THAT(deps->interpreter, HasSubstr("ld-linux"));
}

TEST(ElfDependencies, AStaticPieNeedsNothing) {
  if (access("/sbin/ldconfig", R_OK) != 0) GTEST_SKIP() << "no /sbin/ldconfig";
  auto deps = rust::ReadElfDependencies("/sbin/ldconfig");  // static-pie on Debian
  ASSERT_TRUE(deps.ok()) << deps.status();
  EXPECT_TRUE(deps->needed.empty());
  EXPECT_EQ(deps->interpreter, "");
}

TEST(ElfDependencies, NonElfAndTruncatedFilesAreRefused) {
  TempTree tree;
  tree.Write("script", "#!/bin/sh\n");
  tree.Write("truncated", std::string("\x7f"
                                      "ELF\x02\x01\x01",
                                      7));
  EXPECT_EQ(rust::ReadElfDependencies(tree / "script").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rust::ReadElfDependencies(tree / "truncated").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A fake toolchain directory: cargo (never run) and a rustc that prints `version`.
void FakeRust(const TempTree& tree, const std::string& dir, const std::string& version) {
  tree.Write(dir + "/cargo", "#!/bin/sh\nexit 1\n", 0755);
  tree.Write(dir + "/rustc", "#!/bin/sh\necho '" + version + "'\n", 0755);
}

TEST(RustToolchain, TempaCargoWinsAndTheVersionComesFromRustc) {
  TempTree tree;
  FakeRust(tree, "a", "rustc 1.80.0 (051478957 2024-07-21)");
  FakeRust(tree, "b", "rustc 1.96.0 (ac68faa20 2026-05-25) (built from a source tarball)");
  HostRustToolchainOptions options;
  options.default_paths = {{tree / "a/cargo", tree / "a/rustc"}};
  options.tempa_cargo_env = tree / "b/cargo";
  auto toolchain = HostRustToolchainLocator(options).Locate();
  ASSERT_TRUE(toolchain.ok()) << toolchain.status();
  EXPECT_EQ(toolchain->cargo, tree / "b/cargo");
  EXPECT_EQ(toolchain->rustc, tree / "b/rustc");
  EXPECT_EQ(toolchain->Release(), "1.96.0");
  EXPECT_EQ(toolchain->Short(), "rustc 1.96.0 (ac68faa20 2026-05-25)");
  EXPECT_EQ(toolchain->CacheKey(), "rustc-1.96.0-ac68faa20");

  options.tempa_cargo_env = "";
  EXPECT_EQ(HostRustToolchainLocator(options).Locate()->Release(), "1.80.0");
}

TEST(RustToolchain, TheCacheDirectoryKeyChangesWithTheReleaseOrTheCommitAndNothingElse) {
  auto key = [](std::string version) { return RustToolchain{"", "", version}.CacheKey(); };
  const std::string base = key("rustc 1.96.0 (ac68faa20 2026-05-25)");
  EXPECT_NE(key("rustc 1.96.1 (ac68faa20 2026-05-25)"), base);
  EXPECT_NE(key("rustc 1.96.0 (bd79fbb31 2026-05-25)"), base);
  EXPECT_NE(key("rustc 1.96.0-nightly (ac68faa20 2026-05-25)"), base);
  // Builder notes and where the binaries are do not start a new target/.
  EXPECT_EQ(key("rustc 1.96.0 (ac68faa20 2026-05-25) (built from a source tarball)"), base);
  EXPECT_EQ((RustToolchain{"/opt/a/cargo", "/opt/a/rustc", "rustc 1.96.0 (ac68faa20 2026-05-25)"}
                 .CacheKey()),
            base);
}

TEST(RustToolchain, NothingFoundGivesTheInstallHint) {
  HostRustToolchainOptions options;
  options.tempa_cargo_env = "";
  options.default_paths = {{"/nonexistent/cargo", "/nonexistent/rustc"}};
  auto toolchain = HostRustToolchainLocator(options).Locate();
  ASSERT_FALSE(toolchain.ok());
  EXPECT_EQ(toolchain.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(toolchain.status().message()), HasSubstr("cargo-web"));
}

TEST(RustToolchain, ABrokenTempaCargoIsReportedNotSkipped) {
  TempTree tree;
  FakeRust(tree, "a", "rustc 1.80.0 (051478957 2024-07-21)");
  HostRustToolchainOptions options;
  options.default_paths = {{tree / "a/cargo", tree / "a/rustc"}};
  options.tempa_cargo_env = tree / "missing/cargo";
  auto toolchain = HostRustToolchainLocator(options).Locate();
  ASSERT_FALSE(toolchain.ok());
  EXPECT_THAT(std::string(toolchain.status().message()), HasSubstr("TEMPA_CARGO="));
}

}  // namespace
}  // namespace tempa::buildpacks
