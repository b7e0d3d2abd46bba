// Limits against the real bwrap and the machine's cgroups: memory, processes (a bounded fork
// bomb), CPU time, file size (also when a grandchild hits it), and that nothing of a build
// outlives its run.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox/sandbox_fixture.h"
#include "worker/sandbox/cgroup_v1_build_cgroup.h"

namespace tempa {
namespace {

using ::testing::HasSubstr;
using Outcome = SandboxResult::Outcome;

// A fork bomb, bounded by the process limit and a short wall time. dash does not accept ":" as a
// function name, hence "b".
// Every process forks as fast as it can, forever: it never dies out on its own (a shell bomb
// does, once bash gives up retrying), so only the sandbox's process-limit handling stops it.
constexpr char kForkBomb[] =
    "python3 -c 'import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
    "        pass'";

// This process's leftover per-build groups under `parent` (there should be none after a run).
std::vector<std::string> LeftoverGroups(const std::string& parent) {
  std::vector<std::string> found;
  if (parent.empty()) return found;
  std::string prefix = absl::StrCat("tempa-sandbox-", ::getpid(), "-");
  if (DIR* d = ::opendir(parent.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (absl::StartsWith(e->d_name, prefix)) found.push_back(e->d_name);
    }
    ::closedir(d);
  }
  return found;
}

class SandboxLimitsTest : public SandboxFixture {
 protected:
  bool HaveCgroups() const {
    CgroupParents p = DetectCgroupParents();
    return !p.memory.empty() && !p.pids.empty() && !p.cpuacct.empty();
  }
};

TEST_F(SandboxLimitsTest, AllocatingPastTheMemoryLimitIsOutOfMemory) {
  if (!HaveCgroups()) GTEST_SKIP() << "needs writable cgroup v1 memory/pids/cpuacct groups";
  // 400 MB touched page by page against a 128 MiB limit: the kernel's OOM killer ends it.
  SandboxCommand c =
      Shell("python3 -c 'b = bytearray(400 * 1000 * 1000); print(len(b))'; echo exit=$?");
  c.limits.memory_bytes = 128ull << 20;
  SandboxResult r = RunOk(c);
  // The shell survives (its child was killed) and exits 0: that is the build's own business.
  EXPECT_TRUE(r.ok()) << r.log_tail;
  EXPECT_THAT(r.log_tail, HasSubstr("exit=137"));

  lines_.clear();
  SandboxCommand direct = Shell("exec python3 -c 'b = bytearray(400 * 1000 * 1000)'");
  direct.limits.memory_bytes = 128ull << 20;
  SandboxResult oom = RunOk(direct);
  EXPECT_EQ(oom.outcome, Outcome::kOutOfMemory) << oom.log_tail;
  EXPECT_FALSE(oom.ok());
}

TEST_F(SandboxLimitsTest, MemoryUnderTheLimitIsFine) {
  SandboxCommand c = Shell("python3 -c 'b = bytearray(30 * 1000 * 1000); print(len(b))'");
  c.limits.memory_bytes = 256ull << 20;
  SandboxResult r = RunOk(c);
  EXPECT_TRUE(r.ok()) << r.log_tail;
}

TEST_F(SandboxLimitsTest, ForkBombIsStoppedAndTheNextBuildRuns) {
  SandboxCommand c = Shell(kForkBomb);
  c.limits.max_processes = 64;
  // Generous: on a loaded machine a thousand refused forks can take a while, and only the
  // refused forks (kProcessLimit), never this wall time, may stop it.
  c.limits.wall_time = absl::Seconds(90);
  SandboxResult r = RunOk(c);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.log_tail, HasSubstr("tempa: the build hit the process limit (64 processes"));
  if (HaveCgroups()) {
    // Stopped for its refused forks (not by the wall time, which would be kTimedOut).
    EXPECT_EQ(r.outcome, Outcome::kProcessLimit);
    EXPECT_THAT(LeftoverGroups(DetectCgroupParents().pids), ::testing::IsEmpty());
  }

