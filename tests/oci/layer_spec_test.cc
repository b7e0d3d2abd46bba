#include "common/oci/layer_spec.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/oci/test_util.h"

namespace tempa::oci {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;
using testing::WriteFile;
using Type = LayerEntry::Type;

std::map<std::string, LayerEntry> ByPath(const LayerSpec& spec) {
  std::map<std::string, LayerEntry> out;
  for (const LayerEntry& e : spec.entries()) out[e.path] = e;
  return out;
}

TEST(LayerSpecTest, AddReplacesAnEntryWithTheSamePath) {
  LayerSpec spec;
  spec.Add({"a", Type::kFile, 0644, "", "one", ""});
  spec.Add({"b", Type::kFile, 0644, "", "two", ""});
  spec.Add({"a", Type::kFile, 0600, "", "three", ""});
  ASSERT_EQ(spec.entries().size(), 2u);
  EXPECT_EQ(spec.entries()[0].contents, "three");
  EXPECT_EQ(spec.entries()[0].mode, 0600u);
}

TEST(LayerSpecTest, AddTreeNormalisesModesAndKeepsEmptyDirs) {
  TempDir dir;
  WriteFile(dir / "src/plain.txt", "x", 0600);
  WriteFile(dir / "src/tool", "#!/bin/sh\n", 0700);
  WriteFile(dir / "src/group-exec", "x", 0610);
  testing::MakeDirs(dir / "src/empty/nested");
  chmod((dir / "src/empty").c_str(), 0700);

  LayerSpec spec;
  ASSERT_TRUE(spec.AddTree(dir / "src", "app").ok());
  auto entries = ByPath(spec);
  ASSERT_EQ(entries.size(), 6u);
  EXPECT_EQ(entries["app"].type, Type::kDirectory);
  EXPECT_EQ(entries["app/plain.txt"].mode, 0644u);
  EXPECT_EQ(entries["app/plain.txt"].source_path, "plain.txt");
  EXPECT_EQ(entries["app/plain.txt"].source_root, std::filesystem::canonical(dir / "src"));
  EXPECT_EQ(entries["app/tool"].mode, 0755u);
  EXPECT_EQ(entries["app/group-exec"].mode, 0755u);
  EXPECT_EQ(entries["app/empty"].mode, 0755u);
  EXPECT_EQ(entries["app/empty/nested"].type, Type::kDirectory);
}

TEST(LayerSpecTest, AddTreeAtTheRootHasNoPrefixEntry) {
  TempDir dir;
  WriteFile(dir / "src/f", "x");
  LayerSpec spec;
  ASSERT_TRUE(spec.AddTree(dir / "src/", "").ok());
  ASSERT_EQ(spec.entries().size(), 1u);
  EXPECT_EQ(spec.entries()[0].path, "f");
}

TEST(LayerSpecTest, ExcludedNamesAreSkippedAtAnyDepth) {
  TempDir dir;
  WriteFile(dir / "src/.git/HEAD", "ref");
  WriteFile(dir / "src/sub/.git", "gitdir: x");
  WriteFile(dir / "src/sub/keep.go", "package x");
  LayerSpec spec;
  ASSERT_TRUE(spec.AddTree(dir / "src", "app", {.exclude_names = {".git"}}).ok());
  auto entries = ByPath(spec);
  EXPECT_EQ(entries.count("app/.git"), 0u);
  EXPECT_EQ(entries.count("app/sub/.git"), 0u);
  EXPECT_EQ(entries.count("app/sub/keep.go"), 1u);
}

TEST(LayerSpecTest, HardLinksPointAtTheFirstPathInByteOrder) {
  TempDir dir;
  // Walk order visits "a/x" before "a.txt" (directory "a" sorts first as a name), but in byte
  // order "a.txt" < "a/x", so "a.txt" must carry the data.
  WriteFile(dir / "src/a/x", "shared");
  ASSERT_EQ(link((dir / "src/a/x").c_str(), (dir / "src/a.txt").c_str()), 0);
  ASSERT_EQ(link((dir / "src/a/x").c_str(), (dir / "src/z").c_str()), 0);
  LayerSpec spec;
  ASSERT_TRUE(spec.AddTree(dir / "src", "").ok());
  auto entries = ByPath(spec);
  EXPECT_EQ(entries["a.txt"].type, Type::kFile);
  EXPECT_EQ(entries["a/x"].type, Type::kHardlink);
  EXPECT_EQ(entries["a/x"].link_target, "a.txt");
  EXPECT_EQ(entries["z"].type, Type::kHardlink);
  EXPECT_EQ(entries["z"].link_target, "a.txt");
}

TEST(LayerSpecTest, RelativeSymlinksInsideTheTreeAreKept) {
  TempDir dir;
  WriteFile(dir / "src/lib/tool.real", "x", 0755);
  testing::MakeDirs(dir / "src/bin");
  ASSERT_EQ(symlink("../lib/tool.real", (dir / "src/bin/tool").c_str()), 0);
  ASSERT_EQ(symlink("bin/../bin/./tool", (dir / "src/alias").c_str()), 0);
  ASSERT_EQ(symlink("missing/file", (dir / "src/dangling").c_str()), 0);
  LayerSpec spec;
  ASSERT_TRUE(spec.AddTree(dir / "src", "app").ok()) << spec.AddTree(dir / "src", "app");
  auto entries = ByPath(spec);
  EXPECT_EQ(entries["app/bin/tool"].type, Type::kSymlink);
  EXPECT_EQ(entries["app/bin/tool"].link_target, "../lib/tool.real");
  EXPECT_EQ(entries["app/bin/tool"].mode, 0777u);
  EXPECT_EQ(entries["app/alias"].type, Type::kSymlink);
  EXPECT_EQ(entries["app/dangling"].type, Type::kSymlink);
}

TEST(LayerSpecTest, SymlinkEscapingTheTreeIsRefused) {
  TempDir dir;
  testing::MakeDirs(dir / "src/sub");
  ASSERT_EQ(symlink("../../etc/passwd", (dir / "src/sub/evil").c_str()), 0);
  LayerSpec spec;
  absl::Status status = spec.AddTree(dir / "src", "app");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("sub/evil"));
  EXPECT_THAT(status.message(), HasSubstr("outside"));
}

