// Copying a hostile source tree: links stay links (whatever they point at), nothing outside
// the tree is read, excluded names are left out, mtimes are kept.
#include "common/tree_copy.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::WriteFileOrDie;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(TreeCopyTest, SymlinksToHostFilesAndDirectoriesAreCopiedAsLinksNeverAsTheirTargets) {
  TempDir tmp;
  WriteFileOrDie(tmp.Join("secret"), "host secret");
  fs::create_directories(tmp.Join("hostdir"));
  WriteFileOrDie(tmp.Join("hostdir/key"), "host key");
  fs::create_directories(tmp.Join("src/pkg"));
  WriteFileOrDie(tmp.Join("src/pkg/main.py"), "print('hi')\n");
  fs::create_symlink(tmp.Join("secret"), tmp.Join("src/leak"));
  fs::create_directory_symlink(tmp.Join("hostdir"), tmp.Join("src/pkg/dir-leak"));
  fs::create_symlink("../../secret", tmp.Join("src/pkg/relative-leak"));

  ASSERT_TRUE(CopyTree(tmp.Join("src"), tmp.Join("dst")).ok());
  EXPECT_EQ(Read(tmp.Join("dst/pkg/main.py")), "print('hi')\n");
  ASSERT_TRUE(fs::is_symlink(tmp.Join("dst/leak")));
  EXPECT_EQ(fs::read_symlink(tmp.Join("dst/leak")), tmp.Join("secret"));
  ASSERT_TRUE(fs::is_symlink(tmp.Join("dst/pkg/dir-leak")));
  EXPECT_TRUE(fs::is_symlink(tmp.Join("dst/pkg/relative-leak")));
}

TEST(TreeCopyTest, ExcludedNamesAreLeftOutAndModesNormalised) {
  TempDir tmp;
  fs::create_directories(tmp.Join("src/.git/objects"));
  WriteFileOrDie(tmp.Join("src/.git/HEAD"), "ref");
  WriteFileOrDie(tmp.Join("src/run.sh"), "#!/bin/sh\n");
  ::chmod(tmp.Join("src/run.sh").c_str(), 0700);
  WriteFileOrDie(tmp.Join("src/data"), "x");
  ::chmod(tmp.Join("src/data").c_str(), 0666);
  TreeCopyOptions options;
  options.exclude_names = {".git"};
  ASSERT_TRUE(CopyTree(tmp.Join("src"), tmp.Join("dst"), options).ok());
  EXPECT_FALSE(fs::exists(tmp.Join("dst/.git")));
  EXPECT_EQ(fs::status(tmp.Join("dst/run.sh")).permissions(), fs::perms(0755));
  EXPECT_EQ(fs::status(tmp.Join("dst/data")).permissions(), fs::perms(0644));
}

TEST(TreeCopyTest, SkipIsAskedWithRelativePathsParentsFirstAndASkippedDirectoryIsNotWalked) {
  TempDir tmp;
  fs::create_directories(tmp.Join("src/keep/deep"));
  fs::create_directories(tmp.Join("src/drop/inner"));
  WriteFileOrDie(tmp.Join("src/keep/deep/a.txt"), "a");
  WriteFileOrDie(tmp.Join("src/keep/secret.env"), "s");
  WriteFileOrDie(tmp.Join("src/drop/inner/b.txt"), "b");
  std::vector<std::pair<std::string, bool>> asked;
  TreeCopyOptions options;
  options.skip = [&asked](const std::string& rel, bool is_dir) {
    asked.emplace_back(rel, is_dir);
    return rel == "drop" || rel == "keep/secret.env";
  };
  ASSERT_TRUE(CopyTree(tmp.Join("src"), tmp.Join("dst"), options).ok());
  EXPECT_EQ(Read(tmp.Join("dst/keep/deep/a.txt")), "a");
  EXPECT_FALSE(fs::exists(tmp.Join("dst/keep/secret.env")));
  EXPECT_FALSE(fs::exists(tmp.Join("dst/drop")));
  for (const auto& [rel, is_dir] : asked) EXPECT_NE(rel.rfind("drop/", 0), 0u) << rel;
  std::vector<std::pair<std::string, bool>> expected = {{"drop", true},
                                                        {"keep", true},
                                                        {"keep/deep", true},
                                                        {"keep/deep/a.txt", false},
                                                        {"keep/secret.env", false}};
  EXPECT_EQ(asked, expected);
}

TEST(TreeCopyTest, ModificationTimesAreKept) {
  TempDir tmp;
  fs::create_directories(tmp.Join("src/d"));
  WriteFileOrDie(tmp.Join("src/d/f"), "x");
  auto when = fs::file_time_type::clock::now() - std::chrono::hours(48);
  fs::last_write_time(tmp.Join("src/d/f"), when);
  ASSERT_TRUE(CopyTree(tmp.Join("src"), tmp.Join("dst")).ok());
  EXPECT_EQ(fs::last_write_time(tmp.Join("dst/d/f")), when);
}

TEST(TreeCopyTest, AnExistingDestinationIsRefusedRatherThanMergedInto) {
  TempDir tmp;
  fs::create_directories(tmp.Join("src"));
  fs::create_directory_symlink("/", tmp.Join("dst"));
  absl::Status status = CopyTree(tmp.Join("src"), tmp.Join("dst"));
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
}

TEST(TreeCopyTest, OwnerFromParentHandsTheCopyToTheParentDirectorysOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "changing owners needs root";
  TempDir tmp;
  fs::create_directories(tmp.Join("src/d"));
  WriteFileOrDie(tmp.Join("src/d/f"), "x");
  fs::create_symlink("d/f", tmp.Join("src/link"));
  fs::create_directories(tmp.Join("scratch"));
  ASSERT_EQ(::chown(tmp.Join("scratch").c_str(), 65534, 65534), 0);
  TreeCopyOptions options;
  options.owner_from_parent = true;
  ASSERT_TRUE(CopyTree(tmp.Join("src"), tmp.Join("scratch/copy"), options).ok());
  for (const char* rel : {"copy", "copy/d", "copy/d/f", "copy/link"}) {
    struct stat st;
    ASSERT_EQ(::lstat(tmp.Join(std::string("scratch/") + rel).c_str(), &st), 0) << rel;
    EXPECT_EQ(st.st_uid, 65534u) << rel;
    EXPECT_EQ(st.st_gid, 65534u) << rel;
  }
}

}  // namespace
}  // namespace tempa
