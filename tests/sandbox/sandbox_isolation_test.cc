// Isolation against the real bwrap: the build is never host root, sees no root-only host files,
// and a hostile source tree's symlinks lead nowhere; PrepareForSandbox never follows links; no
// descriptor the daemon holds reaches the build.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace tempa {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SandboxIsolationTest : public SandboxFixture {
 protected:
  void SetUp() override {
    SandboxFixture::SetUp();
    if (::geteuid() != 0) GTEST_SKIP() << "dropping privileges is tested when run as root";
  }
  static uid_t Owner(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_uid;
  }
};

TEST_F(SandboxIsolationTest, TheBuildIsTheBuildUidOnTheHost) {
  fs::create_directories(dir_ + "/out");
  Prepare();
  SandboxCommand c = Shell("id -u; touch /out/made-by-build");
  c.mounts = {{dir_ + "/out", "/out", true}};
  SandboxResult r = RunOk(c);
  ASSERT_TRUE(r.ok()) << r.log_tail;
  EXPECT_THAT(lines_, ElementsAre("65534"));
  EXPECT_EQ(Owner(dir_ + "/out/made-by-build"), 65534u);
}

TEST_F(SandboxIsolationTest, TheBuildUidIsConfigurable) {
  BubblewrapSandboxOptions options;
  options.build_uid = 40123;
  options.build_gid = 40123;
  fs::create_directories(dir_ + "/out");
  Prepare(options);
  EXPECT_EQ(Owner(dir_ + "/out"), 40123u);
  BubblewrapSandbox sandbox(options);
  SandboxCommand c = Shell("touch /out/file");
  c.mounts = {{dir_ + "/out", "/out", true}};
  SandboxResult r = RunOk(sandbox, c);
  ASSERT_TRUE(r.ok()) << r.log_tail;
  EXPECT_EQ(Owner(dir_ + "/out/file"), 40123u);
}

TEST_F(SandboxIsolationTest, RootOnlyHostFilesAreInvisible) {
  SandboxResult r =
      RunOk(Shell("test -e /etc/shadow && echo shadow-visible;"
                  "test -e /root && echo root-visible;"
                  "cat /etc/shadow 2>/dev/null && echo shadow-readable;"
                  "ls /root >/dev/null 2>&1 && echo root-listable;"
                  "test -e /etc/ssl/private/anything && echo ssl-private;"
                  "echo done"));
  EXPECT_TRUE(r.ok()) << r.log_tail;
  EXPECT_THAT(lines_, ElementsAre("done"));
}

TEST_F(SandboxIsolationTest, SourceSymlinksCannotReachOutsideTheMounts) {
  std::string src = dir_ + "/src";
  fs::create_directories(src);
  fs::create_directories(dir_ + "/out");
  std::ofstream(src + "/main.go") << "package main\n";
  fs::create_directory_symlink("/root", src + "/rootdir");
  fs::create_symlink("/etc/shadow", src + "/shadow");
  fs::create_symlink("../../../../../../etc/shadow", src + "/relative-shadow");
  Prepare();
  SandboxCommand c = Shell(
      "cat /src/shadow >/dev/null 2>&1 && echo read-shadow;"
      "cat /src/relative-shadow >/dev/null 2>&1 && echo read-relative-shadow;"
      "ls /src/rootdir/ >/dev/null 2>&1 && echo listed-root;"
      "{ echo x > /src/rootdir/planted; } 2>/dev/null && echo wrote-root;"
      "{ echo x > /src/new; } 2>/dev/null && echo wrote-src;"
      "{ echo x > /src/main.go; } 2>/dev/null && echo overwrote-src;"
      "ln -s /etc/shadow /src/planted-link 2>/dev/null && echo linked-src;"
      "cat /src/main.go;"
      "echo ok > /out/result && echo wrote-out");
  c.mounts = {{src, "/src", false}, {dir_ + "/out", "/out", true}};
  SandboxResult r = RunOk(c);
  EXPECT_TRUE(r.ok()) << r.log_tail;
  EXPECT_THAT(lines_, ElementsAre("package main", "wrote-out"));
  EXPECT_FALSE(fs::exists("/root/planted"));
  EXPECT_FALSE(fs::exists(src + "/new"));
}

TEST_F(SandboxIsolationTest, PrepareChangesLinksNotWhatTheyPointAt) {
  std::string outside = dir_ + "-outside";
  std::ofstream(outside) << "root's";
  fs::create_directories(dir_ + "/cache/a/b");
  std::ofstream(dir_ + "/cache/a/b/file") << "x";
  fs::create_symlink(outside, dir_ + "/cache/a/link");
  fs::create_directory_symlink("/etc", dir_ + "/cache/etc-link");
  Prepare();
  EXPECT_EQ(Owner(dir_ + "/cache/a/b/file"), 65534u);
  EXPECT_EQ(Owner(dir_ + "/cache/a/link"), 65534u);
  EXPECT_EQ(Owner(outside), 0u);
  EXPECT_EQ(Owner("/etc/passwd"), 0u);
  EXPECT_EQ(Owner("/etc"), 0u);
  fs::remove(outside);
}

TEST_F(SandboxIsolationTest, AMountTheBuildUserCannotReachIsAClearError) {
  // dir_ is mode 0700 and root's until prepared.
  fs::create_directories(dir_ + "/out");
  SandboxCommand c = Shell("true");
  c.mounts = {{dir_ + "/out", "/out", true}};
  auto r = sandbox_.Run(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("uid 65534"));
  EXPECT_THAT(r.status().message(), HasSubstr("PrepareForSandbox"));
}

using SandboxDescriptorTest = SandboxFixture;

TEST_F(SandboxDescriptorTest, NoDescriptorOfTheDaemonReachesTheBuild) {
  // What a daemon may hold open without O_CLOEXEC (a library's file, a lock, a socket), at a
  // number the build could guess.
  int leaked = ::open("/etc/hostname", O_RDONLY);
  ASSERT_GE(leaked, 0);
  ASSERT_EQ(::dup2(leaked, 77), 77);
  ::close(leaked);
  SandboxCommand c = Shell(
      "ls /proc/self/fd | tr '\\n' ' '; echo; "
      "if [ -e /proc/self/fd/77 ]; then echo fd77=open; else echo fd77=closed; fi");
  SandboxResult r = RunOk(c);
  ::close(77);
  EXPECT_TRUE(r.ok()) << r.log_tail;
  EXPECT_THAT(lines_, ::testing::Contains("fd77=closed")) << r.log_tail;
  // ls itself holds 0-2 and the directory it reads; nothing else.
  ASSERT_FALSE(lines_.empty());
  for (absl::string_view fd : absl::StrSplit(lines_[0], ' ', absl::SkipEmpty())) {
    int n = -1;
    ASSERT_TRUE(absl::SimpleAtoi(fd, &n)) << lines_[0];
    EXPECT_LE(n, 3) << "descriptor " << n << " reached the build: " << lines_[0];
  }
}

}  // namespace
}  // namespace tempa
