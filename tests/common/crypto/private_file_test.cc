#include "common/crypto/private_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa::crypto {
namespace {

using ::testing::HasSubstr;

PrivateFileRules Rules() {
  PrivateFileRules rules;
  rules.what = "token file";
  return rules;
}

TEST(PrivateFileTest, ReadsAPrivateFile) {
  testing::TempDir dir;
  std::string path = dir.Join("tokens");
  testing::WriteFileOrDie(path, "admin 0123456789abcdef\n");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  absl::StatusOr<std::string> read = ReadPrivateFile(path, Rules());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "admin 0123456789abcdef\n");
}

TEST(PrivateFileTest, SymlinkToAPrivateFileIsRefused) {
  testing::TempDir dir;
  std::string path = dir.Join("tokens");
  testing::WriteFileOrDie(path, "x");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(::symlink(path.c_str(), dir.Join("link").c_str()), 0);
  absl::StatusOr<std::string> read = ReadPrivateFile(dir.Join("link"), Rules());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(), HasSubstr("symbolic link"));
}

TEST(PrivateFileTest, DirectoryAndFifoAreRefusedWithoutHanging) {
  testing::TempDir dir;
  std::string sub = dir.Join("sub");
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  EXPECT_THAT(ReadPrivateFile(sub, Rules()).status().message(), HasSubstr("not a regular file"));
  std::string fifo = dir.Join("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THAT(ReadPrivateFile(fifo, Rules()).status().message(), HasSubstr("not a regular file"));
}

TEST(PrivateFileTest, FileOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  testing::TempDir dir;
  std::string path = dir.Join("tokens");
  testing::WriteFileOrDie(path, "x");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  absl::StatusOr<std::string> read = ReadPrivateFile(path, Rules());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(read.status().message(), HasSubstr("chown 0 " + path));
}

TEST(PrivateFileTest, GroupReadIsAllowedOnlyWhenAskedAndNeverGroupWriteOrOthers) {
  testing::TempDir dir;
  std::string path = dir.Join("tls.key");
  testing::WriteFileOrDie(path, "key");
  PrivateFileRules rules = Rules();
  rules.allow_group_read = true;
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  EXPECT_TRUE(ReadPrivateFile(path, rules).ok());
  EXPECT_FALSE(ReadPrivateFile(path, Rules()).ok());
  for (mode_t mode : {0660, 0644, 0604}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    absl::StatusOr<std::string> read = ReadPrivateFile(path, rules);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kPermissionDenied) << std::oct << mode;
    EXPECT_THAT(read.status().message(), HasSubstr("chmod 640 " + path));
  }
}

TEST(PrivateFileTest, OversizedFileIsRefused) {
  testing::TempDir dir;
  std::string path = dir.Join("tokens");
  testing::WriteFileOrDie(path, std::string(100, 'x'));
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  PrivateFileRules rules = Rules();
  rules.max_bytes = 99;
  EXPECT_EQ(ReadPrivateFile(path, rules).status().code(), absl::StatusCode::kInvalidArgument);
  rules.max_bytes = 100;
  EXPECT_TRUE(ReadPrivateFile(path, rules).ok());
}

}  // namespace
}  // namespace tempa::crypto
