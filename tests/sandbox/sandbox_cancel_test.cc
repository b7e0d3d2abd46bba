// Cancelling a running command through its cancel token, against the real bwrap: the command and
// every process it started (backgrounded, in a new session, forking) are killed, with the
// machine's cgroups and with the rlimit fallback.
#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/cancel_token.h"
#include "common/sandbox/cancellable_sandbox.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace tempa {
namespace {

using Outcome = SandboxResult::Outcome;

// Processes on the host whose command line contains `marker`.
std::vector<pid_t> ProcessesWith(const std::string& marker) {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return found;
  while (dirent* e = ::readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0 || pid == ::getpid()) continue;
    std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"));
    std::stringstream text;
    text << in.rdbuf();
    std::string cmdline = text.str();
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (absl::StrContains(cmdline, marker)) found.push_back(pid);
  }
  ::closedir(proc);
  return found;
}

class SandboxCancelTest : public SandboxFixture {
 protected:
  // A build that never ends: sleepers in the background and in a new session, and a loop that
  // keeps forking. Each sleeper's argument names this test process, so survivors can be found.
  SandboxCommand Forever() {
    marker_ = absl::StrCat("86400.", ::getpid());
    SandboxCommand c = Shell(absl::StrCat("sleep ", marker_, " & setsid sh -c 'sleep ", marker_,
                                          "' & echo started; while true; do sleep ", marker_,
                                          " & sleep 0.05; done"));
    c.on_output = [this](absl::string_view line) {
      if (line == "started" && !started_.HasBeenNotified()) started_.Notify();
    };
    c.limits.max_processes = 4096;
    return c;
  }

  // Runs `command` on `sandbox` and cancels it from another thread once it printed "started".
  SandboxResult RunAndCancel(Sandbox& sandbox, SandboxCommand command) {
    command.cancel = &token_;
    std::thread canceller([this] {
      // Not a timing assertion: a guard so a build that never starts cannot hang the test.
      started_.WaitForNotificationWithTimeout(absl::Minutes(2));
      token_.Cancel();
    });
    absl::StatusOr<SandboxResult> result = sandbox.Run(command);
    canceller.join();
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : SandboxResult{};
  }

  std::string marker_;
  CancelToken token_;
  absl::Notification started_;
};

TEST_F(SandboxCancelTest, CancellingARunningBuildKillsEveryProcessOfIt) {
  SandboxResult r = RunAndCancel(sandbox_, Forever());
  EXPECT_TRUE(started_.HasBeenNotified());
  EXPECT_EQ(r.outcome, Outcome::kCancelled) << r.log_tail;
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.log_tail, ::testing::HasSubstr("tempa: the build was cancelled"));
  EXPECT_THAT(ProcessesWith(marker_), ::testing::IsEmpty());
}

TEST_F(SandboxCancelTest, CancellingWithoutCgroupsKillsEveryProcessOfIt) {
  BubblewrapSandboxOptions options;
  options.cgroup_parents = CgroupParents{};  // rlimits only: bwrap's group and PID namespace
  BubblewrapSandbox sandbox(options);
  SandboxResult r = RunAndCancel(sandbox, Forever());
  EXPECT_EQ(r.outcome, Outcome::kCancelled) << r.log_tail;
  EXPECT_THAT(ProcessesWith(marker_), ::testing::IsEmpty());
}

TEST_F(SandboxCancelTest, ACommandWhoseTokenIsAlreadySetIsStoppedAtOnce) {
  token_.Cancel();
  SandboxCommand c = Shell("sleep 86400");
  c.cancel = &token_;
  SandboxResult r = RunOk(c);
  EXPECT_EQ(r.outcome, Outcome::kCancelled);
}

TEST_F(SandboxCancelTest, TheBuildsSandboxHandsItsTokenToEveryCommand) {
  CancellableSandbox build_sandbox(&sandbox_, &token_);
  SandboxCommand c = Forever();
  std::thread canceller([this] {
    started_.WaitForNotificationWithTimeout(absl::Minutes(2));
    token_.Cancel();
  });
  absl::StatusOr<SandboxResult> r = build_sandbox.Run(c);  // c itself carries no token
  canceller.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, Outcome::kCancelled);
  EXPECT_THAT(ProcessesWith(marker_), ::testing::IsEmpty());
  // Once set, nothing more starts.
  absl::StatusOr<SandboxResult> next = build_sandbox.Run(Shell("echo should-not-run"));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->outcome, Outcome::kCancelled);
}

TEST_F(SandboxCancelTest, AnUnsetTokenChangesNothing) {
  SandboxCommand c = Shell("echo fine");
  c.cancel = &token_;
  SandboxResult r = RunOk(c);
  EXPECT_TRUE(r.ok()) << r.log_tail;
  EXPECT_EQ(lines_.back(), "fine");
}

}  // namespace
}  // namespace tempa
