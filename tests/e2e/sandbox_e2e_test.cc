// The build's limits and isolation through the real `tempa` CLI: a Go build past a small limit
// fails with the failure kind a user can act on, and a root-run build leaves nothing root-owned
// in the app's cache but the standard library's read-only seed links. Uses the CLI's --timeout /
// --memory / --max-processes flags.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "tests/e2e/e2e_fixture.h"

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The inodes of the Go standard-library seeds a build's cache may hold read-only links to (the
// machine-wide seeds and a cache directory's own): root's by design, never written by a build.
std::set<std::pair<dev_t, ino_t>> SeedInodes(const std::string& cache) {
  std::set<std::pair<dev_t, ino_t>> inodes;
  for (const std::string& root : {std::string("/var/cache/tempa/seeds"), cache + "/seeds"}) {
    std::error_code ec;
    for (const auto& entry : fs::recursive_directory_iterator(root, ec)) {
      struct stat st;
      if (::lstat(entry.path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        inodes.insert({st.st_dev, st.st_ino});
      }
    }
  }
  return inodes;
}

class SandboxE2eTest : public TempaE2eTest {
 protected:
  // `tempa build` of go-hello with a new app cache (the standard library comes from the seed;
  // the app, its vendored module and the link are compiled) and `flags`.
  CommandResult BuildWith(const std::vector<std::string>& flags) {
    std::string src = CopyExample("go-hello", "app");
    std::vector<std::string> args = {
        "build", src, "--image", registry() + "/limited", "--cache-dir", tmp_.Join("cache"),
        "--json"};
    args.insert(args.end(), flags.begin(), flags.end());
    return Tempa(args);
  }
};

TEST_F(SandboxE2eTest, BuildPastTheTimeLimitFailsAsTimeout) {
  // -a: everything compiled again, the standard library too (the seed would make it ~1 s).
  CommandResult r = BuildWith({"--timeout", "1s", "--build-env", "GOFLAGS=-a"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(ErrorOf(r)["kind"], "timeout") << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "timed out")) << r.err;
}

TEST_F(SandboxE2eTest, BuildPastTheMemoryLimitFailsAsOutOfMemory) {
  CommandResult r = BuildWith({"--memory", "24m"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(ErrorOf(r)["kind"], "out_of_memory") << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "out of memory")) << r.err;
}

TEST_F(SandboxE2eTest, BuildPastTheProcessLimitSaysSo) {
  // The go command and the compiler are multithreaded: 4 tasks cannot hold them.
  CommandResult r = BuildWith({"--max-processes", "4"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  json error = ErrorOf(r);
  EXPECT_EQ(error["kind"], "process_limit") << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "--max-processes")) << r.err;
  EXPECT_TRUE(
      absl::StrContains(error["log_tail"].get<std::string>(), "the build hit the process limit (4"))
      << r.out;
}

TEST_F(SandboxE2eTest, BuildPrintingPastTheOutputLimitFailsAsOutputTooLarge) {
  // `go build -x` prints every command it runs: kilobytes on a cold cache.
  CommandResult r = BuildWith({"--build-env", "GOFLAGS=-x", "--max-output", "2k"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(ErrorOf(r)["kind"], "output_too_large") << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "printed more than 2048 bytes")) << r.err;
}

TEST_F(SandboxE2eTest, BuildWritingPastTheFileLimitFailsAsOutputTooLarge) {
  // The linker writes a ~2 MB binary, and the compiled standard library is larger still.
  CommandResult r = BuildWith({"--max-file-size", "1m"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(ErrorOf(r)["kind"], "output_too_large") << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "larger than 1048576 bytes")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "--max-file-size")) << r.err;
  // Nothing of the size the limit refused was left behind in the app's caches (the standard
  // library's seed, linked in read-only, was not written by this build).
  std::set<std::pair<dev_t, ino_t>> seed = SeedInodes(tmp_.Join("cache"));
  for (const auto& entry : fs::recursive_directory_iterator(tmp_.Join("cache"))) {
    struct stat st;
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (seed.count({st.st_dev, st.st_ino}) != 0) continue;
    EXPECT_LE(entry.file_size(), 1u << 20) << entry.path();
  }
}

TEST_F(SandboxE2eTest, GenerousLimitsBuildFine) {
  CommandResult r = BuildWith({"--timeout", "10m", "--memory", "2g", "--max-processes", "4096"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(SandboxE2eTest, ARootRunBuildWritesNothingAsRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "the privilege drop applies when tempa runs as root";
  CommandResult r = BuildWith({});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Everything the compiler wrote into the app's tool cache belongs to the build user; what is
  // root's there is the standard library's seed, linked in read-only.
  std::string apps = tmp_.Join("cache") + "/apps";
  std::set<std::pair<dev_t, ino_t>> seed = SeedInodes(tmp_.Join("cache"));
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(apps)) {
    if (!entry.is_regular_file()) continue;
    struct stat st;
    ASSERT_EQ(::lstat(entry.path().c_str(), &st), 0);
    if (st.st_uid == 0) {
      EXPECT_EQ(seed.count({st.st_dev, st.st_ino}), 1u) << entry.path() << " is root's";
      EXPECT_EQ(st.st_mode & 0222, 0u) << entry.path();
      continue;
    }
    ++files;
  }
  EXPECT_GT(files, 0);
}

}  // namespace
}  // namespace tempa::testing