TEST(LayerSpecTest, AbsoluteSymlinkIsRefused) {
  TempDir dir;
  testing::MakeDirs(dir / "src");
  ASSERT_EQ(symlink("/etc/passwd", (dir / "src/abs").c_str()), 0);
  LayerSpec spec;
  absl::Status status = spec.AddTree(dir / "src", "");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("absolute"));
}

TEST(LayerSpecTest, SymlinkThroughAnEscapingSymlinkIsRefused) {
  TempDir dir;
  testing::MakeDirs(dir / "src/x");
  // The escaping links are excluded, so only the link passing through them is checked; it looks
  // fine lexically ("x/up/etc" stays inside) but resolves through x/up -> ../.. to outside.
  ASSERT_EQ(symlink("../..", (dir / "src/x/up").c_str()), 0);
  ASSERT_EQ(symlink("/", (dir / "src/root").c_str()), 0);
  ASSERT_EQ(symlink("x/up/etc", (dir / "src/a").c_str()), 0);
  TreeOptions options{.exclude_names = {"up", "root"}};
  LayerSpec spec;
  absl::Status status = spec.AddTree(dir / "src", "", options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("outside"));

  ASSERT_EQ(unlink((dir / "src/a").c_str()), 0);
  ASSERT_EQ(symlink("root/etc/passwd", (dir / "src/c").c_str()), 0);
  status = spec.AddTree(dir / "src", "", options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("absolute"));
}

TEST(LayerSpecTest, SymlinkLoopIsRefused) {
  TempDir dir;
  testing::MakeDirs(dir / "src");
  ASSERT_EQ(symlink("b", (dir / "src/a").c_str()), 0);
  ASSERT_EQ(symlink("a", (dir / "src/b").c_str()), 0);
  LayerSpec spec;
  absl::Status status = spec.AddTree(dir / "src", "");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("loop"));
}

