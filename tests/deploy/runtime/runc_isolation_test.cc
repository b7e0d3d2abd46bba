// RuncContainerRuntime against the real runc, as root: a container runs unprivileged inside
// its limits (user, read-only root, namespaces, memory, CPU, pids) and cannot touch Tempa's files.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/runtime/runc_fixture.h"

namespace tempa::deploy::runc_test {
namespace {

using ::testing::HasSubstr;

TEST_F(RuncContainerRuntimeTest, RunsAsNobodyOnAReadOnlyRootWithAWritableTmpAndItsPort) {
  MakeRuntime();
  ContainerSpec spec = Spec("serve", {"/app", "serve"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  std::string body;
  ASSERT_TRUE(Eventually([&] { return !(body = HttpGet(spec.port)).empty(); }))
      << runtime_->LogTail(spec.id, 20);
  EXPECT_EQ(body, "uid=65534 root_writable=0 tmp_writable=1\n");
  EXPECT_TRUE(StatusOf(spec.id).running);
  EXPECT_THAT(runtime_->List(), ::testing::Contains(spec.id));
}

TEST_F(RuncContainerRuntimeTest, ProcessIsPidOneOfItsOwnNamespaceWithoutCapabilities) {
  MakeRuntime();
  ContainerSpec spec = Spec("whoami", {"/app", "whoami"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually(
      [&] { return runtime_->LogTail(spec.id, 3).find("NoNewPrivs") != std::string::npos; }));
  std::string log = runtime_->LogTail(spec.id, 3);
  EXPECT_THAT(log, HasSubstr("pid=1 hostname=" + spec.id + "\n"));
  EXPECT_THAT(log, ::testing::ContainsRegex("CapEff:\\s+0000000000000000\n"));
  EXPECT_THAT(log, ::testing::ContainsRegex("NoNewPrivs:\\s+1\n"));
}

TEST_F(RuncContainerRuntimeTest, FilesTempaWritesAreRootsAlone) {
  MakeRuntime();
  ContainerSpec spec = Spec("private", {"/app", "reopenlog"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] { return runtime_->LogTail(spec.id, 1) == "waiting for SIGUSR1\n"; }));
  // The container writes its log only through the descriptor it was given.
  ASSERT_EQ(kill(std::stoi(ReadFile(spec.state_dir + "/pid")), SIGUSR1), 0);
  ASSERT_TRUE(Eventually([&] { return runtime_->LogTail(spec.id, 1) != "waiting for SIGUSR1\n"; }));
  EXPECT_EQ(runtime_->LogTail(spec.id, 1), "reopen denied\n");
  for (const std::string& path : {spec.state_dir, spec.state_dir + "/bundle", options_.work_dir,
                                  options_.work_dir + "/runc"}) {
    struct stat st;
    ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 07777, 0700u) << path;
  }
  for (const std::string& path : {spec.state_dir + "/bundle/config.json", spec.state_dir + "/log",
                                  spec.state_dir + "/pid", spec.state_dir + "/container.json"}) {
    struct stat st;
    ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 077, 0u) << path;
    EXPECT_EQ(st.st_uid, 0u) << path;
  }
}

TEST_F(RuncContainerRuntimeTest, MemoryHogIsKilledByItsLimitAndRestartedWhileOthersAnswer) {
  MakeRuntime();
  ContainerSpec server = Spec("neighbour", {"/app", "serve"});
  ContainerSpec hog = Spec("hog", {"/app", "hog"});
  hog.memory_bytes = 32ll << 20;
  ASSERT_TRUE(runtime_->Start(server).ok());
  ASSERT_TRUE(runtime_->Start(hog).ok());
  ASSERT_TRUE(Eventually([&] {
    ContainerStatus s = StatusOf(hog.id);
    return s.oom_kills >= 1 && s.restarts >= 1;
  })) << StatusOf(hog.id).last_exit_reason;
  ContainerStatus status = StatusOf(hog.id);
  EXPECT_EQ(status.last_exit_reason, "killed by the memory limit (32 MiB)");
  EXPECT_EQ(status.last_exit_code, 128 + SIGKILL);
  EXPECT_THAT(runtime_->LogTail(hog.id, 50), HasSubstr("allocated 16 MiB"));
  EXPECT_THAT(runtime_->LogTail(hog.id, 50), ::testing::Not(HasSubstr("allocated 48 MiB")));
  // The neighbour was never touched.
  std::string body;
  ASSERT_TRUE(Eventually([&] { return !(body = HttpGet(server.port)).empty(); }));
  EXPECT_THAT(body, HasSubstr("uid=65534"));
  EXPECT_EQ(StatusOf(server.id).restarts, 0);
  EXPECT_EQ(StatusOf(server.id).oom_kills, 0);
}

TEST_F(RuncContainerRuntimeTest, LimitsAreThoseOfTheSpecInTheContainersCgroup) {
  if (!fs::exists("/sys/fs/cgroup/memory")) GTEST_SKIP() << "checks cgroup v1 files";
  MakeRuntime();
  ContainerSpec spec = Spec("limits", {"/app", "sleep"});
  spec.memory_bytes = 48ll << 20;
  spec.cpu_millis = 250;
  spec.pids_max = 20;
  ASSERT_TRUE(runtime_->Start(spec).ok());
  std::string cgroup = "/tempa/" + spec.id;
  auto value = [&](const std::string& controller, const std::string& file) {
    return std::stoll(ReadFile("/sys/fs/cgroup/" + controller + cgroup + "/" + file));
  };
  EXPECT_EQ(value("memory", "memory.limit_in_bytes"), 48ll << 20);
  EXPECT_EQ(value("memory", "memory.memsw.limit_in_bytes"), 48ll << 20);
  EXPECT_EQ(value("cpu", "cpu.cfs_quota_us"), 25000);
  EXPECT_EQ(value("cpu", "cpu.cfs_period_us"), 100000);
  EXPECT_EQ(value("pids", "pids.max"), 20);
}

TEST_F(RuncContainerRuntimeTest, UnderTheInitTheMemoryLimitIsStillRecognisedAndPortReachesTheApp) {
  options_.init_binary = TEMPA_CONTAINER_INIT;
  MakeRuntime();
  ContainerSpec server = Spec("init-serve", {"/app", "serve"});
  ContainerSpec hog = Spec("init-hog", {"/app", "hog"});
  hog.memory_bytes = 32ll << 20;
  ASSERT_TRUE(runtime_->Start(server).ok());
  ASSERT_TRUE(runtime_->Start(hog).ok());
  ASSERT_TRUE(Eventually([&] {
    ContainerStatus s = StatusOf(hog.id);
    return s.oom_kills >= 1 && s.restarts >= 1;
  })) << StatusOf(hog.id).last_exit_reason;
  EXPECT_EQ(StatusOf(hog.id).last_exit_reason, "killed by the memory limit (32 MiB)");
  std::string body;
  ASSERT_TRUE(Eventually([&] { return !(body = HttpGet(server.port)).empty(); }));
  EXPECT_EQ(body, "uid=65534 root_writable=0 tmp_writable=1\n");
}

TEST_F(RuncContainerRuntimeTest, PidsLimitStopsAForkBombAndTheHostStillForks) {
  MakeRuntime();
  ContainerSpec spec = Spec("forkbomb", {"/app", "forkbomb"});
  spec.pids_max = 16;
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] {
    return runtime_->LogTail(spec.id, 50).find("fork failed after") != std::string::npos;
  })) << runtime_->LogTail(spec.id, 20);
  std::string log = runtime_->LogTail(spec.id, 50);
  size_t at = log.find("fork failed after ");
  int children = std::stoi(log.substr(at + 18));
  EXPECT_LT(children, 16);
  EXPECT_THAT(log, HasSubstr("Resource temporarily unavailable"));
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
}

}  // namespace
}  // namespace tempa::deploy::runc_test
