// RuncContainerRuntime against the real runc, as root: the containers a deploy starts run
// unprivileged inside their limits, die and come back, stop on request and survive a deployer
// restart. Skipped (with the reason) where runc is missing or the test is not root.
#include "deploy/runtime/runc_container_runtime.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

bool HaveRunc() {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"}) {
    if (access(absl::StrCat(dir, "/runc").c_str(), X_OK) == 0) return true;
  }
  return false;
}

// One GET to 127.0.0.1:port; the body, or "" when nothing answered.
std::string HttpGet(int port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const char request[] = "GET / HTTP/1.0\r\n\r\n";
    if (write(s, request, sizeof request - 1) > 0) {
      char buf[1024];
      ssize_t n;
      while ((n = read(s, buf, sizeof buf)) > 0) response.append(buf, static_cast<size_t>(n));
    }
  }
  close(s);
  size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Polls `done` until it holds or 60 s pass (a bound for a broken build, not a timing claim).
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 6000; ++i) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

class RuncContainerRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "runc containers need root; run the test as root";
    if (!HaveRunc()) GTEST_SKIP() << "runc is not installed (apt-get install runc)";
    fs::create_directories(rootfs_ + "/etc");
    for (const char* d : {"proc", "dev", "sys", "tmp"}) fs::create_directory(rootfs_ + "/" + d);
    fs::copy_file(RUNTIME_TEST_APP, rootfs_ + "/app");
    chmod((rootfs_ + "/app").c_str(), 0755);
    chmod(rootfs_.c_str(), 0755);
    options_.work_dir = dir_.Join("work");
    options_.initial_backoff = absl::Milliseconds(50);
    options_.max_backoff = absl::Milliseconds(200);
    options_.poll_interval = absl::Milliseconds(20);
    options_.on_restart_scheduled = [this](const std::string& id, absl::Duration delay) {
      absl::MutexLock lock(&delays_mu_);
      delays_.push_back({id, delay});
    };
  }

  void TearDown() override {
    if (runtime_ == nullptr) return;
    for (const std::string& id : runtime_->List()) (void)runtime_->Stop(id, absl::ZeroDuration());
    runtime_.reset();
  }

  void MakeRuntime() {
    absl::StatusOr<std::unique_ptr<RuncContainerRuntime>> runtime =
        RuncContainerRuntime::Create(options_);
    ASSERT_TRUE(runtime.ok()) << runtime.status();
    runtime_ = std::move(*runtime);
  }

  // Unique per test process: several engineers run these tests at once on one machine.
  ContainerSpec Spec(const std::string& name, std::vector<std::string> args) {
    ContainerSpec spec;
    spec.id = absl::StrCat("tempa-test-", getpid(), "-", name);
    spec.rootfs = rootfs_;
    spec.state_dir = dir_.Join("state-" + name);
    spec.args = std::move(args);
    spec.port = testing::PickFreePort();
    spec.env = {absl::StrCat("PORT=", spec.port)};
    spec.memory_bytes = 64ll << 20;
    spec.pids_max = 32;
    return spec;
  }

  ContainerStatus StatusOf(const std::string& id) {
    absl::StatusOr<ContainerStatus> status = runtime_->Status(id);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? *status : ContainerStatus{};
  }

  std::vector<absl::Duration> DelaysOf(const std::string& id) {
    absl::MutexLock lock(&delays_mu_);
    std::vector<absl::Duration> out;
    for (const auto& [who, delay] : delays_) {
      if (who == id) out.push_back(delay);
    }
    return out;
  }

  testing::TempDir dir_;
  std::string rootfs_ = dir_.Join("rootfs");
  RuncRuntimeOptions options_;
  std::unique_ptr<RuncContainerRuntime> runtime_;
  absl::Mutex delays_mu_;
  std::vector<std::pair<std::string, absl::Duration>> delays_ ABSL_GUARDED_BY(delays_mu_);
};

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

