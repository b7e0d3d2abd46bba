// Reading a build's output beneath its root: planted symlinks, "..", absolute paths and
// non-files are refused naming the path; nothing outside the root is ever read.
#include "common/beneath.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::TempDir;
using testing::WriteFileOrDie;

std::string ReadAll(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// Every rule holds both through openat2 and through the O_NOFOLLOW walk used without it.
class BeneathTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    beneath_internal::UseOpenat2ForTesting(GetParam());
    fs::create_directories(root_ + "/bin");
    WriteFileOrDie(root_ + "/bin/app", "binary");
    WriteFileOrDie(secret_, "host secret");
  }
  void TearDown() override { beneath_internal::UseOpenat2ForTesting(true); }
  TempDir tmp_;
  std::string root_ = tmp_.Join("out");
  std::string secret_ = tmp_.Join("secret");
};

TEST_P(BeneathTest, OpensARegularFileBelowTheRoot) {
  absl::StatusOr<UniqueFd> fd = OpenRegularFileBeneath(root_, "bin/app");
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(ReadAll(fd->get()), "binary");
}

TEST_P(BeneathTest, ASymlinkWhereTheFileShouldBeIsRefusedNamingIt) {
  fs::remove(root_ + "/bin/app");
  fs::create_symlink(secret_, root_ + "/bin/app");
  absl::StatusOr<UniqueFd> fd = OpenRegularFileBeneath(root_, "bin/app");
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(fd.status().message(), HasSubstr("bin/app"));
  EXPECT_THAT(fd.status().message(), HasSubstr("symlink"));
}

TEST_P(BeneathTest, ARelativeSymlinkInsideTheRootIsRefusedToo) {
  fs::create_symlink("app", root_ + "/bin/alias");
  EXPECT_EQ(OpenRegularFileBeneath(root_, "bin/alias").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(BeneathTest, ASymlinkedDirectoryOnTheWayIsRefused) {
  fs::create_directories(tmp_.Join("elsewhere"));
  WriteFileOrDie(tmp_.Join("elsewhere/app"), "outside");
  fs::create_directory_symlink(tmp_.Join("elsewhere"), root_ + "/lib");
  absl::StatusOr<UniqueFd> fd = OpenRegularFileBeneath(root_, "lib/app");
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(fd.status().message(), HasSubstr("lib/app"));
}

TEST_P(BeneathTest, DotDotAndAbsolutePathsAreRefused) {
  EXPECT_EQ(OpenRegularFileBeneath(root_, "../secret").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenRegularFileBeneath(root_, secret_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenRegularFileBeneath(root_, "bin/../../secret").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(BeneathTest, AFifoIsNotAFileAndDoesNotBlock) {
  ASSERT_EQ(::mkfifo((root_ + "/bin/pipe").c_str(), 0600), 0);
  absl::StatusOr<UniqueFd> fd = OpenRegularFileBeneath(root_, "bin/pipe");
  ASSERT_FALSE(fd.ok());
  EXPECT_THAT(fd.status().message(), HasSubstr("not a regular file"));
}

TEST_P(BeneathTest, AMissingFileIsNotFound) {
  EXPECT_EQ(OpenRegularFileBeneath(root_, "bin/none").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(BeneathTest, ARootThatIsASymlinkIsRefused) {
  fs::create_directory_symlink(tmp_.path(), tmp_.Join("root-link"));
  absl::StatusOr<UniqueFd> root = OpenRootDirectory(tmp_.Join("root-link"));
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(BeneathTest, CopyReplacesALinkAtTheDestinationInsteadOfWritingThroughIt) {
  fs::create_symlink(secret_, tmp_.Join("copy"));
  absl::StatusOr<UniqueFd> root = OpenRootDirectory(root_);
  ASSERT_TRUE(root.ok());
  ASSERT_TRUE(CopyFileBeneath(root->get(), "bin/app", root_, tmp_.Join("copy"), 0755).ok());
  EXPECT_FALSE(fs::is_symlink(tmp_.Join("copy")));
  absl::StatusOr<UniqueFd> secret = OpenRegularFileBeneath(tmp_.path(), "secret");
  ASSERT_TRUE(secret.ok());
  EXPECT_EQ(ReadAll(secret->get()), "host secret");
  EXPECT_EQ(fs::status(tmp_.Join("copy")).permissions(), fs::perms(0755));
}

INSTANTIATE_TEST_SUITE_P(Openat2AndWalk, BeneathTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Openat2" : "NoFollowWalk";
                         });

}  // namespace
}  // namespace tempa
