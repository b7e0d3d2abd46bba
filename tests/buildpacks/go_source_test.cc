#include "buildpacks/go/go_source.h"

#include "buildpacks/go/go_toolchain.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks::go {
namespace {

using ::testing::ElementsAre;

TEST(GoSource, ParsesModulePathGoDirectiveAndRequires) {
  auto mod = ParseGoMod(
      "// comment\nmodule \"example.com/app\" // trailing\n\ngo 1.22.3\n"
      "toolchain go1.23.1\nrequire (\n\texample.com/a v1.0.0\n\texample.com/b v1.2.0 // "
      "indirect\n)\nrequire example.com/c v0.1.0\n");
  ASSERT_TRUE(mod.ok()) << mod.status();
  EXPECT_EQ(mod->module_path, "example.com/app");
  EXPECT_EQ(mod->go_version, "1.22.3");
  EXPECT_EQ(mod->require_count, 3);
}

TEST(GoSource, ModuleDirectiveWithoutPathIsAnError) {
  EXPECT_FALSE(ParseGoMod("module\ngo 1.21\n").ok());
}

TEST(GoSource, ParsesGoWorkUseLinesAndBlocks) {
  auto work = ParseGoWork("go 1.22\n\nuse (\n\t./api // the API\n\t./lib\n)\nuse ./tools\n");
  ASSERT_TRUE(work.ok());
  EXPECT_EQ(work->go_version, "1.22");
  EXPECT_THAT(work->uses, ElementsAre("./api", "./lib", "./tools"));
}

TEST(GoSource, RecognisesPackageMainAfterHeaderComments) {
  EXPECT_TRUE(DeclaresPackageMain("// Copyright\n/* block\n package lib */\npackage main\n"));
  EXPECT_TRUE(DeclaresPackageMain("//go:build linux\n\npackage main // the app\n"));
  EXPECT_FALSE(DeclaresPackageMain("package mainly\n"));
  EXPECT_FALSE(DeclaresPackageMain("package lib\n"));
  EXPECT_FALSE(DeclaresPackageMain("// package main\npackage lib\n"));
}

TEST(GoSource, IgnoresFilesExcludedWithBuildIgnore) {
  EXPECT_FALSE(DeclaresPackageMain("//go:build ignore\n\npackage main\n"));
  EXPECT_FALSE(DeclaresPackageMain("// +build ignore\n\npackage main\n"));
}

TEST(GoSource, FindsRootAndCmdMainsSkippingTestsAndLibraries) {
  test_support::TempTree tree;
  tree.Write("main.go", "package main\nfunc main() {}\n");
  tree.Write("cmd/api/api.go", "package main\n");
  tree.Write("cmd/lib/lib.go", "package lib\n");
  tree.Write("cmd/only_test/x_test.go", "package main\n");
  tree.Write("cmd/gen/gen.go", "//go:build ignore\npackage main\n");
  EXPECT_THAT(FindMainPackages(tree.path(), {"."}), ElementsAre(".", "cmd/api"));
}

TEST(GoSource, CleansRelativeDirsAndRefusesEscapes) {
  EXPECT_EQ(*CleanRelativeDir("./cmd/api/"), "cmd/api");
  EXPECT_EQ(*CleanRelativeDir("./"), ".");
  EXPECT_EQ(*CleanRelativeDir("cmd//x/./"), "cmd/x");
  EXPECT_FALSE(CleanRelativeDir("../other").ok());
  EXPECT_FALSE(CleanRelativeDir("cmd/../../x").ok());
  EXPECT_FALSE(CleanRelativeDir("/etc").ok());
}

TEST(GoSource, NamesBinariesTheWayGoInstallDoes) {
  EXPECT_EQ(BinaryNameFor("example.com/app"), "app");
  EXPECT_EQ(BinaryNameFor("example.com/app/v2"), "app");
  EXPECT_EQ(BinaryNameFor("cmd/api"), "api");
  EXPECT_EQ(BinaryNameFor("hello"), "hello");
  EXPECT_EQ(SanitizeAppName("we ird/name"), "we-ird-name");
  EXPECT_EQ(SanitizeAppName(".."), "app");
}

TEST(GoVersions, ComparesNumerically) {
  EXPECT_LT(CompareGoVersions("1.9", "1.21"), 0);
  EXPECT_EQ(CompareGoVersions("1.23", "go1.23.0"), 0);
  EXPECT_GT(CompareGoVersions("1.24", "go1.23.5"), 0);
  EXPECT_LT(CompareGoVersions("1.23.4", "go1.23.5"), 0);
  GoToolchain toolchain{"/go/bin/go", "/go", "go1.23.5"};
  EXPECT_EQ(toolchain.LanguageVersion(), "1.23");
  toolchain.version = "go1.24rc1";
  EXPECT_EQ(toolchain.LanguageVersion(), "1.24");
}

}  // namespace
}  // namespace tempa::buildpacks::go