  lines_.clear();
  BubblewrapSandbox fresh;
  SandboxCommand next = Shell("for i in 1 2 3 4 5 6 7 8; do (echo $i) & done; wait; echo fine");
  next.limits.max_processes = 64;
  SandboxResult after = RunOk(fresh, next);
  EXPECT_TRUE(after.ok()) << after.log_tail;
  EXPECT_EQ(lines_.back(), "fine");
}

TEST_F(SandboxLimitsTest, ForkBombWithoutCgroupsIsBoundByRlimitAndWallTime) {
  BubblewrapSandboxOptions options;
  options.cgroup_parents = CgroupParents{};  // the fallback: RLIMIT_NPROC as the build uid
  // RLIMIT_NPROC counts all of a uid's processes on the host: a uid of its own keeps builds
  // that other tests run meanwhile out of the count.
  options.build_uid = 64999;
  options.build_gid = 64999;
  BubblewrapSandbox sandbox(options);
  SandboxCommand c = Shell(kForkBomb);
  c.limits.max_processes = 64;
  c.limits.wall_time = absl::Seconds(3);
  SandboxResult r = RunOk(sandbox, c);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.outcome, Outcome::kTimedOut);

  lines_.clear();
  SandboxResult after = RunOk(sandbox, Shell("echo fine"));
  EXPECT_TRUE(after.ok()) << after.log_tail;
}

TEST_F(SandboxLimitsTest, WritingAFilePastTheFileLimitIsFileTooLarge) {
  SandboxCommand c = Shell("head -c 2097152 /dev/zero > /tmp/big && echo wrote");
  c.limits.file_bytes = 1 << 20;
  SandboxResult r = RunOk(c);
  EXPECT_EQ(r.outcome, Outcome::kFileTooLarge) << r.log_tail;
  EXPECT_THAT(r.log_tail, HasSubstr("tempa: a build process tried to write a file larger than "
                                    "1048576 bytes"));
  EXPECT_THAT(lines_, ::testing::Not(::testing::Contains("wrote")));

  // A runtime that ignores SIGXFSZ gets EFBIG instead, and the build is told the same.
  lines_.clear();
  SandboxCommand python = Shell(
      "python3 -c 'import signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
      "open(\"/tmp/big\", \"wb\").write(bytes(2 << 20))'");
  python.limits.file_bytes = 1 << 20;
  SandboxResult efbig = RunOk(python);
  EXPECT_EQ(efbig.outcome, Outcome::kFileTooLarge) << efbig.log_tail;

  lines_.clear();
  SandboxCommand small = Shell("head -c 524288 /dev/zero > /tmp/small; echo wrote");
  small.limits.file_bytes = 1 << 20;
  SandboxResult fine = RunOk(small);
  EXPECT_TRUE(fine.ok()) << fine.log_tail;
  EXPECT_THAT(lines_, ::testing::Contains("wrote"));
}

TEST_F(SandboxLimitsTest, AGrandchildStoppedByTheFileLimitIsFileTooLarge) {
  // Like cargo running build.rs: the parent reports its child's death in words of its own
  // ("exit -25") and fails with its own exit code. The file the child wrote is the evidence.
  SandboxCommand c = Shell(
      "python3 -c 'import subprocess, sys; "
      "r = subprocess.run([\"sh\", \"-c\", \"head -c 2097152 /dev/zero > /out/gen/big.bin\"]); "
      "print(\"build script failed:\", r.returncode); sys.exit(101)'");
  std::filesystem::create_directories(dir_ + "/out/gen");
  Prepare();
  c.mounts = {{dir_ + "/out", "/out", true}};
  c.limits.file_bytes = 1 << 20;
  SandboxResult r = RunOk(c);
  EXPECT_EQ(r.exit_code, 101) << r.log_tail;
  EXPECT_EQ(r.outcome, Outcome::kFileTooLarge) << r.log_tail;
  EXPECT_THAT(r.log_tail, HasSubstr("tempa: a build process tried to write a file larger than "
                                    "1048576 bytes (/out/gen/big.bin)"));
}

TEST_F(SandboxLimitsTest, AnOldFileOfTheLimitsSizeDoesNotMakeAFailureFileTooLarge) {
  // A cache holding a file of exactly the limit from an earlier build: this build's failure is
  // its own (a compile error), not the file limit.
  std::filesystem::create_directories(dir_ + "/out");
  {
    std::ofstream old(dir_ + "/out/old.rlib");
    old << std::string(1 << 20, 'x');
  }
  struct timespec an_hour_ago[2] = {{::time(nullptr) - 3600, 0}, {::time(nullptr) - 3600, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir_ + "/out/old.rlib").c_str(), an_hour_ago, 0), 0);
  Prepare();
  SandboxCommand c = Shell("echo 'error[E0308]: mismatched types'; exit 101");
  c.mounts = {{dir_ + "/out", "/out", true}};
  c.limits.file_bytes = 1 << 20;
  SandboxResult r = RunOk(c);
  EXPECT_EQ(r.outcome, Outcome::kExited) << r.log_tail;
  EXPECT_EQ(r.exit_code, 101);
}

