// The container log: a bounded tail, a file kept bounded, and no symlink followed.
#include "deploy/runtime/container_log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;
using testing::WriteFileOrDie;

void Append(int fd, const std::string& text) {
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

TEST(ContainerLogTest, TailReturnsTheLastLines) {
  TempDir dir;
  WriteFileOrDie(dir.Join("log"), "one\ntwo\nthree\nfour\n");
  EXPECT_EQ(*ReadLogTail(dir.Join("log"), 2), "three\nfour\n");
  EXPECT_EQ(*ReadLogTail(dir.Join("log"), 10), "one\ntwo\nthree\nfour\n");
  WriteFileOrDie(dir.Join("partial"), "one\ntwo");
  EXPECT_EQ(*ReadLogTail(dir.Join("partial"), 1), "two");
  EXPECT_EQ(*ReadLogTail(dir.Join("missing"), 3), "");
}

TEST(ContainerLogTest, TailReadsNoMoreThanItsBound) {
  TempDir dir;
  std::string huge(1 << 20, 'x');
  WriteFileOrDie(dir.Join("log"), huge + "\nend\n");
  absl::StatusOr<std::string> tail = ReadLogTail(dir.Join("log"), 2, 1000);
  ASSERT_TRUE(tail.ok()) << tail.status();
  EXPECT_LE(tail->size(), 1000u);
  EXPECT_THAT(*tail, ::testing::EndsWith("\nend\n"));
}

TEST(ContainerLogTest, SymlinkedLogIsNeitherReadNorWritten) {
  TempDir dir;
  WriteFileOrDie(dir.Join("secret"), "password\n");
  ASSERT_EQ(symlink(dir.Join("secret").c_str(), dir.Join("log").c_str()), 0);
  EXPECT_FALSE(ReadLogTail(dir.Join("log"), 5).ok());
  EXPECT_FALSE(OpenLogForAppend(dir.Join("log")).ok());
  EXPECT_FALSE(TruncateLogIfLarger(dir.Join("log"), 1, 1).ok());
}

TEST(ContainerLogTest, LogIsCreatedPrivate) {
  TempDir dir;
  ASSERT_TRUE(OpenLogForAppend(dir.Join("log")).ok());
  struct stat st;
  ASSERT_EQ(stat(dir.Join("log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(ContainerLogTest, LargeLogIsCutToItsEndAndTheWriterGoesOnAppending) {
  TempDir dir;
  absl::StatusOr<UniqueFd> writer = OpenLogForAppend(dir.Join("log"));
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (int i = 0; i < 2000; ++i) Append(writer->get(), "line " + std::to_string(i) + "\n");
  ASSERT_TRUE(TruncateLogIfLarger(dir.Join("log"), 4096, 100).ok());
  struct stat st;
  ASSERT_EQ(stat(dir.Join("log").c_str(), &st), 0);
  EXPECT_LE(st.st_size, 200);
  Append(writer->get(), "after the cut\n");
  std::string tail = *ReadLogTail(dir.Join("log"), 100);
  EXPECT_THAT(tail, HasSubstr("[log truncated by tempa]\n"));
  EXPECT_THAT(tail, HasSubstr("line 1999\nafter the cut\n"));
  EXPECT_THAT(tail, ::testing::Not(HasSubstr("line 1000\n")));
  // Below the bound nothing changes.
  ASSERT_TRUE(TruncateLogIfLarger(dir.Join("log"), 1 << 20, 100).ok());
  EXPECT_EQ(*ReadLogTail(dir.Join("log"), 100), tail);
}

}  // namespace
}  // namespace tempa::deploy
