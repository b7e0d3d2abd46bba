// The cgroup v2 backend's limit-file logic against a fake cgroupfs tree in a temp dir (this
// machine's unified hierarchy has no controllers): delegation below the worker's own group, the
// limit files a build group gets, and how memory.events, pids.events, cpu.stat and
// cgroup.events are read, also through a real BubblewrapSandbox run.
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox/sandbox_fixture.h"
#include "worker/sandbox/cgroup_v2_build_cgroup.h"

namespace tempa {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Outcome = SandboxResult::Outcome;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A cgroupfs as the kernel lays it out: making a group fills it with interface files, and its
// cgroup.controllers are what its parent's cgroup.subtree_control enabled.
class FakeCgroupFs {
 public:
  explicit FakeCgroupFs(std::string root) : root_(std::move(root)) {}

  // The files of a group, `controllers` available to it.
  void Populate(const std::string& dir, const std::string& controllers) {
    fs::create_directories(dir);
    Write(dir + "/cgroup.controllers", controllers + "\n");
    Write(dir + "/cgroup.subtree_control", "");
    Write(dir + "/cgroup.procs", "");
    Write(dir + "/cgroup.events", "populated 0\nfrozen 0\n");
    if (dir != root_) {  // as in the kernel, the real root has neither
      Write(dir + "/cgroup.kill", "");
      Write(dir + "/cgroup.type", "domain\n");
    }
    Write(dir + "/cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
    for (absl::string_view c : absl::StrSplit(controllers, ' ', absl::SkipEmpty())) {
      if (c == "memory") {
        Write(dir + "/memory.max", "max\n");
        Write(dir + "/memory.swap.max", "max\n");
        Write(dir + "/memory.events", memory_events_);
        Write(dir + "/memory.peak", "0\n");
      } else if (c == "pids") {
        Write(dir + "/pids.max", "max\n");
        Write(dir + "/pids.events", pids_events_);
      } else if (c == "cpu") {
        Write(dir + "/cpu.max", "max 100000\n");
      }
    }
  }

  MakeCgroupDir Maker() {
    return [this](const std::string& dir) -> absl::Status {
      if (fs::exists(dir)) return absl::AlreadyExistsError(dir);
      std::string enabled = Read(fs::path(dir).parent_path().string() + "/cgroup.subtree_control");
      std::vector<std::string> controllers;
      for (absl::string_view w :
           absl::StrSplit(enabled, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
        if (w[0] == '+') w.remove_prefix(1);
        controllers.emplace_back(w);
      }
      Populate(dir, absl::StrJoin(controllers, " "));
      made_.push_back(dir);
      return absl::OkStatus();
    };
  }

  std::string root_;
  std::vector<std::string> made_;
  std::string memory_events_ = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n";
  std::string pids_events_ = "max 0\n";
};

class CgroupV2FakeTest : public SandboxFixture {
 protected:
  void SetUp() override {
    SandboxFixture::SetUp();
    fake_ = std::make_unique<FakeCgroupFs>(dir_ + "/cgroup");
    // A pure v2 host: the hierarchy at the root, the worker in /system.slice/tempa.service
    // with memory, pids and cpu delegated to it but not yet enabled below it.
    fake_->Populate(fake_->root_, "cpuset cpu io memory hugetlb pids rdma misc");
    own_ = fake_->root_ + "/system.slice/tempa.service";
    fake_->Populate(own_, "cpu memory pids");
    Write(own_ + "/cgroup.procs", "4242\n4243\n");
    Write(dir_ + "/self-cgroup", "0::/system.slice/tempa.service\n");
  }

  std::unique_ptr<FakeCgroupFs> fake_;
  std::string own_;
};

TEST_F(CgroupV2FakeTest, DelegationMovesTheWorkerIntoALeafAndEnablesTheControllers) {
  absl::StatusOr<std::string> parent =
      DelegateCgroupV2(fake_->root_, "/system.slice/tempa.service", fake_->Maker());
  ASSERT_TRUE(parent.ok()) << parent.status();
  EXPECT_EQ(*parent, own_);
  // Both processes of the worker's group, one write each.
  EXPECT_EQ(Read(own_ + "/tempa-worker/cgroup.procs"), "42424243");
  EXPECT_EQ(Read(own_ + "/cgroup.subtree_control"), "+memory +pids +cpu");
}

TEST_F(CgroupV2FakeTest, AWorkerAlreadyInItsLeafDelegatesTheSameGroupAgain) {
  // Every sandbox detects at start-up; after the first, /proc/self/cgroup names the leaf.
  ASSERT_TRUE(DelegateCgroupV2(fake_->root_, "/system.slice/tempa.service", fake_->Maker()).ok());
  Write(own_ + "/cgroup.procs", "");
  Write(own_ + "/tempa-worker/cgroup.procs", "4242\n4243\n");
  absl::StatusOr<std::string> again =
      DelegateCgroupV2(fake_->root_, "/system.slice/tempa.service/tempa-worker", fake_->Maker());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, own_);
  EXPECT_FALSE(fs::exists(own_ + "/tempa-worker/tempa-worker"));
  EXPECT_EQ(Read(own_ + "/tempa-worker/cgroup.subtree_control"), "");
}

TEST_F(CgroupV2FakeTest, TheRootGroupIsDelegatedWithoutMovingAnyone) {
  Write(fake_->root_ + "/cgroup.procs", "1\n4242\n");
  absl::StatusOr<std::string> parent = DelegateCgroupV2(fake_->root_, "/", fake_->Maker());
  ASSERT_TRUE(parent.ok()) << parent.status();
  EXPECT_EQ(*parent, fake_->root_);
  EXPECT_FALSE(fs::exists(fake_->root_ + "/tempa-worker"));
  EXPECT_EQ(Read(fake_->root_ + "/cgroup.subtree_control"), "+memory +pids +cpu");
}

TEST_F(CgroupV2FakeTest, AContainersNamespaceRootIsNotTheRealRoot) {
  // In a container with its own cgroup namespace the worker reads "0::/", yet the group it
  // sees as the root is an ordinary one (it has a cgroup.type) and may not hold processes once
  // controllers are enabled below it.
  Write(fake_->root_ + "/cgroup.type", "domain\n");
  Write(fake_->root_ + "/cgroup.procs", "1\n4242\n");
  absl::StatusOr<std::string> parent = DelegateCgroupV2(fake_->root_, "/", fake_->Maker());
  ASSERT_TRUE(parent.ok()) << parent.status();
  EXPECT_EQ(Read(fake_->root_ + "/tempa-worker/cgroup.procs"), "14242");
  EXPECT_EQ(Read(fake_->root_ + "/cgroup.subtree_control"), "+memory +pids +cpu");
}

TEST_F(CgroupV2FakeTest, AGroupWithoutTheMemoryControllerIsNotDelegated) {
  Write(own_ + "/cgroup.controllers", "cpu pids\n");
  absl::StatusOr<std::string> parent =
      DelegateCgroupV2(fake_->root_, "/system.slice/tempa.service", fake_->Maker());
  ASSERT_FALSE(parent.ok());
  EXPECT_EQ(parent.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(parent.status().message(), HasSubstr("no memory controller"));
  EXPECT_THAT(parent.status().message(), HasSubstr(own_ + "/cgroup.controllers"));
  EXPECT_EQ(Read(own_ + "/cgroup.subtree_control"), "");  // nothing changed
}

TEST_F(CgroupV2FakeTest, DetectionPicksV2WhenTheControllersAreDelegated) {
  CgroupDetectOptions options;
  options.root = fake_->root_;
  options.proc_self_cgroup = dir_ + "/self-cgroup";
  options.make_dir = fake_->Maker();
  std::unique_ptr<CgroupBackend> backend = DetectCgroupBackend(options);
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->Describe(), "cgroup v2 under " + own_);

  // Without the controllers, and without any v1 hierarchy: rlimits.
  Write(own_ + "/cgroup.subtree_control", "");
  Write(own_ + "/cgroup.controllers", "cpu\n");
  EXPECT_EQ(DetectCgroupBackend(options), nullptr);
}

TEST_F(CgroupV2FakeTest, ABuildGroupGetsItsLimitFiles) {
  ASSERT_TRUE(DelegateCgroupV2(fake_->root_, "/system.slice/tempa.service", fake_->Maker()).ok());
  CgroupLimits limits;
  limits.memory_bytes = 128ull << 20;
  limits.max_tasks = 66;
  limits.cpu_cores = 1.5;
  auto group = CgroupV2BuildCgroup::Create(own_, "tempa-sandbox-1-0", limits, fake_->Maker());
  ASSERT_TRUE(group.ok()) << group.status();
  const std::string dir = own_ + "/tempa-sandbox-1-0";
  EXPECT_EQ((*group)->path(), dir);
  EXPECT_EQ(Read(dir + "/memory.max"), "134217728");
  EXPECT_EQ(Read(dir + "/memory.swap.max"), "0");  // no paging out past the limit
  EXPECT_EQ(Read(dir + "/pids.max"), "66");
  EXPECT_EQ(Read(dir + "/cpu.max"), "150000 100000");
  EXPECT_TRUE((*group)->limits_memory());
  EXPECT_TRUE((*group)->limits_tasks());
  ASSERT_EQ((*group)->procs_fds().size(), 1u);

  // Unset limits leave the kernel's "max".
  auto open =
      CgroupV2BuildCgroup::Create(own_, "tempa-sandbox-1-1", CgroupLimits{}, fake_->Maker());
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_EQ(Read(own_ + "/tempa-sandbox-1-1/memory.max"), "max\n");
  EXPECT_EQ(Read(own_ + "/tempa-sandbox-1-1/cpu.max"), "max 100000\n");
}

TEST_F(CgroupV2FakeTest, AGroupWithoutControllersLeavesItsLimitsToTheCaller) {
  // Nothing enabled in the parent's subtree_control: the group has no memory.max to write.
  CgroupLimits limits;
  limits.memory_bytes = 128ull << 20;
  limits.max_tasks = 66;
  auto group = CgroupV2BuildCgroup::Create(own_, "tempa-sandbox-1-0", limits, fake_->Maker());
  ASSERT_TRUE(group.ok()) << group.status();
  EXPECT_FALSE((*group)->limits_memory());  // the sandbox falls back to RLIMIT_AS
  EXPECT_FALSE((*group)->limits_tasks());   // and RLIMIT_NPROC
  EXPECT_FALSE(fs::exists(own_ + "/tempa-sandbox-1-0/memory.max"));
}

TEST_F(CgroupV2FakeTest, TheKernelsCountersAreReadAsUsage) {
  ASSERT_TRUE(DelegateCgroupV2(fake_->root_, "/system.slice/tempa.service", fake_->Maker()).ok());
  auto group = CgroupV2BuildCgroup::Create(own_, "b", CgroupLimits{}, fake_->Maker());
  ASSERT_TRUE(group.ok()) << group.status();
  const std::string dir = own_ + "/b";
  CgroupUsage none = (*group)->Usage();
  EXPECT_FALSE(none.oom_killed);
  EXPECT_EQ(none.task_limit_hits, 0u);

  Write(dir + "/memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n");
  Write(dir + "/pids.events", "max 7\n");
  Write(dir + "/cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n");
  Write(dir + "/memory.peak", "104857600\n");
  CgroupUsage usage = (*group)->Usage();
  EXPECT_TRUE(usage.oom_killed);
  EXPECT_EQ(usage.task_limit_hits, 7u);
  EXPECT_EQ(usage.cpu_time, absl::Milliseconds(2500));
  EXPECT_EQ((*group)->CpuTime(), absl::Milliseconds(2500));
  EXPECT_EQ(usage.peak_memory_bytes, 100u << 20);
}

TEST_F(CgroupV2FakeTest, KillWritesCgroupKillAndWaitsForPopulatedZero) {
  auto group = CgroupV2BuildCgroup::Create(own_, "b", CgroupLimits{}, fake_->Maker());
  ASSERT_TRUE(group.ok()) << group.status();
  const std::string dir = own_ + "/b";
  Write(dir + "/cgroup.events", "populated 1\nfrozen 0\n");
  EXPECT_TRUE((*group)->Populated());
  EXPECT_FALSE((*group)->KillAll(absl::Milliseconds(50)));  // the fake never empties
  EXPECT_EQ(Read(dir + "/cgroup.kill"), "1");
  Write(dir + "/cgroup.events", "populated 0\nfrozen 0\n");
  EXPECT_FALSE((*group)->Populated());
  EXPECT_TRUE((*group)->KillAll(absl::Seconds(1)));
}

// The sandbox does not care which backend made its group: the same kernel counters give the
// same failure kinds. (The fake's cgroup.procs is a plain file, so the build really runs; the
// counters are what the kernel would have written.)
TEST_F(CgroupV2FakeTest, TheSandboxReportsAV2OomKillAsOutOfMemory) {
  ASSERT_TRUE(DelegateCgroupV2(fake_->root_, "/system.slice/tempa.service", fake_->Maker()).ok());
  fake_->memory_events_ = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n";
  BubblewrapSandboxOptions options;
  options.cgroup_backend = std::make_shared<CgroupV2Backend>(own_, fake_->Maker());
  BubblewrapSandbox sandbox(options);
  SandboxCommand c = Shell("exit 137");
  c.limits.memory_bytes = 256ull << 20;
  SandboxResult r = RunOk(sandbox, c);
  EXPECT_EQ(r.outcome, Outcome::kOutOfMemory) << r.log_tail;
  ASSERT_EQ(fake_->made_.size(), 2u);  // the worker's leaf, the build's group
  EXPECT_EQ(Read(fake_->made_[1] + "/memory.max"), absl::StrCat(256ull << 20));
  EXPECT_EQ(Read(fake_->made_[1] + "/cgroup.procs"), "0");  // the child joined it
}

TEST_F(CgroupV2FakeTest, TheSandboxReportsV2RefusedForksAsTheProcessLimit) {
  ASSERT_TRUE(DelegateCgroupV2(fake_->root_, "/system.slice/tempa.service", fake_->Maker()).ok());
  fake_->pids_events_ = "max 5\n";
  BubblewrapSandboxOptions options;
  options.cgroup_backend = std::make_shared<CgroupV2Backend>(own_, fake_->Maker());
  BubblewrapSandbox sandbox(options);
  SandboxCommand c = Shell("exit 2");
  c.limits.max_processes = 64;
  SandboxResult r = RunOk(sandbox, c);
  EXPECT_EQ(r.outcome, Outcome::kProcessLimit) << r.log_tail;
  EXPECT_THAT(r.log_tail, HasSubstr("tempa: the build hit the process limit (64 processes"));
  ASSERT_EQ(fake_->made_.size(), 2u);
  EXPECT_EQ(Read(fake_->made_[1] + "/pids.max"), "66");  // + bwrap's two
}

}  // namespace
}  // namespace tempa