TEST_F(SandboxLimitsTest, GroupsACrashedWorkerLeftAreSweptByTheNextOne) {
  if (!HaveCgroups()) GTEST_SKIP() << "needs writable cgroups";
  CgroupParents parents = DetectCgroupParents();
  pid_t dead = ::fork();  // a pid that existed and is gone, like a crashed worker's
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ::waitpid(dead, nullptr, 0);
  std::string abandoned = absl::StrCat("tempa-sandbox-", dead, "-0");
  std::string ours = absl::StrCat("tempa-sandbox-", ::getpid(), "-999999");
  for (const std::string& parent : {parents.pids, parents.memory}) {
    if (parent.empty()) continue;
    ASSERT_EQ(::mkdir((parent + "/" + abandoned).c_str(), 0755), 0) << parent;
    ASSERT_EQ(::mkdir((parent + "/" + ours).c_str(), 0755), 0) << parent;
  }
  BubblewrapSandbox next;  // what a restarted worker builds first
  for (const std::string& parent : {parents.pids, parents.memory}) {
    if (parent.empty()) continue;
    EXPECT_FALSE(std::filesystem::exists(parent + "/" + abandoned)) << parent;
    EXPECT_TRUE(std::filesystem::exists(parent + "/" + ours)) << parent;  // a live owner's
    ::rmdir((parent + "/" + ours).c_str());
  }
}

TEST_F(SandboxLimitsTest, CpuTimeLimitStopsABusyBuild) {
  if (!HaveCgroups()) GTEST_SKIP() << "needs a writable cpuacct cgroup";
  BubblewrapSandboxOptions options;
  options.cpu_time = absl::Seconds(1);
  BubblewrapSandbox sandbox(options);
  SandboxCommand c = Shell("while :; do :; done");
  c.limits.wall_time = absl::Seconds(30);
  SandboxResult r = RunOk(sandbox, c);
  EXPECT_EQ(r.outcome, Outcome::kTimedOut);
  // The CPU-time monitor's note, which a wall-time kill would not add.
  EXPECT_THAT(r.log_tail, HasSubstr("of CPU time"));
}

TEST_F(SandboxLimitsTest, BackgroundProcessesDoNotOutliveTheRun) {
  if (!HaveCgroups()) GTEST_SKIP() << "needs writable cgroups";
  // setsid + closed output: the daemonised sleeper is still killed with the run.
  SandboxResult r = RunOk(Shell("setsid sh -c 'sleep 300' >/dev/null 2>&1 & echo started"));
  EXPECT_TRUE(r.ok()) << r.log_tail;
  CgroupParents parents = DetectCgroupParents();
  EXPECT_THAT(LeftoverGroups(parents.pids), ::testing::IsEmpty());
  EXPECT_THAT(LeftoverGroups(parents.memory), ::testing::IsEmpty());
  EXPECT_THAT(LeftoverGroups(parents.cpuacct), ::testing::IsEmpty());
}

TEST_F(SandboxLimitsTest, CgroupCountsAndLimitsTasks) {
  CgroupParents parents = DetectCgroupParents();
  if (parents.pids.empty()) GTEST_SKIP() << "needs a writable pids cgroup";
  CgroupLimits limits;
  limits.max_tasks = 5;
  auto group =
      CgroupV1BuildCgroup::Create(CgroupParents{"", parents.pids, ""}, "tempa-unit-test", limits);
  ASSERT_TRUE(group.ok()) << group.status();
  EXPECT_TRUE((*group)->limits_tasks());
  EXPECT_FALSE((*group)->limits_memory());
  EXPECT_EQ((*group)->Usage().task_limit_hits, 0u);
  group->reset();
  EXPECT_FALSE(std::filesystem::exists(parents.pids + "/tempa-unit-test"));
}

}  // namespace
}  // namespace tempa
