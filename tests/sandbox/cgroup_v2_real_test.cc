// The cgroup v2 backend on this machine's real unified hierarchy, for what it can do without
// controllers: creating a group, moving processes into it, cgroup.kill killing a forking
// process tree, cgroup.events "populated" going to 0, CPU time from cpu.stat, removal, and the
// sweep of groups a crashed worker left. Skipped only where no cgroup2 file system is mounted.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox/sandbox_fixture.h"
#include "worker/sandbox/cgroup_v2_build_cgroup.h"

namespace tempa {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Outcome = SandboxResult::Outcome;

// The unified hierarchy: /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a hybrid
// one; "" when neither is mounted.
std::string UnifiedMount() {
  for (const char* dir : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    if (fs::exists(absl::StrCat(dir, "/cgroup.controllers"))) return dir;
  }
  return "";
}

// How many processes cgroup.procs of `dir` lists.
int ProcsIn(const std::string& dir) {
  std::ifstream in(dir + "/cgroup.procs");
  int n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

// A child that joins the group through `procs_fd` and then runs `script` (which may fork).
pid_t StartInGroup(int procs_fd, const char* script) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::write(procs_fd, "0", 1) != 1) ::_exit(126);
    ::execl("/bin/sh", "sh", "-c", script, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

class CgroupV2RealTest : public SandboxFixture {
 protected:
  void SetUp() override {
    SandboxFixture::SetUp();
    mount_ = UnifiedMount();
    if (mount_.empty()) GTEST_SKIP() << "no cgroup2 file system is mounted";
    if (::access(mount_.c_str(), W_OK) != 0) GTEST_SKIP() << mount_ << " is not writable";
  }
  std::string Name(const std::string& what) {
    return absl::StrCat("tempa-test-", ::getpid(), "-", what);
  }
  std::string mount_;
};

TEST_F(CgroupV2RealTest, CgroupKillStopsAForkingTreeAndTheGroupEmpties) {
  auto group = CgroupV2BuildCgroup::Create(mount_, Name("kill"), CgroupLimits{});
  ASSERT_TRUE(group.ok()) << group.status();
  const std::string dir = (*group)->path();
  ASSERT_TRUE(fs::is_directory(dir));
  // Keeps forking, and leaves a daemonised grandchild that no longer has it as parent.
  pid_t tree = StartInGroup((*group)->procs_fds()[0],
                            "setsid sh -c 'sleep 300' & "
                            "while :; do sleep 300 & sleep 0.01; done");
  ASSERT_GT(tree, 0);
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (ProcsIn(dir) < 3 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE((*group)->Populated());

  EXPECT_TRUE((*group)->KillAll(absl::Seconds(10)));
  EXPECT_FALSE((*group)->Populated());
  int status = 0;
  ASSERT_EQ(::waitpid(tree, &status, 0), tree);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;

  group->reset();
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(CgroupV2RealTest, CpuTimeIsReadFromCpuStat) {
  auto group = CgroupV2BuildCgroup::Create(mount_, Name("cpu"), CgroupLimits{});
  ASSERT_TRUE(group.ok()) << group.status();
  EXPECT_TRUE((*group)->counts_cpu());
  pid_t busy = StartInGroup((*group)->procs_fds()[0], "while :; do :; done");
  ASSERT_GT(busy, 0);
  absl::Time give_up = absl::Now() + absl::Seconds(30);
  while ((*group)->CpuTime() < absl::Milliseconds(200) && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE((*group)->CpuTime(), absl::Milliseconds(200));
  EXPECT_TRUE((*group)->KillAll(absl::Seconds(10)));
  ::waitpid(busy, nullptr, 0);
}

TEST_F(CgroupV2RealTest, AnAbandonedGroupIsSweptWithWhatIsInIt) {
  pid_t dead = ::fork();  // a pid that existed and is gone, like a crashed worker's
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ::waitpid(dead, nullptr, 0);
  const std::string abandoned = absl::StrCat(mount_, "/tempa-sandbox-", dead, "-0");
  const std::string ours = absl::StrCat(mount_, "/tempa-sandbox-", ::getpid(), "-999999");
  ASSERT_EQ(::mkdir(abandoned.c_str(), 0755), 0) << abandoned;
  ASSERT_EQ(::mkdir(ours.c_str(), 0755), 0) << ours;
  // A build process the crashed worker left running.
  int procs = ::open((abandoned + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(procs, 0);
  pid_t left = StartInGroup(procs, "exec sleep 300");
  ::close(procs);
  ASSERT_GT(left, 0);
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (ProcsIn(abandoned) < 1 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }

  CgroupV2Backend backend(mount_);
  EXPECT_GE(backend.SweepAbandoned("tempa-sandbox-"), 1);
  EXPECT_FALSE(fs::exists(abandoned));
  EXPECT_TRUE(fs::exists(ours));  // a live owner's
  int status = 0;
  ASSERT_EQ(::waitpid(left, &status, 0), left);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  ::rmdir(ours.c_str());
}

// The whole sandbox on a real v2 group: nothing outlives the run, and the CPU-time limit holds
// through cpu.stat.
TEST_F(CgroupV2RealTest, ASandboxOnAV2GroupLeavesNothingBehind) {
  BubblewrapSandboxOptions options;
  options.cgroup_backend = std::make_shared<CgroupV2Backend>(mount_);
  BubblewrapSandbox sandbox(options);
  SandboxResult r =
      RunOk(sandbox, Shell("setsid sh -c 'sleep 300' >/dev/null 2>&1 & echo started"));
  EXPECT_TRUE(r.ok()) << r.log_tail;
  const std::string prefix = absl::StrCat("tempa-sandbox-", ::getpid(), "-");
  for (const auto& entry : fs::directory_iterator(mount_)) {
    EXPECT_FALSE(absl::StartsWith(entry.path().filename().string(), prefix)) << entry.path();
  }
}

TEST_F(CgroupV2RealTest, TheCpuTimeLimitHoldsOnAV2Group) {
  BubblewrapSandboxOptions options;
  options.cgroup_backend = std::make_shared<CgroupV2Backend>(mount_);
  options.cpu_time = absl::Seconds(1);
  BubblewrapSandbox sandbox(options);
  SandboxCommand c = Shell("while :; do :; done");
  c.limits.wall_time = absl::Seconds(60);
  SandboxResult r = RunOk(sandbox, c);
  EXPECT_EQ(r.outcome, Outcome::kTimedOut);
  EXPECT_THAT(r.log_tail, HasSubstr("of CPU time"));  // the monitor's note, not the wall time
}

}  // namespace
}  // namespace tempa
