// Reading project files from a hostile source tree: no symlink is followed, not even a linked
// directory on the way, and a fifo under a project file's name cannot hang detection.
#include "buildpacks/internal/fs_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks::internal {
namespace {

using test_support::TempTree;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(FsUtilTest, ReadsAFileBeneathTheRoot) {
  TempTree tree;
  tree.Write("reqs/base.txt", "flask\n");
  absl::StatusOr<std::string> text = ReadSmallFileBeneath(tree.path(), "reqs/base.txt", 1024);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "flask\n");
}

TEST(FsUtilTest, ALinkedDirectoryOnTheWayIsNotFollowed) {
  TempTree outside, tree;
  outside.Write("base.txt", "host-file-contents\n");
  std::filesystem::create_directory_symlink(outside.path(), tree / "reqs");
  absl::StatusOr<std::string> text = ReadSmallFileBeneath(tree.path(), "reqs/base.txt", 1024);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(text.status().message(), HasSubstr("reqs/base.txt"));
  EXPECT_FALSE(ListDirBeneath(tree.path(), "reqs").ok());
  EXPECT_FALSE(ReadPrefixBeneath(tree.path(), "reqs/base.txt", 10).ok());
}

TEST(FsUtilTest, AFifoUnderAProjectFilesNameIsRefusedWithoutBlocking) {
  TempTree tree;
  ASSERT_EQ(::mkfifo((tree / "go.mod").c_str(), 0644), 0);
  EXPECT_EQ(ReadSmallFile(tree / "go.mod", 1024).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadSmallFileBeneath(tree.path(), "go.mod", 1024).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FsUtilTest, ListsADirectoryBeneathTheRootSorted) {
  TempTree tree;
  tree.Write("cmd/b/main.go", "package main\n");
  tree.Write("cmd/a/main.go", "package main\n");
  absl::StatusOr<std::vector<std::string>> names = ListDirBeneath(tree.path(), "cmd");
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("a", "b"));
}

}  // namespace
}  // namespace tempa::buildpacks::internal