TEST_F(RuncContainerRuntimeTest, ExitingProcessIsRestartedWithDoublingBackoff) {
  MakeRuntime();
  ContainerSpec spec = Spec("exit", {"/app", "exit", "7", "10"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] { return DelaysOf(spec.id).size() >= 4; }));
  std::vector<absl::Duration> delays = DelaysOf(spec.id);
  EXPECT_EQ(delays[0], absl::Milliseconds(50));
  EXPECT_EQ(delays[1], absl::Milliseconds(100));
  EXPECT_EQ(delays[2], absl::Milliseconds(200));
  EXPECT_EQ(delays[3], absl::Milliseconds(200));  // capped at max_backoff
  ContainerStatus status = StatusOf(spec.id);
  EXPECT_GE(status.restarts, 3);
  EXPECT_EQ(status.last_exit_code, 7);
  EXPECT_EQ(status.last_exit_reason, "exited with 7");
  EXPECT_EQ(status.oom_kills, 0);
}

TEST_F(RuncContainerRuntimeTest, BackoffStartsOverAfterALongEnoughRun) {
  options_.reset_backoff_after = absl::ZeroDuration();  // every run counts as long
  MakeRuntime();
  ContainerSpec spec = Spec("reset", {"/app", "exit", "1", "10"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] { return DelaysOf(spec.id).size() >= 3; }));
  for (absl::Duration d : DelaysOf(spec.id)) EXPECT_EQ(d, absl::Milliseconds(50));
}

TEST_F(RuncContainerRuntimeTest, StopEndsTheProcessGracefullyWithSigterm) {
  MakeRuntime();
  ContainerSpec spec = Spec("graceful", {"/app", "sleep"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] { return runtime_->LogTail(spec.id, 5) == "sleeping\n"; }));
  ASSERT_TRUE(runtime_->Stop(spec.id, absl::Seconds(30)).ok());
  EXPECT_THAT(ReadFile(spec.state_dir + "/log"), HasSubstr("got SIGTERM"));
  EXPECT_EQ(runtime_->Status(spec.id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(runtime_->List(), ::testing::Not(::testing::Contains(spec.id)));
}

TEST_F(RuncContainerRuntimeTest, StopKillsAProcessThatIgnoresSigtermAfterTheGrace) {
  MakeRuntime();
  ContainerSpec spec = Spec("stubborn", {"/app", "ignoreterm"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] { return runtime_->LogTail(spec.id, 5) == "ignoring SIGTERM\n"; }));
  pid_t pid = std::stoi(ReadFile(spec.state_dir + "/pid"));
  ASSERT_TRUE(runtime_->Stop(spec.id, absl::Milliseconds(200)).ok());
  EXPECT_NE(kill(pid, 0), 0);
  EXPECT_EQ(runtime_->Status(spec.id).status().code(), absl::StatusCode::kNotFound);
  // runc no longer knows it.
  EXPECT_FALSE(fs::exists(options_.work_dir + "/runc/" + spec.id));
  EXPECT_TRUE(runtime_->Start(spec).ok());  // the id is free again
}

TEST_F(RuncContainerRuntimeTest, LogTailReturnsTheLastLinesTheProcessPrinted) {
  MakeRuntime();
  ContainerSpec spec = Spec("printer", {"/app", "print", "500"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] {
    return runtime_->LogTail(spec.id, 3) == "line 498\nline 499\nline 500\n";
  })) << runtime_->LogTail(spec.id, 3);
  EXPECT_EQ(runtime_->LogTail("no-such-container", 3), "");
}

TEST_F(RuncContainerRuntimeTest, ANewRuntimeAdoptsARunningContainerAndSupervisesIt) {
  MakeRuntime();
  ContainerSpec spec = Spec("adopted", {"/app", "serve"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] { return !HttpGet(spec.port).empty(); }));
  runtime_.reset();  // the deployer goes away; the container keeps serving
  EXPECT_FALSE(HttpGet(spec.port).empty());

  MakeRuntime();
  EXPECT_THAT(runtime_->List(), ::testing::ElementsAre(spec.id));
  EXPECT_TRUE(StatusOf(spec.id).running);
  EXPECT_EQ(StatusOf(spec.id).restarts, 0);
  // It is supervised again: killed, it comes back.
  std::string pid_text = ReadFile(spec.state_dir + "/pid");
  ASSERT_EQ(kill(std::stoi(pid_text), SIGKILL), 0);
  ASSERT_TRUE(Eventually([&] { return StatusOf(spec.id).restarts >= 1; }));
  ASSERT_TRUE(Eventually([&] { return !HttpGet(spec.port).empty(); }));
  EXPECT_EQ(StatusOf(spec.id).last_exit_reason, "killed by signal 9");
}