TEST(LayerSpecTest, FifoIsRefused) {
  TempDir dir;
  testing::MakeDirs(dir / "src");
  ASSERT_EQ(mkfifo((dir / "src/pipe").c_str(), 0644), 0);
  LayerSpec spec;
  absl::Status status = spec.AddTree(dir / "src", "");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("fifo"));
}

TEST(LayerSpecTest, AllowLinksOutKeepsAbsoluteAndEscapingLinksAsLinks) {
  TempDir dir;
  testing::MakeDirs(dir / "venv/bin");
  ASSERT_EQ(symlink("/usr/bin/python3.11", (dir / "venv/bin/python").c_str()), 0);
  ASSERT_EQ(symlink("../../../etc/shadow", (dir / "venv/bin/escape").c_str()), 0);
  LayerSpec spec;
  TreeOptions options;
  options.allow_links_out = true;
  ASSERT_TRUE(spec.AddTree(dir / "venv", "opt/venv", options).ok());
  auto entries = ByPath(spec);
  EXPECT_EQ(entries["opt/venv/bin/python"].type, Type::kSymlink);
  EXPECT_EQ(entries["opt/venv/bin/python"].link_target, "/usr/bin/python3.11");
  EXPECT_EQ(entries["opt/venv/bin/escape"].type, Type::kSymlink);
  EXPECT_TRUE(entries["opt/venv/bin/escape"].source_path.empty());
}

TEST(LayerSpecTest, ExcludedSuffixesAreSkipped) {
  TempDir dir;
  WriteFile(dir / "src/m.py", "x");
  WriteFile(dir / "src/m.cpython-311.pyc", "bytecode");
  LayerSpec spec;
  TreeOptions options;
  options.exclude_suffixes = {".pyc"};
  ASSERT_TRUE(spec.AddTree(dir / "src", "", options).ok());
  auto entries = ByPath(spec);
  EXPECT_EQ(entries.count("m.py"), 1u);
  EXPECT_EQ(entries.count("m.cpython-311.pyc"), 0u);
}

TEST(LayerSpecTest, SkipLeavesOutAnEntryAndNeverWalksASkippedDirectory) {
  TempDir dir;
  WriteFile(dir / "src/keep.txt", "x");
  WriteFile(dir / "src/drop.txt", "x");
  testing::MakeDirs(dir / "src/cache");
  ASSERT_EQ(mkfifo((dir / "src/cache/pipe").c_str(), 0644), 0);  // refused were it walked
  std::vector<std::pair<std::string, bool>> asked;
  LayerSpec spec;
  TreeOptions options;
  options.skip = [&asked](const std::string& rel, bool is_dir) {
    asked.emplace_back(rel, is_dir);
    return rel == "drop.txt" || rel == "cache";
  };
  ASSERT_TRUE(spec.AddTree(dir / "src", "app", options).ok());
  auto entries = ByPath(spec);
  EXPECT_EQ(entries.count("app/keep.txt"), 1u);
  EXPECT_EQ(entries.count("app/drop.txt"), 0u);
  EXPECT_EQ(entries.count("app/cache"), 0u);
  EXPECT_THAT(asked, ::testing::UnorderedElementsAre(::testing::Pair("cache", true),
                                                     ::testing::Pair("drop.txt", false),
                                                     ::testing::Pair("keep.txt", false)));
}

TEST(LayerSpecTest, AFileSwappedForASymlinkAfterTheWalkIsNotFollowedWhenOpened) {
  TempDir dir;
  WriteFile(dir / "secret", "host secret");
  WriteFile(dir / "out/app", "binary");
  LayerSpec spec;
  ASSERT_TRUE(spec.AddTree(dir / "out", "app").ok());
  ASSERT_EQ(unlink((dir / "out/app").c_str()), 0);
  ASSERT_EQ(symlink((dir / "secret").c_str(), (dir / "out/app").c_str()), 0);
  int64_t size = 0;
  absl::StatusOr<UniqueFd> fd = OpenEntrySource(ByPath(spec)["app/app"], &size);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(fd.status().message(), HasSubstr("app"));
}

TEST(LayerSpecTest, MissingRootIsNotFound) {
  LayerSpec spec;
  EXPECT_EQ(spec.AddTree("/nonexistent/tempa/src", "").code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tempa::oci