TEST_F(RuncContainerRuntimeTest, ContainerThatDiedWhileNoDeployerWatchedIsRestartedOnAdoption) {
  MakeRuntime();
  ContainerSpec spec = Spec("orphan", {"/app", "serve"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(Eventually([&] { return !HttpGet(spec.port).empty(); }));
  runtime_.reset();
  ASSERT_EQ(kill(std::stoi(ReadFile(spec.state_dir + "/pid")), SIGKILL), 0);
  ASSERT_TRUE(Eventually([&] { return HttpGet(spec.port).empty(); }));

  MakeRuntime();
  EXPECT_THAT(runtime_->List(), ::testing::ElementsAre(spec.id));
  ASSERT_TRUE(Eventually([&] { return StatusOf(spec.id).restarts == 1; }));
  ASSERT_TRUE(Eventually([&] { return !HttpGet(spec.port).empty(); }));
}

TEST_F(RuncContainerRuntimeTest, ABrokenRecordIsReportedAndTheOthersAreStillAdopted) {
  MakeRuntime();
  ContainerSpec spec = Spec("survivor", {"/app", "serve"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  runtime_.reset();
  testing::WriteFileOrDie(options_.work_dir + "/containers/broken.json", "{not json");

  MakeRuntime();
  EXPECT_THAT(runtime_->List(), ::testing::ElementsAre(spec.id));
  ASSERT_EQ(runtime_->adoption_problems().size(), 1u);
  EXPECT_THAT(runtime_->adoption_problems()[0].message(), HasSubstr("broken.json"));
  ASSERT_TRUE(Eventually([&] { return !HttpGet(spec.port).empty(); }));
}

TEST_F(RuncContainerRuntimeTest, StartRefusesRootAndATakenId) {
  MakeRuntime();
  ContainerSpec spec = Spec("refused", {"/app", "sleep"});
  spec.uid = 0;
  EXPECT_EQ(runtime_->Start(spec).code(), absl::StatusCode::kInvalidArgument);
  spec.uid = 65534;
  ASSERT_TRUE(runtime_->Start(spec).ok());
  EXPECT_EQ(runtime_->Start(spec).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(runtime_->Stop("no-such-container", absl::ZeroDuration()).code(),
            absl::StatusCode::kNotFound);
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

TEST_F(RuncContainerRuntimeTest, LogIsKeptBoundedWhileTheContainerRuns) {
  options_.log_max_bytes = 2048;
  options_.log_keep_bytes = 512;
  MakeRuntime();
  ContainerSpec spec = Spec("chatty", {"/app", "print", "1000"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  // All 1000 lines (about 9 KiB) were printed, and the file was cut below its bound.
  ASSERT_TRUE(Eventually([&] {
    return runtime_->LogTail(spec.id, 1) == "line 1000\n" &&
           fs::file_size(spec.state_dir + "/log") <= 2048;
  })) << runtime_->LogTail(spec.id, 3);
  EXPECT_THAT(runtime_->LogTail(spec.id, 1000), HasSubstr("[log truncated by tempa]"));
}

TEST_F(RuncContainerRuntimeTest, StartOfAMissingProgramFailsWithRuncsReason) {
  MakeRuntime();
  ContainerSpec spec = Spec("missing", {"/no-such-program"});
  absl::Status started = runtime_->Start(spec);
  EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(started.message(), HasSubstr("no-such-program"));
  EXPECT_THAT(runtime_->List(), ::testing::IsEmpty());
}

TEST_F(RuncContainerRuntimeTest, UnderTheInitAnAppWithoutHandlersStopsOnSigterm) {
  options_.init_binary = TEMPA_CONTAINER_INIT;
  MakeRuntime();
  ContainerSpec spec = Spec("init-term", {"/app", "nohandler"});
  ASSERT_TRUE(runtime_->Start(spec).ok());
  ASSERT_TRUE(
      Eventually([&] { return runtime_->LogTail(spec.id, 1) == "sleeping without handlers\n"; }));
  ASSERT_TRUE(runtime_->Stop(spec.id, absl::Seconds(60)).ok());
  // SIGTERM reached the app (not SIGKILL after the grace).
  EXPECT_THAT(ReadFile(spec.state_dir + "/log"), HasSubstr("ended by signal 15"));
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
}  // namespace tempa::deploy
